import Synchronization

/// What /readyz answers: ready when no component reports a reason not to be.
/// Components (the restore, the Kafka consumer) set and clear their own reason.
final class Readiness: Sendable {
    private let blockers = Mutex<[String: String]>([:])

    func block(_ component: String, _ reason: String) { blockers.withLock { $0[component] = reason } }
    func clear(_ component: String) { blockers.withLock { _ = $0.removeValue(forKey: component) } }

    /// Component → why it is not ready; empty when ready.
    var reasons: [String: String] { blockers.withLock { $0 } }
    var isReady: Bool { blockers.withLock { $0.isEmpty } }
}
