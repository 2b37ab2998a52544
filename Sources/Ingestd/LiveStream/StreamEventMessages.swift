import NIOCore

/// The `event` messages of one published event, built once per subscription id and shared by
/// every client that gets it: a fan-out to 1,000 clients that all call their subscription "s1"
/// formats the message once, not 1,000 times under the hub's lock, and every socket writes the
/// same buffer.
struct StreamEventMessages {
    let event: StreamEvent
    private var messages: [String: ByteBuffer] = [:]

    init(_ event: StreamEvent) { self.event = event }

    mutating func message(for subscription: StreamSubscription) -> ByteBuffer {
        if let message = messages[subscription.id] { return message }
        let message = ByteBuffer(string: subscription.message(event))
        messages[subscription.id] = message
        return message
    }
}
