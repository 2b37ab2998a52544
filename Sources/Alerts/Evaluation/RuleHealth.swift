/// How a rule's evaluations go, for `/v1/rules` and metrics.
public struct RuleHealth: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case unknown, ok, err }
    public var status: Status = .unknown
    public var lastEvaluationMillis: Int64?
    public var lastDurationSeconds: Double?
    /// Why the last evaluation failed (e.g. the window reaches past what the rings hold).
    public var lastError: String?
    public init() {}
}
