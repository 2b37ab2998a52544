/// The `event` messages of one published event, built once per subscription id and shared by
/// every client that gets it: a fan-out to 1,000 clients that all call their subscription "s1"
/// formats the message once, not 1,000 times under the hub's lock.
struct StreamEventMessages {
    let event: StreamEvent
    private var texts: [String: String] = [:]

    init(_ event: StreamEvent) { self.event = event }

    mutating func text(for subscription: StreamSubscription) -> String {
        if let text = texts[subscription.id] { return text }
        let text = subscription.message(event)
        texts[subscription.id] = text
        return text
    }
}
