/// The request body for `message` as a receiver of `kind` wants it: rendered at send time, so
/// an entry that moves to a fallback receiver of another kind is rendered anew for it.
enum NotificationBody {
    static func render(_ message: NotificationMessage, for kind: Receiver.Kind) throws -> [UInt8] {
        switch kind {
        case .webhook: try WebhookPayload(message).encoded()
        case .slack: try SlackPayload(message).encoded()
        }
    }
}
