/// The AWS CLI's shared credentials and config files: INI as Python's configparser reads it
/// (botocore's reader), reduced to what credentials need. Sections `[name]`; `key = value` or
/// `key: value` (split at the first delimiter, key lowercased, both trimmed, no inline
/// comments); `#` and `;` comment lines; an indented line after a setting continues it (nested
/// config such as `s3 =` blocks) and is skipped. Like configparser's strict mode, a section or a
/// setting given twice is an error rather than a silent choice. Errors never quote the line.
struct AWSProfileFile: Sendable, Equatable {
    struct Section: Sendable, Equatable {
        var line: Int
        var values: [String: String] = [:]
    }

    /// Section names as written between the brackets, trimmed.
    var sections: [String: Section]

    static let knownNames: Set<String> = [
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token", "region", "output",
        "role_arn", "source_profile", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file",
    ]

    private static func sectionLine(_ section: Section?) -> Int { section?.line ?? 0 }

    /// Files are a few hundred bytes; anything this large is not a profile file.
    static let maxBytes = 1 << 20

    static func parse(_ bytes: [UInt8], path: String) throws(AWSCredentialError) -> AWSProfileFile {
        var sections: [String: Section] = [:]
        var current: String?
        var lastKey: String?
        var lineNumber = 0
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingASCIIWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if let first = line.first, first == " " || first == "\t", lastKey != nil { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count >= 2 else {
                    throw .malformed(path: path, line: lineNumber, message: "a section header must be `[name]` on one line")
                }
                let name = String(trimmed.dropFirst().dropLast().trimmingASCIIWhitespace())
                guard !name.isEmpty else { throw .malformed(path: path, line: lineNumber, message: "empty section name `[]`") }
                if let earlier = sections[name] {
                    throw .malformed(path: path, line: lineNumber, message: "a section of the same name starts at line \(earlier.line)")
                }
                sections[name] = Section(line: lineNumber)
                current = name
                lastKey = nil
                continue
            }
            guard let delimiter = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw .malformed(path: path, line: lineNumber, message: "expected `name = value` or `[section]`")
            }
            let key = trimmed[..<delimiter].trimmingASCIIWhitespace().lowercased()
            guard !key.isEmpty else { throw .malformed(path: path, line: lineNumber, message: "a setting without a name before `=`") }
            // A name is quoted only when it is one AWS defines: an unknown one may be a pasted secret.
            let shown = knownNames.contains(key) ? key : "a setting"
            guard let section = current else {
                throw .malformed(path: path, line: lineNumber, message: "\(shown) comes before any [section]")
            }
            if sections[section]?.values[key] != nil {
                throw .malformed(path: path, line: lineNumber, message: "\(shown) is set twice in one section (line \(sectionLine(sections[section])))")
            }
            sections[section]?.values[key] = String(trimmed[trimmed.index(after: delimiter)...].trimmingASCIIWhitespace())
            lastKey = key
        }
        return AWSProfileFile(sections: sections)
    }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
