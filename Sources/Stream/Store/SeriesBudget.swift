import Synchronization

/// The store-wide cardinality limit, shared by all shards. New series beyond it are refused
/// (never evicting existing ones: rules may depend on them).
///
/// `count` is exactly the number of series the store holds, even above the limit: restored
/// series are always counted (`admit`), so releasing a shard's series can never drive it negative.
final class SeriesBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var count: Int { used.load(ordering: .relaxed) }

    /// One new series, if the limit allows it.
    func take() -> Bool {
        let after = used.wrappingAdd(1, ordering: .relaxed).newValue
        if after > limit {
            used.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Counts series that exist already (a restore) whatever the limit.
    func admit(_ n: Int) { used.wrappingAdd(n, ordering: .relaxed) }

    func release(_ n: Int) { used.wrappingSubtract(n, ordering: .relaxed) }
}
