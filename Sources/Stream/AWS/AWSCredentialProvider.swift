#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Resolves AWS credentials the way the AWS CLI and SDKs do for static keys: the environment,
/// then the shared credentials file, then the config file, for one profile. Each `resolve()`
/// stats both files and re-reads one only when its identity (device, inode, size, mtime)
/// changed: a stat per request is cheap, and a rotated key (rewritten in place or replaced by
/// rename) is used from the next request on without a restart. Role assumption, SSO and
/// credential_process are not supported; a profile that relies on them is reported as such.
/// Nothing here logs; no error carries a secret.
public final class AWSCredentialProvider: Sendable {
    private let environment: [String: String]
    private let profileOverride: String?
    /// Parsed files by path, with the identity they were parsed at.
    private let cache = Mutex<[String: CachedFile]>([:])

    private struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtimeSeconds: Int64
        var mtimeNanos: Int64
    }

    private struct CachedFile {
        var identity: FileIdentity
        var parsed: Result<AWSProfileFile, AWSCredentialError>
    }

    /// environment: the process environment (tests pass their own). profile: from the ingestd config, overrides AWS_PROFILE.
    public init(environment: [String: String], profile: String? = nil) {
        self.environment = environment
        profileOverride = profile.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The profile the files are searched for: the init parameter, else AWS_PROFILE, else "default".
    public var profileName: String { profileOverride ?? nonEmpty("AWS_PROFILE") ?? "default" }

    /// The shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials (nil without either).
    public var credentialsFilePath: String? { filePath(variable: "AWS_SHARED_CREDENTIALS_FILE", defaultName: "credentials") }

    /// The config file: AWS_CONFIG_FILE, else $HOME/.aws/config (nil without either).
    public var configFilePath: String? { filePath(variable: "AWS_CONFIG_FILE", defaultName: "config") }

    /// Current credentials. Environment first (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
    /// then the shared credentials file and the config file (`[profile NAME]`, `[default]`) for
    /// `profileName`. The credentials file wins over the config file for the same profile.
    public func resolve() throws(AWSCredentialError) -> AWSCredentials {
        let keyID = nonEmpty("AWS_ACCESS_KEY_ID")
        let secret = nonEmpty("AWS_SECRET_ACCESS_KEY")
        if let keyID, let secret {
            return AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: nonEmpty("AWS_SESSION_TOKEN"), origin: "environment")
        }
        if keyID != nil || secret != nil {
            throw .incomplete(profile: "environment", path: "environment", missing: keyID == nil ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY")
        }
        let profile = profileName
        var searched = ["environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY unset)"]
        let files: [(path: String?, variable: String, section: (AWSProfileFile) -> AWSProfileFile.Section?)] = [
            (credentialsFilePath, "AWS_SHARED_CREDENTIALS_FILE", { $0.sections[profile] }),
            (configFilePath, "AWS_CONFIG_FILE", { file in Self.configSection(file, profile: profile) }),
        ]
        for file in files {
            guard let path = file.path else {
                searched.append("\(file.variable) and HOME unset, so no \(file.variable == "AWS_CONFIG_FILE" ? "config" : "credentials") file")
                continue
            }
            guard let parsed = try load(path) else {
                searched.append("\(path) (no such file)")
                continue
            }
            let label = file.variable == "AWS_CONFIG_FILE" && profile != "default" ? "[profile \(profile)]" : "[\(profile)]"
            guard let section = file.section(parsed) else {
                searched.append("\(path) (no \(label) section)")
                continue
            }
            if let found = try Self.credentials(in: section, profile: profile, path: path) { return found }
            let unsupported = ["role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file"]
                .filter { section.values[$0] != nil }
            searched.append("\(path) (\(label) has no aws_access_key_id"
                + (unsupported.isEmpty ? ")" : "; it uses \(unsupported.joined(separator: ", ")), which ingestd does not support)"))
        }
        throw .notFound(searched: searched)
    }

    // MARK: - Profiles

    /// `[profile NAME]` (any spacing); `[default]` or `[profile default]` for the default profile.
    private static func configSection(_ file: AWSProfileFile, profile: String) -> AWSProfileFile.Section? {
        if profile == "default", let section = file.sections["default"] { return section }
        for (name, section) in file.sections {
            let words = name.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count == 2, words[0] == "profile", words[1] == profile { return section }
        }
        return nil
    }

    /// nil when the section has neither key (a profile for something else).
    private static func credentials(in section: AWSProfileFile.Section, profile: String,
                                    path: String) throws(AWSCredentialError) -> AWSCredentials? {
        func value(_ key: String) -> String? { section.values[key].flatMap { $0.isEmpty ? nil : $0 } }
        let keyID = value("aws_access_key_id")
        let secret = value("aws_secret_access_key")
        if keyID == nil && secret == nil { return nil }
        guard let keyID else { throw .incomplete(profile: profile, path: path, missing: "aws_access_key_id") }
        guard let secret else { throw .incomplete(profile: profile, path: path, missing: "aws_secret_access_key") }
        // aws_security_token: the older name botocore still reads.
        return AWSCredentials(accessKeyID: keyID, secretAccessKey: secret,
                              sessionToken: value("aws_session_token") ?? value("aws_security_token"),
                              origin: "profile \(profile) in \(path)")
    }

    // MARK: - Files

    private func nonEmpty(_ name: String) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    private func filePath(variable: String, defaultName: String) -> String? {
        let home = nonEmpty("HOME")
        if let path = nonEmpty(variable) {
            // botocore expands a leading ~ in these variables.
            if path == "~" { return home ?? path }
            if path.hasPrefix("~/"), let home { return home + path.dropFirst() }
            return path
        }
        guard let home else { return nil }
        return (home.hasSuffix("/") ? home : home + "/") + ".aws/" + defaultName
    }

    /// The parsed file, from the cache when its identity is unchanged; nil when it does not exist.
    private func load(_ path: String) throws(AWSCredentialError) -> AWSProfileFile? {
        var status = stat()
        if stat(path, &status) != 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                _ = cache.withLock { $0.removeValue(forKey: path) }
                return nil
            }
            throw .unreadable(path: path, reason: Self.reason(code))
        }
        if let cached = cache.withLock({ $0[path] }), cached.identity == Self.identity(status) {
            return try cached.parsed.get()
        }
        // Read through one descriptor and take the identity from it (fstat), so the bytes and
        // the identity they are cached under belong to the same file even during a rename.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: Self.reason(errno)) }
        defer { close(descriptor) }
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, reason: Self.reason(errno)) }
        guard (UInt32(status.st_mode) & 0o170000) == 0o100000 else { throw .unreadable(path: path, reason: "not a regular file") }
        guard Int64(status.st_size) <= Int64(AWSProfileFile.maxBytes) else {
            throw .unreadable(path: path, reason: "larger than \(AWSProfileFile.maxBytes) bytes, so not a profile file")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: Self.reason(errno))
            }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[..<got])
            // It may have grown since fstat.
            guard bytes.count <= AWSProfileFile.maxBytes else {
                throw .unreadable(path: path, reason: "larger than \(AWSProfileFile.maxBytes) bytes, so not a profile file")
            }
        }
        let parsed: Result<AWSProfileFile, AWSCredentialError>
        do throws(AWSCredentialError) {
            parsed = .success(try AWSProfileFile.parse(bytes, path: path))
        } catch {
            parsed = .failure(error)
        }
        let identity = Self.identity(status)
        cache.withLock { $0[path] = CachedFile(identity: identity, parsed: parsed) }
        return try parsed.get()
    }

    private static func identity(_ status: stat) -> FileIdentity {
        #if canImport(Darwin)
        let mtime = status.st_mtimespec
        #else
        let mtime = status.st_mtim
        #endif
        return FileIdentity(device: UInt64(truncatingIfNeeded: status.st_dev), inode: UInt64(truncatingIfNeeded: status.st_ino),
                            size: Int64(status.st_size), mtimeSeconds: Int64(mtime.tv_sec), mtimeNanos: Int64(mtime.tv_nsec))
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
