/// A node of the routing tree (Alertmanager's `route`): alerts are matched depth first; a node
/// takes an alert when its matchers hold and none of its children took it, and `continue: true`
/// on a child lets its later siblings be tried too. Settings not given are inherited from the
/// parent; the root matches every alert.
public struct Route: Sendable, Equatable {
    public enum Grouping: Sendable, Equatable {
        /// One group per distinct value of these labels (`group_by: [alertname, account]`).
        case labels([String])
        /// `group_by: ['...']`: every alert on its own.
        case everyAlert
    }

    /// The node's position in the tree (`0`, `0.1`, `0.1.0`): part of each group key, so a group
    /// keeps its identity (and its notification log) across restarts while the tree's shape stays.
    public var id: String
    public var receiver: String
    public var matchers: AlertMatchers
    public var continueMatching: Bool
    public var grouping: Grouping
    public var groupWaitMillis: Int64
    public var groupIntervalMillis: Int64
    public var repeatIntervalMillis: Int64
    /// Where this route's notifications go once they dead-letter at `receiver`.
    public var fallback: String?
    public var routes: [Route]

    public init(id: String = "0", receiver: String, matchers: AlertMatchers = .all, continueMatching: Bool = false,
                grouping: Grouping = .labels(["alertname"]), groupWaitMillis: Int64 = 30_000,
                groupIntervalMillis: Int64 = 300_000, repeatIntervalMillis: Int64 = 4 * 3_600_000,
                fallback: String? = nil, routes: [Route] = []) {
        self.id = id
        self.receiver = receiver
        self.matchers = matchers
        self.continueMatching = continueMatching
        self.grouping = grouping
        self.groupWaitMillis = groupWaitMillis
        self.groupIntervalMillis = groupIntervalMillis
        self.repeatIntervalMillis = repeatIntervalMillis
        self.fallback = fallback
        self.routes = routes
    }

    /// The nodes that take an alert with these labels, in tree order.
    public func match(_ labels: [String: String]) -> [Route] {
        guard matchers.matches(labels) else { return [] }
        var taken: [Route] = []
        for child in routes {
            let hits = child.match(labels)
            taken += hits
            if !hits.isEmpty && !child.continueMatching { break }
        }
        return taken.isEmpty ? [self] : taken
    }

    /// The labels that name an alert's group at this node.
    public func groupLabels(_ labels: [String: String]) -> [String: String] {
        switch grouping {
        case .everyAlert: return labels
        case .labels(let names):
            var out: [String: String] = [:]
            for name in names { if let v = labels[name] { out[name] = v } }
            return out
        }
    }

    /// Every receiver the tree names (routes and fallbacks).
    public var receiverNames: Set<String> {
        var names: Set<String> = [receiver]
        if let fallback { names.insert(fallback) }
        for child in routes { names.formUnion(child.receiverNames) }
        return names
    }
}
