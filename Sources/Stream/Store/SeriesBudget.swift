import Synchronization

/// The store-wide cardinality limit, shared by all shards. New series beyond it are refused
/// (never evicting existing ones: rules may depend on them).
final class SeriesBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var count: Int { used.load(ordering: .relaxed) }

    func take() -> Bool {
        let after = used.wrappingAdd(1, ordering: .relaxed).newValue
        if after > limit {
            used.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ n: Int) { used.wrappingSubtract(n, ordering: .relaxed) }
}
