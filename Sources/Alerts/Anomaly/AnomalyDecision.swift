/// What a detector concluded about one step of one series: the observation and the band it
/// was judged against — the "why" an anomaly alert carries.
public struct AnomalyDecision: Sendable, Equatable {
    public enum Reason: String, Sendable {
        /// One step far outside the band.
        case spike
        /// Many steps above the baseline, together material (CUSUM): level shifts and ramps.
        case shift
    }

    /// The start of the step judged, epoch ms.
    public var stepStart: Int64
    public var observed: Double
    public var expected: Double
    public var lower: Double
    public var upper: Double
    /// Excess over the expected value since the anomaly began (0 when there is none).
    public var impact: Double
    /// Why it is an anomaly; nil when it is not.
    public var reason: Reason?
    /// Still learning: no decision is trusted yet (no alert).
    public var warmingUp: Bool

    public var isAnomalous: Bool { reason != nil && !warmingUp }

    public init(stepStart: Int64, observed: Double, expected: Double, lower: Double, upper: Double, impact: Double,
                reason: Reason?, warmingUp: Bool) {
        self.stepStart = stepStart
        self.observed = observed
        self.expected = expected
        self.lower = lower
        self.upper = upper
        self.impact = impact
        self.reason = reason
        self.warmingUp = warmingUp
    }
}
