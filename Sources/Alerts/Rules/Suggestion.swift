/// "Did you mean" for names in rule files and templates.
enum Suggestion {
    /// The candidate within two edits of `name`, if any.
    static func closest(to name: String, in candidates: [String]) -> String? {
        guard let best = candidates.min(by: { distance($0, name) < distance($1, name) }), distance(best, name) <= 2 else { return nil }
        return best
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return row[b.count]
    }
}
