import Synchronization

/// How the Cost Explorer poller is doing, for /readyz, /metrics and logs.
public final class CostExplorerHealth: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// The end of the last poll whose every page arrived (wall clock).
        public var lastCompleteMillis: Int64?
        /// Why the last poll did not complete; nil when it did.
        public var problem: String?
        /// The problem is the credentials (missing, malformed, expired, refused).
        public var credentialsFailing = false
        /// The UTC day whose request budget is spent.
        public var budgetSpentDay: Int64?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func completed(atMillis: Int64) {
        state.withLock { s in
            s.lastCompleteMillis = atMillis
            s.problem = nil
            s.credentialsFailing = false
        }
    }

    func failed(_ problem: String, credentials: Bool = false) {
        state.withLock { s in
            s.problem = problem
            s.credentialsFailing = credentials
        }
    }

    func budgetSpent(day: Int64) { state.withLock { $0.budgetSpentDay = day } }
}
