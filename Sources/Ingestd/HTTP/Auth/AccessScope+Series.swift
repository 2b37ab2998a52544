import Stream

extension AccessScope {
    /// The implicit matcher a scoped /v1/series query gets: `account="A"`, or for several
    /// accounts an anchored alternation of their escaped names. nil when unrestricted.
    func seriesMatcher() throws -> LabelMatcher? {
        guard let accounts else { return nil }
        let sorted = accounts.sorted()
        if sorted.count == 1 { return try LabelMatcher("account", .equal, sorted[0]) }
        return try LabelMatcher("account", .matches, sorted.map(Self.escape).joined(separator: "|"))
    }

    /// Every printable ASCII character other than a letter or digit escaped: an account name is matched literally.
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text.unicodeScalars {
            if (0x20..<0x7F).contains(ch.value), !(ch.properties.isAlphabetic || ("0"..."9").contains(ch)) { out.append("\\") }
            out.unicodeScalars.append(ch)
        }
        return out
    }
}
