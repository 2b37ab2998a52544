/// A notification no receiver accepted within its max age.
public struct DeadLetter: Sendable, Equatable {
    public var outboxID: Int64
    public var receiver: String
    public var idempotencyKey: String
    public var message: NotificationMessage
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Int64
    public var deadAt: Int64
}
