/// Which alerts the inhibit rules mute, given the alerts firing now. Built once per flush:
/// for each rule, the firing sources by their `equal` label values, so each check is a lookup.
struct Inhibitor {
    private struct Index {
        let rule: InhibitRule
        /// `equal` label values → ids of firing source alerts with them.
        var sources: [[String]: Set<String>] = [:]
    }

    private let indexes: [Index]

    init(rules: [InhibitRule], firing: [(id: String, labels: [String: String])]) {
        indexes = rules.map { rule in
            var index = Index(rule: rule)
            for alert in firing where rule.source.matches(alert.labels) {
                index.sources[rule.equal.map { alert.labels[$0] ?? "" }, default: []].insert(alert.id)
            }
            return index
        }
    }

    /// Whether a firing source other than the alert itself mutes it.
    func inhibits(id: String, labels: [String: String]) -> Bool {
        for index in indexes where index.rule.target.matches(labels) {
            if let ids = index.sources[index.rule.equal.map { labels[$0] ?? "" }], ids.contains(where: { $0 != id }) { return true }
        }
        return false
    }
}
