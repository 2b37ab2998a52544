import Stream

/// A mute for alerts matching `matchers` between `startsAt` and `endsAt` (README: Silences).
/// Silenced alerts stay in `/v1/alerts` and history; only their notifications are held back,
/// and when the silence ends they are notified at the group's next interval.
public struct Silence: Sendable, Equatable {
    public enum State: String, Sendable, Codable, CaseIterable { case pending, active, expired }

    public var id: String
    /// The selector as written (`/v1/series` syntax), and parsed.
    public var matcherText: String
    public var matchers: AlertMatchers
    public var startsAt: Int64
    public var endsAt: Int64
    public var createdBy: String
    public var comment: String
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, matcherText: String, matchers: AlertMatchers, startsAt: Int64, endsAt: Int64,
                createdBy: String, comment: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.matcherText = matcherText
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdBy = createdBy
        self.comment = comment
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func state(at now: Int64) -> State {
        now < startsAt ? .pending : now < endsAt ? .active : .expired
    }

    public func mutes(_ labels: [String: String], at now: Int64) -> Bool {
        state(at: now) == .active && matchers.matches(labels)
    }
}
