/// One notification for one receiver: a group's alerts at the moment the group was flushed.
/// It is what the outbox stores (as JSON) and what every integration renders from — the webhook
/// as Alertmanager's version 4 payload, Slack as Block Kit — so a notification that moves to a
/// fallback receiver of another kind is rendered anew for it.
public struct NotificationMessage: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case firing, resolved }

    public struct Alert: Sendable, Codable, Equatable {
        public var status: Status
        public var labels: [String: String]
        public var annotations: [String: String]
        /// When the alert started firing, epoch ms.
        public var startsAt: Int64
        /// When it resolved (nil while firing), epoch ms.
        public var endsAt: Int64?
        public var fingerprint: String
        /// The measure compared with the threshold, and the window's amount behind it.
        public var value: Double
        public var measure: Double
        /// Late or restated data changed the value since the alert fired (the rules issue's
        /// `amended`); counts the amendments, 0 for an alert as it fired.
        public var revision: Int

        public init(status: Status, labels: [String: String], annotations: [String: String], startsAt: Int64,
                    endsAt: Int64?, fingerprint: String, value: Double, measure: Double, revision: Int) {
            self.status = status
            self.labels = labels
            self.annotations = annotations
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.fingerprint = fingerprint
            self.value = value
            self.measure = measure
            self.revision = revision
        }
    }

    /// The receiver the route chose (a fallback delivery keeps the original name here and in
    /// the outbox row's `fallbackOf`).
    public var receiver: String
    /// `firing` while any alert in it fires.
    public var status: Status
    /// The route and group labels that identify the aggregation group, stable across restarts.
    public var groupKey: String
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    public var alerts: [Alert]
    /// Alerts left out because the receiver's `max_alerts` was reached.
    public var truncatedAlerts: Int
    /// The daemon's address for links back (`notifications.external_url`).
    public var externalURL: String

    public init(receiver: String, status: Status, groupKey: String, groupLabels: [String: String],
                commonLabels: [String: String], commonAnnotations: [String: String], alerts: [Alert],
                truncatedAlerts: Int, externalURL: String) {
        self.receiver = receiver
        self.status = status
        self.groupKey = groupKey
        self.groupLabels = groupLabels
        self.commonLabels = commonLabels
        self.commonAnnotations = commonAnnotations
        self.alerts = alerts
        self.truncatedAlerts = truncatedAlerts
        self.externalURL = externalURL
    }
}
