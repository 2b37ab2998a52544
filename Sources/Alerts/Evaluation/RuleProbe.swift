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
    /// anomaly: the step length when steps completed since the last round (their sums per
    /// bucket are read); nil: nothing new, no scan.
    let anomalyStepMillis: Int64?
    /// anomaly: a seed round (new detectors are created from all the steps read).
    let anomalySeed: Bool
    /// anomaly: the clock hour whose top contributors each group collects (the hour of the
    /// newest step read), or nil.
    let contributorHour: Int64?
    var needsScan: Bool {
        if case .anomaly = rule.kind { return anomalyStepMillis != nil }
        return true
    }
    /// The rule's groups, kept from round to round (see `RuleGroups`).
    let cache: RuleGroups
    var groups: [Group] { cache.groups }

    final class Group: @unchecked Sendable {
        let values: [String]
        /// anomaly: the alert labels and fingerprint of the group, made once.
        private var identity: (labels: [String: String], fingerprint: String)?
        /// The smallest shard key among the group's series this round: the partition that owns
        /// its alerts.
        var owner = ""
        /// Series seen this round (0: the group has no series now, e.g. its partition moved away).
        var series = 0
        var main = Window()
        var previous = Window()
        var noDataCount: UInt64 = 0
        /// The window's sum without its newest bucket (still filling): what late data is judged on.
        var closedSum = 0.0
        var rechecks: [Int64: Double] = [:]
        /// anomaly: the top contributors of `contributorHour`, merged over the group's series.
        var contributors: [String: Double] = [:]

        init(values: [String]) { self.values = values }

        func alertIdentity(rule: Rule, byNames: [String]) -> (labels: [String: String], fingerprint: String) {
            if let identity { return identity }
            var labels = rule.labels
            for (name, value) in zip(byNames, values) { labels[name] = value }
            labels["alertname"] = rule.name
            labels["severity"] = rule.severity
            let made = (labels, AlertFingerprint.of(labels))
            identity = made
            return made
        }

        func reset(buckets: Int?, previousBuckets: Int?) {
            series = 0
            main = Window(buckets: buckets.map { Array(repeating: 0, count: $0) })
            previous = Window(buckets: previousBuckets.map { Array(repeating: 0, count: $0) })
            noDataCount = 0
            closedSum = 0
            if !rechecks.isEmpty { rechecks = [:] }
            if !contributors.isEmpty { contributors = [:] }
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

    init(rule: Rule, ruleKey: String, configuration: StoreConfiguration, main: PlannedSpan, previous: PlannedSpan?,
         noData: PlannedSpan?, rechecks: [Int64: PlannedSpan], cache: RuleGroups?, anomalyStepMillis: Int64? = nil,
         anomalySeed: Bool = false) {
        self.rule = rule
        self.ruleKey = ruleKey
        let labelNames = configuration.labelNames
        self.matchers = configuration.selecting(rule.matchers).map { LabelMatcher.Compiled($0, labelNames: labelNames) }
        var by = rule.by.filter { labelNames.contains($0) }
        if !by.contains("currency") && labelNames.contains("currency") { by.append("currency") }
        self.byNames = by
        self.byIndex = by.map { labelNames.firstIndex(of: $0)! }
        self.main = main
        self.previous = previous
        self.noData = noData
        self.rechecks = rechecks
        self.anomalyStepMillis = anomalyStepMillis
        self.anomalySeed = anomalySeed
        self.contributorHour = anomalyStepMillis != nil ? main.endMillis - 1 : nil
        let isAnomaly = if case .anomaly = rule.kind { true } else { false }
        self.needsBuckets = rule.aggregation == .min || rule.aggregation == .max || isAnomaly
        let byIndex = self.byIndex
        let cache = cache.flatMap { $0.byIndex == byIndex ? $0 : nil } ?? RuleGroups(byIndex: byIndex)
        self.cache = cache
        for g in cache.groups { g.reset(buckets: needsBuckets ? main.buckets : nil, previousBuckets: needsBuckets ? previous?.buckets : nil) }
    }

    /// Whether every matcher but `except` (the one the index already checked) accepts the labels.
    @inline(__always)
    func matches(_ labels: [String], except: Int?) -> Bool {
        for (i, m) in matchers.enumerated() where i != except && !m.matches(labels) { return false }
        return true
    }

    /// Adds one series to its group.
    func add(_ series: borrowing ScannedSeries, labels: [String]) {
        let group = cache.group(of: series.index, shard: series.shard, labels: labels)
        // A group first seen in this scan has no bucket arrays yet.
        if needsBuckets && group.series == 0 && group.main.buckets == nil {
            group.reset(buckets: main.buckets, previousBuckets: previous?.buckets)
        }
        // `!=` first: equal keys are the same string, which compares without reading it.
        if group.series == 0 || (series.shard != group.owner && series.shard < group.owner) { group.owner = series.shard }
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
        if let hour = contributorHour {
            for c in series.contributors(hourStartMillis: hour) { group.contributors[c.name, default: 0] += c.cost }
        }
    }
}
