import Metrics

/// Notifications as the daemon drives them: feeds each evaluation round to the dispatcher, flushes
/// what is due at once (a route with `group_wait: 0` queues within the round) and wakes the
/// delivery workers of the receivers that got something.
public struct Notifier: Sendable {
    public let dispatcher: Dispatcher
    public let delivery: NotificationDelivery

    public init(dispatcher: Dispatcher, delivery: NotificationDelivery) {
        self.dispatcher = dispatcher
        self.delivery = delivery
    }

    public func observe(active: [Alert], transitions: [AlertTransition], now: Int64) {
        dispatcher.observe(active: active, transitions: transitions, now: now)
        flush(now: now)
    }

    public func configure(_ config: NotificationConfig, now: Int64) {
        delivery.configure(receivers: config.receivers.values.sorted { $0.name < $1.name })
        dispatcher.configure(config, now: now)
    }

    public func flush(now: Int64) {
        let flush = dispatcher.flushDue(now: now)
        if !flush.queuedIDs.isEmpty { delivery.outbox.changed(flush.queuedIDs) }
        for (receiver, _) in flush.queued { delivery.wake(receiver: receiver) }
        if flush.silenced > 0 { Counter(label: "ingestd_notifications_muted_total", dimensions: [("reason", "silenced")]).increment(by: flush.silenced) }
        if flush.inhibited > 0 { Counter(label: "ingestd_notifications_muted_total", dimensions: [("reason", "inhibited")]).increment(by: flush.inhibited) }
    }
}
