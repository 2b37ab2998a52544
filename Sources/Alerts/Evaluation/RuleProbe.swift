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
    /// `main` without the bucket still filling: what late data is judged on.
    let closed: PlannedSpan?
    /// The closed windows of earlier evaluations of this rule's firing alerts, by evaluation time.
    let rechecks: [Int64: PlannedSpan]
    let needsBuckets: Bool
    private(set) var groups: [GroupKey: Group] = [:]

    struct GroupKey: Hashable { var values: [String] }

    final class Group {
        let values: [String]
        /// The smallest shard key among the group's series: the partition that owns its alerts.
        var owner: String
        var series = 0
        var main = Window()
        var previous = Window()
        var noDataCount: UInt64 = 0
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
        self.closed = main.closed
        self.previous = previous
        self.noData = noData
        self.rechecks = rechecks
        self.needsBuckets = rule.aggregation == .min || rule.aggregation == .max
    }

    /// The equality matcher the round's index files this rule under (label index, value), or nil
    /// when it has none and must be tried against every series.
    var indexKey: (Int, String)? {
        for m in matchers where m.matcher.op == .equal {
            if let i = m.labelIndex { return (i, m.matcher.value) }
        }
        return nil
    }

    @inline(__always)
    func matches(_ labels: [String]) -> Bool {
        for m in matchers where !m.matches(labels) { return false }
        return true
    }

    /// Adds one series to its group.
    func add(_ series: borrowing ScannedSeries, labels: [String]) {
        let key = GroupKey(values: byIndex.map { labels[$0] })
        let group: Group
        if let g = groups[key] {
            group = g
            if series.shard < g.owner { g.owner = series.shard }
        } else {
            group = Group(values: key.values, owner: series.shard, buckets: needsBuckets ? main.buckets : nil,
                          previousBuckets: needsBuckets ? previous?.buckets : nil)
            groups[key] = group
        }
        group.series += 1
        let t = series.total(main)
        group.main.sum += t.sum
        group.main.count &+= t.count
        if needsBuckets { series.addBuckets(main, into: &group.main.buckets!) }
        if let previous {
            let p = series.total(previous)
            group.previous.sum += p.sum
            group.previous.count &+= p.count
            if needsBuckets { series.addBuckets(previous, into: &group.previous.buckets!) }
        }
        if let closed { group.closedSum += series.total(closed).sum }
        if let noData { group.noDataCount &+= series.total(noData).count }
        for (at, span) in rechecks { group.rechecks[at, default: 0] += series.total(span).sum }
    }
}
