import Metrics

/// One receiver's delivery metrics (labels carry only the receiver's name, never its URL).
struct DeliveryMetrics: Sendable {
    let sent: Counter
    let failed: Counter
    let dead: Counter
    let queued: Gauge

    init(receiver: String) {
        let dimensions = [("receiver", receiver)]
        sent = Counter(label: "ingestd_notifications_sent_total", dimensions: dimensions)
        failed = Counter(label: "ingestd_notifications_failed_total", dimensions: dimensions)
        dead = Counter(label: "ingestd_notifications_dead_total", dimensions: dimensions)
        queued = Gauge(label: "ingestd_notifications_queued", dimensions: dimensions)
    }
}
