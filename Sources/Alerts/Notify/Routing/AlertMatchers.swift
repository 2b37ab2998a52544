import Stream

/// Label matchers over an alert's labels (routes, inhibition, silences), written in the
/// `/v1/series` selector syntax: `severity="critical"`, `account=~"1234.*"`. A missing label
/// reads as "", as in the store. Regexes are compiled once, when the config or silence is read.
public struct AlertMatchers: Sendable, Equatable, CustomStringConvertible {
    public let matchers: [LabelMatcher]
    private let regexes: [CompiledRegex?]

    public init(_ matchers: [LabelMatcher]) {
        self.matchers = matchers
        regexes = matchers.map { m in
            (m.op == .matches || m.op == .notMatches) ? (try? Regex(m.value)).map(CompiledRegex.init) : nil
        }
    }

    /// Parses one or more selectors (all must hold).
    public init(parsing selectors: [String]) throws(SeriesSelector.SyntaxError) {
        var all: [LabelMatcher] = []
        for text in selectors { all += try SeriesSelector.parse(text) }
        self.init(all)
    }

    public static let all = AlertMatchers([])

    public var isEmpty: Bool { matchers.isEmpty }

    public func matches(_ labels: [String: String]) -> Bool {
        for (i, m) in matchers.enumerated() {
            let v = labels[m.name] ?? ""
            let hit: Bool
            switch m.op {
            case .equal: hit = v == m.value
            case .notEqual: hit = v != m.value
            case .matches: hit = regexes[i]?.wholeMatches(v) ?? false
            case .notMatches: hit = !(regexes[i]?.wholeMatches(v) ?? false)
            }
            if !hit { return false }
        }
        return true
    }

    /// Whether these matchers select an alert with no labels at all: a silence that does would
    /// mute everything, which is refused.
    public var matchesEverything: Bool { matches([:]) }

    public var description: String { "{" + matchers.map(\.description).joined(separator: ",") + "}" }

    public static func == (a: AlertMatchers, b: AlertMatchers) -> Bool { a.matchers == b.matchers }
}

/// A compiled `Regex` is immutable once built and only read afterwards.
private struct CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    func wholeMatches(_ s: String) -> Bool { (try? regex.wholeMatch(in: s)).flatMap { $0 } != nil }
}
