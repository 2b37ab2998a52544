/// The alerts one route node gathers under one set of group labels, notified together: first
/// `group_wait` after the group appears, then every `group_interval` (when something changed,
/// or `repeat_interval` passed — the notification log decides).
struct AggregationGroup {
    let route: Route
    /// `route id:{group labels}`, stable across restarts.
    let key: String
    let labels: [String: String]
    var ids: Set<String> = []
    var nextFlush: Int64

    init(route: Route, labels: [String: String], now: Int64) {
        self.route = route
        self.labels = labels
        key = "\(route.id):{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
        nextFlush = now + route.groupWaitMillis
    }
}
