import Logging
import Synchronization

/// The life cycle of input partitions, shared by every source (Kafka, HTTP, replay):
/// restore → apply → advance → snapshot → revoke / rebuild.
///
/// A partition's durable state is its shard of the window store (windows + the position it
/// covers) plus whatever other modules registered (`PartitionState`: alert state, detector
/// baselines). `save` captures each partition under its shard lock — windows, position and
/// every registered state from one cut — and writes all of them in ONE SQLite transaction, so
/// after kill -9 a restore finds every piece describing the same messages. Rows a state hands
/// over for the same transaction (`PartitionJournal`: alert transitions) are captured in the same
/// cut and written in it too. `restore` installs
/// all of them or none (a piece that fails to load makes the whole partition rebuild).
public final class PartitionEngine: Sendable {
    public let store: WindowStore
    public let snapshots: SnapshotStore
    /// How a snapshot taken under another store layout is read (see `LayoutConversion`).
    public let conversion: LayoutConversion
    private let registered = Mutex<[any PartitionState]>([])
    private let logger: Logger

    public init(store: WindowStore, snapshots: SnapshotStore, conversion: LayoutConversion = LayoutConversion(), logger: Logger) {
        self.store = store
        self.snapshots = snapshots
        self.conversion = conversion
        self.logger = logger
    }

    /// Adds per-partition state to every later save, restore, reset and release.
    public func register(_ state: any PartitionState) {
        registered.withLock { $0.append(state) }
    }

    private var states: [any PartitionState] { registered.withLock { $0 } }

    public enum RestoreResult: Sendable {
        /// Restored; resume the source after `position`.
        case restored(SavedPosition, layout: LayoutConversion.Report?)
        /// Not restored (the partition is empty now): rebuild it from the source.
        case rebuild(reason: String)
        /// The snapshot is of another store layout that cannot be converted without loss; the
        /// partition is empty now. A replayable source rebuilds; a journaled one must not.
        case incompatible(reason: String)
    }

    /// Restores a partition from its snapshot. `check` sees the saved position and returns why
    /// it cannot be used (another log, older than the source keeps), or nil.
    public func restore(_ key: String, check: (SavedPosition) -> String? = { _ in nil }) -> RestoreResult {
        let snapshot: ShardSnapshot?
        do { snapshot = try snapshots.load(shard: key) } catch {
            reset(key)
            return .rebuild(reason: "cannot read its snapshot: \(error)")
        }
        guard let snapshot else {
            reset(key)
            return .rebuild(reason: "no local snapshot")
        }
        if let why = check(snapshot.position) {
            reset(key)
            return .rebuild(reason: why)
        }
        let report: LayoutConversion.Report?
        do {
            report = try store.installShard(from: snapshot.state, key: key, conversion: conversion).layout
        } catch {
            reset(key)
            if case .incompatible = error { return .incompatible(reason: error.description) }
            return .rebuild(reason: error.description)
        }
        let shard = store.shard(key)
        shard.write { writer in writer.restorePosition(lastMessage: snapshot.lastMessage) }
        for state in states {
            do {
                if let bytes = snapshot.registered[state.name] {
                    try shard.write { _ in try state.restore(partition: key, from: bytes) }
                } else {
                    state.reset(partition: key)
                }
            } catch {
                reset(key)
                return .rebuild(reason: "its \(state.name) state cannot be restored: \(error)")
            }
        }
        return .restored(snapshot.position, layout: report)
    }

    /// Empties a partition (windows and registered state), to rebuild it from its source.
    public func reset(_ key: String) {
        store.resetShard(key)
        for state in states { state.reset(partition: key) }
    }

    /// Forgets partitions this instance no longer owns (after saving them).
    public func release(_ keys: [String]) {
        for key in keys {
            store.removeShard(key)
            for state in states { state.reset(partition: key) }
        }
    }

    /// Whether a registered state of the partition changed since its last save (see
    /// `PartitionState.hasUnsavedChanges`): save it even if its input did not move.
    public func hasUnsavedChanges(_ key: String) -> Bool {
        states.contains { $0.hasUnsavedChanges(partition: key) }
    }

    /// Runs `body` under the partition's shard lock: the place where registered state changes,
    /// so that it is always saved consistent with the windows.
    public func update<R>(_ key: String, _ body: (borrowing ShardWriter) throws -> R) rethrows -> R {
        try store.shard(key).write(body)
    }

    /// `update` for a partition this instance still holds; nil (and nothing runs) when it was
    /// released or never existed — state must not follow a partition that moved away.
    public func updateExisting<R>(_ key: String, _ body: (borrowing ShardWriter) throws -> R) rethrows -> R? {
        guard let shard = store.existingShard(key) else { return nil }
        return try shard.write(body)
    }

    /// What a save wrote, per partition: the position each row covers.
    public typealias Saved = [String: SavedPosition]

    /// Saves the partitions in one transaction: each one's windows, position and registered
    /// state, captured together under its shard lock. `journaled` partitions (HTTP) also drop
    /// the journal entries their snapshot now covers, in the same transaction.
    /// - Throws: `SQLiteError`; then nothing changed on disk.
    @discardableResult
    public func save(_ keys: [String], clusterID: String? = nil, journaled: Set<String> = [], nowMillis: Int64) throws -> Saved {
        let states = self.states
        var rows: [ShardSnapshot] = []
        var journalThrough: [String: Int64] = [:]
        var journals: [(state: any PartitionState, partition: String, journal: PartitionJournal)] = []
        var saved: Saved = [:]
        for key in keys {
            guard let shard = store.existingShard(key) else { continue }
            let kafka = PartitionKey.kafkaPartition(of: key)
            var row = shard.withState { s in
                var registered: [String: [UInt8]] = [:]
                for state in states {
                    registered[state.name] = state.encode(partition: key)
                    if let journal = state.journal(partition: key) { journals.append((state, key, journal)) }
                }
                return ShardSnapshot(shard: key, topic: kafka?.topic, partition: kafka?.partition, nextOffset: s.nextOffset,
                                     takenAt: nowMillis, format: ShardCodec.formatVersion, state: ShardCodec.encode(s),
                                     lastMessage: s.lastMessage, registered: registered)
            }
            if kafka != nil { row.clusterID = clusterID }
            if journaled.contains(key), let next = row.nextOffset { journalThrough[key] = next - 1 }
            saved[key] = row.position
            rows.append(row)
        }
        guard !rows.isEmpty else { return [:] }
        try snapshots.save(rows, journalThrough: journalThrough, journals: journals.map(\.journal))
        for (state, partition, journal) in journals { state.committed(partition: partition, journal: journal) }
        logger.debug("snapshot saved", metadata: ["partitions": "\(rows.count)", "bytes": "\(rows.reduce(0) { $0 + $1.state.count })"])
        return saved
    }
}
