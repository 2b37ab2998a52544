import Alerts
import Stream

/// One `subscribe` of a client: which kinds, which labels (the `/v1/series` selector syntax,
/// tried on the event's labels), within what the client's token may see.
struct StreamSubscription: Sendable {
    /// The client's name for it, echoed on every message it causes.
    var id: String
    var kinds: Set<StreamEvent.Kind>
    var matchers: AlertMatchers
    var scope: AccessScope
    /// `cost` ticks: a window query repeated every `everyMillis`.
    var cost: CostTicks?

    struct CostTicks: Sendable {
        var query: WindowQuery
        var windowText: String
        var everyMillis: Int64
    }

    func matches(_ e: StreamEvent) -> Bool {
        guard kinds.contains(e.kind) else { return false }
        if scope.isRestricted {
            // Rule reloads name files and rules of every account: not for a scoped token.
            if e.kind == .reload { return false }
            guard e.accounts.allSatisfy({ scope.allows(account: $0) }) else { return false }
        }
        return matchers.isEmpty || e.labels.contains { matchers.matches($0) }
    }

    /// The `event` message for this subscription.
    func message(_ e: StreamEvent) -> String {
        "{\"type\":\"event\",\"seq\":\(e.seq),\"subscription\":\"\(id)\",\"kind\":\"\(e.kind.rawValue)\",\"at\":\"\(UTCCalendar.iso8601WithMillis(millis: e.atMillis))\",\"data\":\(e.data)}"
    }
}
