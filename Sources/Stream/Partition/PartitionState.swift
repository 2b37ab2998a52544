/// State that another module keeps per input partition (alert state, detector baselines) and
/// that must be exactly as durable as the windows: the `PartitionEngine` saves it in the same
/// SQLite transaction as the partition's windows and offset, encoded under the partition's
/// shard lock, and restores, resets or drops it together with them.
///
/// Consistency contract: change the state only inside `PartitionEngine.update(_:_:)` (which
/// holds the shard lock), so every snapshot is one cut — windows, offset and this state all
/// describe the same messages.
public protocol PartitionState: AnyObject, Sendable {
    /// Stable name, the key of its rows in `partition_state` (e.g. "alerts").
    var name: String { get }
    /// The partition's state, or nil when it has none. Called with the shard lock held.
    func encode(partition: String) -> [UInt8]?
    /// Replaces the partition's state with a saved one. Throwing makes the engine rebuild the
    /// whole partition (windows included), never restore half a cut.
    func restore(partition: String, from bytes: [UInt8]) throws
    /// Forgets the partition (revoked, or rebuilt from the source).
    func reset(partition: String)
}
