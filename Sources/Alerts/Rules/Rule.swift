import Stream

/// One alerting rule, as loaded from a rule file (README: Rules).
///
/// Every kind reduces each group of series (`by:`) to one number per evaluation — its
/// *measure* — and compares it with `threshold`: spend in the window (threshold), the change in
/// percent against the same window `offset` earlier (change), or the percent of a budget used
/// month-to-date or forecast to the month's end (budget).
public struct Rule: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The aggregate over the window, in the series' currency.
        case threshold
        /// The change in percent against the same window `offsetSeconds` earlier; a group whose
        /// absolute change is below `minChange` never matches (tiny series do not page anyone).
        case change(offsetSeconds: Int64, minChange: Double)
        /// Percent of `amount` used month-to-date (`actual`) or projected to the month's end
        /// (`forecast`); each basis is its own alert, labelled `basis`.
        case budget(amount: Double, bases: [BudgetBasis])
        /// A streaming detector per group, one point per step (`AnomalyDetector`); the measure
        /// is the impact so far, compared with the minimum amount.
        case anomaly(AnomalySettings)
    }

    public enum BudgetBasis: String, Sendable, CaseIterable { case actual, forecast }

    public enum Comparison: String, Sendable {
        /// Matches while measure > threshold; resolves at or below `resolveThreshold` (default threshold).
        case above
        /// Matches while measure < threshold; resolves at or above `resolveThreshold` (default threshold).
        case below
    }

    /// The `alert:` name, unique within its group; the `alertname` label of its alerts.
    public var name: String
    public var kind: Kind
    public var matchers: [LabelMatcher]
    /// The selector as written (`{service="AmazonEC2"}`), for the API.
    public var matchText: String
    /// Group by these store labels ([]: one group). Groups are always split by currency too.
    public var by: [String]
    /// The window each measure covers (threshold, change); budget rules read month-to-date.
    public var windowSeconds: Int64
    public var aggregation: WindowQuery.Aggregation
    public var comparison: Comparison
    public var threshold: Double
    /// Hysteresis: a firing alert resolves only past this value (`resolve_below:` with `above:`,
    /// `resolve_above:` with `below:`). nil: the threshold itself.
    public var resolveThreshold: Double?
    public var forSeconds: Int64
    public var keepFiringForSeconds: Int64
    /// A group that had data and has none for this long fires a no-data alert of this rule
    /// (labelled `no_data="true"`) instead of silently resolving.
    public var noDataSeconds: Int64?
    public var severity: String
    public var labels: [String: String]
    public var annotations: [String: AnnotationTemplate]
    /// Where the rule is written (`rules/spend.yaml:12:7`), for messages.
    public var origin: String

    public init(name: String, kind: Kind = .threshold, matchers: [LabelMatcher] = [], matchText: String = "{}",
                by: [String] = [], windowSeconds: Int64 = 3600, aggregation: WindowQuery.Aggregation = .sum,
                comparison: Comparison = .above, threshold: Double, resolveThreshold: Double? = nil,
                forSeconds: Int64 = 0, keepFiringForSeconds: Int64 = 0, noDataSeconds: Int64? = nil,
                severity: String = "warning", labels: [String: String] = [:],
                annotations: [String: AnnotationTemplate] = [:], origin: String = "") {
        self.name = name
        self.kind = kind
        self.matchers = matchers
        self.matchText = matchText
        self.by = by
        self.windowSeconds = windowSeconds
        self.aggregation = aggregation
        self.comparison = comparison
        self.threshold = threshold
        self.resolveThreshold = resolveThreshold
        self.forSeconds = forSeconds
        self.keepFiringForSeconds = keepFiringForSeconds
        self.noDataSeconds = noDataSeconds
        self.severity = severity
        self.labels = labels
        self.annotations = annotations
        self.origin = origin
    }

    /// Whether `measure` starts (or keeps, before firing) the alert.
    public func matches(_ measure: Double) -> Bool {
        comparison == .above ? measure > threshold : measure < threshold
    }

    /// Whether a firing alert whose measure is now `measure` stays firing (hysteresis).
    public func holds(_ measure: Double) -> Bool {
        let line = resolveThreshold ?? threshold
        return comparison == .above ? measure > line : measure < line
    }
}

/// Rules evaluated together at one interval; the unit of a rule file.
public struct RuleGroup: Sendable {
    public var name: String
    public var intervalSeconds: Int64
    public var rules: [Rule]
    /// The file it came from.
    public var file: String

    public init(name: String, intervalSeconds: Int64, rules: [Rule], file: String = "") {
        self.name = name
        self.intervalSeconds = intervalSeconds
        self.rules = rules
        self.file = file
    }
}
