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
    /// Rows to append in the save's transaction, captured with `encode` under the same shard
    /// lock (alert transitions since the partition's last save): they become durable exactly
    /// when the state they led to does, so a restore never repeats or loses one.
    func journal(partition: String) -> PartitionJournal?
    /// The save holding `journal` committed: drop what it made durable.
    func committed(partition: String, journal: PartitionJournal)
    /// Whether the partition's state changed since its last save even though its input did not
    /// (an alert resolved while no events came): sources save such a partition promptly.
    func hasUnsavedChanges(partition: String) -> Bool
}

extension PartitionState {
    public func hasUnsavedChanges(partition: String) -> Bool { false }
    public func journal(partition: String) -> PartitionJournal? { nil }
    public func committed(partition: String, journal: PartitionJournal) {}
}

/// Rows a `PartitionState` writes in a save's transaction.
public struct PartitionJournal: Sendable {
    /// Writes the rows; throwing aborts the whole save.
    public var write: @Sendable (borrowing SQLiteDatabase.Connection) throws -> Void
    /// Opaque to the engine (e.g. the last sequence number written), handed back in `committed`.
    public var through: Int64

    public init(through: Int64, write: @escaping @Sendable (borrowing SQLiteDatabase.Connection) throws -> Void) {
        self.through = through
        self.write = write
    }
}
