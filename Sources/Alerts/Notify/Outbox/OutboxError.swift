/// An entry the outbox refuses to store: a bug in the caller (the dispatcher), never input.
public enum OutboxError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyReceiver
    /// The key goes into an HTTP header: it must be 1–200 printable ASCII characters.
    case invalidIdempotencyKey(String)

    public var description: String {
        switch self {
        case .emptyReceiver:
            "outbox entry without a receiver name: a bug in ingestd's dispatcher, please report it"
        case .invalidIdempotencyKey(let key):
            "idempotency key \(key.debugDescription.prefix(80)) is not 1-200 printable ASCII characters: "
                + "a bug in ingestd's dispatcher, please report it"
        }
    }
}
