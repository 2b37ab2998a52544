import Foundation

/// An undelivered outbox row as a worker handles it.
struct PendingNotification: Sendable {
    var id: Int64
    var receiver: String
    var fallback: String?
    var idempotencyKey: String
    var messageJSON: String
    var attempts: Int
    var createdAt: Int64
    var nextAttemptAt: Int64?
    var lastError: String?

    /// When it goes to the dead letters: `createdAt + maxAge`, saturating.
    func deadline(maxAgeMillis: Int64) -> Int64 {
        let (sum, overflow) = createdAt.addingReportingOverflow(max(0, maxAgeMillis))
        return overflow ? .max : sum
    }

    func message() throws -> NotificationMessage {
        try Outbox.decoder().decode(NotificationMessage.self, from: Data(messageJSON.utf8))
    }
}
