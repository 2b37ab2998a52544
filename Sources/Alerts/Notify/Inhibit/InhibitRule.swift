/// `inhibit_rules:` entry: while an alert matching `source` fires, alerts matching `target`
/// that agree with it on every `equal` label are muted (a firing critical mutes its warnings).
public struct InhibitRule: Sendable, Equatable {
    public var source: AlertMatchers
    public var target: AlertMatchers
    public var equal: [String]

    public init(source: AlertMatchers, target: AlertMatchers, equal: [String]) {
        self.source = source
        self.target = target
        self.equal = equal
    }
}
