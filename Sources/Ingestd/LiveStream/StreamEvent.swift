/// Something a `/v1/stream` client may subscribe to. Durable kinds get a sequence number from the
/// stream log, so a client that reconnects with `since` misses nothing and sees nothing twice.
struct StreamEvent: Sendable {
    enum Kind: String, Sendable, CaseIterable, Codable {
        /// An alert transition (pending, firing, amended, resolved).
        case alert
        /// A notification receipt: queued, retrying, delivered, dead.
        case notification
        /// A rule reload, successful or not.
        case reload
    }

    var seq: Int64 = 0
    var kind: Kind
    var atMillis: Int64
    /// Label sets a subscription's `match` is tried on (an alert has one; a notification one per
    /// alert in it, and matches when any does); empty for a reload.
    var labels: [[String: String]]
    /// The `data` member of the message, already JSON.
    var data: String

    /// The accounts behind it: a scoped client sees it only when it may see all of them.
    var accounts: Set<String?> { Set(labels.map { $0["account"] }) }
}
