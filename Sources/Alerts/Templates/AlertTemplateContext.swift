/// What an annotation template can use (README: Templates). Built per alert at each evaluation,
/// and once per template at load from `synthetic(for:)`, so a template that cannot render is a
/// validation error, never a lost notification.
public struct AlertTemplateContext: Sendable {
    public var alertname: String
    public var severity: String
    /// The alert's labels: its group's labels (incl. `currency`) and the rule's `labels:`.
    public var labels: [String: String]
    /// The amount behind the alert, in the group's currency: the window's aggregate
    /// (threshold, change) or month-to-date / the month's forecast (budget).
    public var value: Double
    /// What is compared with the threshold: `value` (threshold), the change in percent (change),
    /// percent of the budget (budget).
    public var measure: Double
    public var threshold: Double
    /// change: the same window `offset` earlier, and the absolute change.
    public var previous: Double?
    public var change: Double?
    /// budget: the amount and which basis (`actual` / `forecast`).
    public var budget: Double?
    public var basis: String?
    /// anomaly: the band the observed step (`value`) was judged against, the impact so far
    /// (`measure`) and why (`spike` or `shift`).
    public var expected: Double?
    public var lower: Double?
    public var upper: Double?
    public var reason: String?
    /// anomaly: the top resource ids of the judged hour by cost (`i-0abc $412.10, …`).
    public var contributors: String?
    /// The window as written (`1h`), or `month-to-date`.
    public var window: String
    /// True for the alert a `no_data:` condition raises.
    public var noData: Bool

    public init(alertname: String, severity: String, labels: [String: String], value: Double, measure: Double,
                threshold: Double, previous: Double? = nil, change: Double? = nil, budget: Double? = nil,
                basis: String? = nil, window: String, noData: Bool = false) {
        self.alertname = alertname
        self.severity = severity
        self.labels = labels
        self.value = value
        self.measure = measure
        self.threshold = threshold
        self.previous = previous
        self.change = change
        self.budget = budget
        self.basis = basis
        self.window = window
        self.noData = noData
    }

    public var currency: String { labels["currency"] ?? "USD" }
}
