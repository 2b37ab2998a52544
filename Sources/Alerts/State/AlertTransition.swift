/// A change in an alert's life: what history keeps, backtest prints and notifications send.
public struct AlertTransition: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable, CaseIterable {
        case pending, firing, resolved
        /// Late or restated data changed the value behind a firing alert: same alert, new value.
        case amended
    }

    /// Ascending per process; history assigns the durable sequence number.
    public var at: Int64
    public var state: State
    public var rule: String
    public var fingerprint: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var value: Double
    public var measure: Double
    public var activeAt: Int64
    public var firedAt: Int64?
    /// The input partition whose snapshot makes this transition durable.
    public var owner: String

    public init(at: Int64, state: State, rule: String, fingerprint: String, labels: [String: String],
                annotations: [String: String], value: Double, measure: Double, activeAt: Int64, firedAt: Int64?, owner: String) {
        self.at = at
        self.state = state
        self.rule = rule
        self.fingerprint = fingerprint
        self.labels = labels
        self.annotations = annotations
        self.value = value
        self.measure = measure
        self.activeAt = activeAt
        self.firedAt = firedAt
        self.owner = owner
    }
}
