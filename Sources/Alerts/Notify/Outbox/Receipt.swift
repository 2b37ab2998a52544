/// What `GET /v1/notifications` shows of one outbox row: where a notification is on its way to
/// its receiver. Times are epoch milliseconds; JSON field names are camelCase, like the rest of
/// the HTTP API.
public struct Receipt: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Stored, not tried yet (or its receiver is busy with older ones).
        case queued
        /// At least one attempt failed; the next one is due at `nextAttemptAt`.
        case retrying
        /// The receiver answered 2xx.
        case delivered
        /// Not accepted within the receiver's max age: copied to the dead letters (and queued
        /// for the route's fallback receiver, if it has one).
        case dead
    }

    public var id: Int64
    public var receiver: String
    /// For an entry queued because another receiver's entry dead-lettered: that receiver.
    public var fallbackOf: String?
    public var groupKey: String
    public var idempotencyKey: String
    public var status: NotificationMessage.Status
    public var alerts: Int
    public var state: State
    /// Attempts made so far (failed ones plus the one that delivered).
    public var attempts: Int
    public var createdAt: Int64
    /// When the next attempt is due (retrying only).
    public var nextAttemptAt: Int64?
    /// The last failed attempt's status and answer (first 200 bytes) or transport error.
    public var lastError: String?
    public var deliveredAt: Int64?
    public var deadAt: Int64?
}
