/// A named destination for notifications (README: Notifications lists the keys and defaults).
public struct Receiver: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Alertmanager's webhook payload, version "4".
        case webhook
        /// A Slack incoming webhook, Block Kit.
        case slack
    }

    public var name: String
    public var kind: Kind
    public var url: Secret
    /// Key of the `X-Ingestd-Signature` HMAC; without one the header is left out.
    public var signingSecret: Secret?
    /// Whole-request limit (connect + send + answer).
    public var timeoutMillis: Int64 = 10_000
    /// A notification not accepted this long after it was queued goes to the dead letters (and
    /// to the route's fallback receiver, if it has one).
    public var maxAgeMillis: Int64 = 3_600_000
    /// Retry delays: doubling from `initialBackoffMillis` up to `maxBackoffMillis`, with jitter.
    public var initialBackoffMillis: Int64 = 1_000
    public var maxBackoffMillis: Int64 = 300_000
    /// Send a notification when the alerts of a group resolve.
    public var sendResolved = true
    /// At most this many alerts in one notification (the rest are counted in `truncatedAlerts`);
    /// 0 is no limit.
    public var maxAlerts = 0

    public init(name: String, kind: Kind, url: Secret) {
        self.name = name
        self.kind = kind
        self.url = url
    }
}
