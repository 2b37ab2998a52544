import Stream

/// What one rule needs from the store in one round: its spans, planned once, and its groups,
/// filled by the round's single scan.
final class RuleProbe {
    let rule: Rule
    let ruleKey: String
    let matchers: [LabelMatcher.Compiled]
    /// Store label indexes of the group key: the rule's `by:` plus currency.
    let byIndex: [Int]
    let byNames: [String]
    let main: PlannedSpan
    /// change: the same window `offset` earlier.
    let previous: PlannedSpan?
    /// no_data: the silence window.
    let noData: PlannedSpan?
    /// The closed windows of earlier evaluations of this rule's firing alerts, by evaluation time.
    let rechecks: [Int64: PlannedSpan]
    let needsBuckets: Bool
    /// Groups by a hash of their label values (collisions compared in full), so that a series
    /// joining an existing group allocates nothing.
    private var groupsByHash: [Int: [Group]] = [:]
    private(set) var groups: [Group] = []

    final class Group {
        let values: [String]
        /// The smallest shard key among the group's series: the partition that owns its alerts.
        var owner: String
        var series = 0
        var main = Window()
        var previous = Window()
        var noDataCount: UInt64 = 0
        /// The window's sum without its newest bucket (still filling): what late data is judged on.
        var closedSum = 0.0
        var rechecks: [Int64: Double] = [:]

        init(values: [String], owner: String, buckets: Int?, previousBuckets: Int?) {
            self.values = values
            self.owner = owner
            main.buckets = buckets.map { Array(repeating: 0, count: $0) }
            previous.buckets = previousBuckets.map { Array(repeating: 0, count: $0) }
        }
    }

    struct Window {
        var sum = 0.0
        var count: UInt64 = 0
        var buckets: [Double]?

        func value(_ aggregation: WindowQuery.Aggregation, buckets n: Int) -> Double {
            switch aggregation {
            case .sum: sum
            case .count: Double(count)
            case .avg: sum / Double(n)
            case .min: buckets?.min() ?? 0
            case .max: buckets?.max() ?? 0
            }
        }
    }

    init(rule: Rule, ruleKey: String, labelNames: [String], main: PlannedSpan, previous: PlannedSpan?,
         noData: PlannedSpan?, rechecks: [Int64: PlannedSpan]) {
        self.rule = rule
        self.ruleKey = ruleKey
        self.matchers = rule.matchers.map { LabelMatcher.Compiled($0, labelNames: labelNames) }
        var by = rule.by.filter { labelNames.contains($0) }
        if !by.contains("currency") && labelNames.contains("currency") { by.append("currency") }
        self.byNames = by
        self.byIndex = by.map { labelNames.firstIndex(of: $0)! }
        self.main = main
        self.previous = previous
        self.noData = noData
        self.rechecks = rechecks
        self.needsBuckets = rule.aggregation == .min || rule.aggregation == .max
    }

    /// Whether every matcher but `except` (the one the index already checked) accepts the labels.
    @inline(__always)
    func matches(_ labels: [String], except: Int?) -> Bool {
        for (i, m) in matchers.enumerated() where i != except && !m.matches(labels) { return false }
        return true
    }

    /// Adds one series to its group.
    func add(_ series: borrowing ScannedSeries, labels: [String]) {
        var hasher = Hasher()
        for i in byIndex { hasher.combine(labels[i]) }
        let hash = hasher.finalize()
        var found: Group?
        if let candidates = groupsByHash[hash] {
            for g in candidates where byIndex.indices.allSatisfy({ g.values[$0] == labels[byIndex[$0]] }) {
                found = g
                break
            }
        }
        let group: Group
        if let found {
            group = found
            if series.shard < found.owner { found.owner = series.shard }
        } else {
            group = Group(values: byIndex.map { labels[$0] }, owner: series.shard, buckets: needsBuckets ? main.buckets : nil,
                          previousBuckets: needsBuckets ? previous?.buckets : nil)
            groupsByHash[hash, default: []].append(group)
            groups.append(group)
        }
        group.series += 1
        let t = series.totalAndNewest(main)
        group.main.sum += t.sum
        group.main.count &+= t.count
        group.closedSum += t.sum - t.newest
        if needsBuckets { series.addBuckets(main, into: &group.main.buckets!) }
        if let previous {
            let p = series.total(previous)
            group.previous.sum += p.sum
            group.previous.count &+= p.count
            if needsBuckets { series.addBuckets(previous, into: &group.previous.buckets!) }
        }
        if let noData { group.noDataCount &+= series.total(noData).count }
        for (at, span) in rechecks { group.rechecks[at, default: 0] += series.total(span).sum }
    }
}
