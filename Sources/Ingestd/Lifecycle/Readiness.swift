import Synchronization

/// What /readyz answers: ready when no component reports a reason not to be.
/// Components (the restore, the Kafka consumer, the Cost Explorer poller) set and clear their own
/// reason. Most mean the windows are partial (a rebalance, a restore, a catch-up): rule
/// evaluation pauses and series answers say `partial`. A Cost Explorer poll that did not
/// complete does not: its series are only stale (they hold what the last poll brought), and one
/// failing source must not stop the alerts of the others.
final class Readiness: Sendable {
    private struct Blocker {
        var reason: String
        var partial: Bool
    }

    private let blockers = Mutex<[String: Blocker]>([:])

    func block(_ component: String, _ reason: String, partial: Bool = true) {
        blockers.withLock { $0[component] = Blocker(reason: reason, partial: partial) }
    }

    func clear(_ component: String) { blockers.withLock { _ = $0.removeValue(forKey: component) } }

    /// Component → why it is not ready; empty when ready.
    var reasons: [String: String] { blockers.withLock { $0.mapValues(\.reason) } }
    /// The reasons that make the windows partial.
    var partialReasons: [String: String] { blockers.withLock { $0.filter(\.value.partial).mapValues(\.reason) } }
    var isReady: Bool { blockers.withLock { $0.isEmpty } }
}
