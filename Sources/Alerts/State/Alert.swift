/// One active alert: a rule's group of series whose measure crossed the threshold.
/// Codable because it is saved with its partition's snapshot (`AlertTable`).
public struct Alert: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case pending, firing }

    /// `group/alertname`: the rule the alert belongs to.
    public var rule: String
    public var fingerprint: String
    /// The alert's identity: group labels, rule labels, `alertname`, `severity` (and `basis`,
    /// `no_data` where they apply).
    public var labels: [String: String]
    public var state: State
    /// When the condition first held (the start of pending), epoch ms.
    public var activeAt: Int64
    /// When it started firing.
    public var firedAt: Int64?
    /// The last evaluation at which a firing alert's condition held (`keep_firing_for`).
    public var lastHeldAt: Int64
    public var value: Double
    public var measure: Double
    public var annotations: [String: String]
    /// The input partition that owns the alert: its state is saved with that partition's windows.
    public var owner: String
    /// The evaluation time and the window sum behind the last evaluation: a later change of that
    /// same window is late or restated data, which amends a firing alert.
    public var checkedAt: Int64
    public var checkedSum: Double

    public init(rule: String, fingerprint: String, labels: [String: String], state: State, activeAt: Int64, firedAt: Int64?,
                lastHeldAt: Int64, value: Double, measure: Double, annotations: [String: String], owner: String,
                checkedAt: Int64, checkedSum: Double) {
        self.rule = rule
        self.fingerprint = fingerprint
        self.labels = labels
        self.state = state
        self.activeAt = activeAt
        self.firedAt = firedAt
        self.lastHeldAt = lastHeldAt
        self.value = value
        self.measure = measure
        self.annotations = annotations
        self.owner = owner
        self.checkedAt = checkedAt
        self.checkedSum = checkedSum
    }

    public var key: AlertKey { AlertKey(rule: rule, fingerprint: fingerprint) }
}

public struct AlertKey: Sendable, Hashable, Codable {
    public var rule: String
    public var fingerprint: String
}
