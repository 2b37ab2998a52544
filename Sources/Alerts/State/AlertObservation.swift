/// What one evaluation saw for one alert's group of series.
public struct AlertObservation: Sendable {
    public var labels: [String: String]
    public var fingerprint: String
    /// The amount behind the alert and the number compared with the threshold (see `Rule`).
    public var value: Double
    public var measure: Double
    /// The rule's condition to start (and stay pending) and to stay firing (hysteresis).
    public var matches: Bool
    public var holds: Bool
    /// The raw sum over the evaluated window's closed buckets (all but the one still filling),
    /// kept for the next evaluation's late-data check.
    public var windowSum: Double
    /// The sum now over the window the alert was last evaluated on (`Alert.checkedAt`), when
    /// the evaluator could read it: differing from `Alert.checkedSum` means late or restated data.
    public var recheckedSum: Double?
    /// The partition holding the group's series (the first by key): the owner of a new alert.
    public var owner: String
    public var template: AlertTemplateContext
}
