/// What an `anomaly` rule asks of its detector (README: Anomaly rules).
public struct AnomalySettings: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        /// The combined detector (`AnomalyDetector`): seasonal median/MAD baseline, EWMA residual
        /// variance, CUSUM for shifts and ramps.
        case seasonal
        /// A plain rolling z-score over the last day of steps: a baseline to compare against.
        case zscore
    }

    public enum Sensitivity: String, Sendable, CaseIterable {
        case low, medium, high

        /// Band half-width in robust standard deviations.
        var bandSigmas: Double { switch self { case .low: 5; case .medium: 4; case .high: 3 } }
        /// CUSUM decision interval, in standard deviations accumulated beyond the drift.
        var cusumLimit: Double { switch self { case .low: 12; case .medium: 8; case .high: 5 } }
    }

    /// The step the detector sees: one point per step, the group's sum over it.
    public var stepSeconds: Int64
    public var method: Method
    public var sensitivity: Sensitivity
    /// Both must be reached by the excess since the anomaly began before an alert fires.
    public var minImpactAmount: Double
    public var minImpactPercent: Double

    public init(stepSeconds: Int64 = 3600, method: Method = .seasonal, sensitivity: Sensitivity = .medium,
                minImpactAmount: Double, minImpactPercent: Double) {
        self.stepSeconds = stepSeconds
        self.method = method
        self.sensitivity = sensitivity
        self.minImpactAmount = minImpactAmount
        self.minImpactPercent = minImpactPercent
    }

    /// Whether an excess of `impact` over an expected `expected` (both summed over the same
    /// steps) is material.
    func isMaterial(impact: Double, expected: Double) -> Bool {
        impact >= minImpactAmount && impact >= minImpactPercent / 100 * max(expected, 0)
    }
}
