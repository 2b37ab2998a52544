/// The saved state of one shard of the window store: one Kafka partition (`kafka/cost-events/3`)
/// or the HTTP input (`http`). `state` is the store's own opaque encoding, versioned by `format`.
public struct ShardSnapshot: Sendable, Equatable {
    public var shard: String
    public var topic: String?
    public var partition: Int32?
    /// The first Kafka offset *not* contained in `state`: where to resume consuming.
    public var nextOffset: Int64?
    /// Unix milliseconds when the state was captured.
    public var takenAt: Int64
    public var format: Int32
    public var state: [UInt8]
    /// Which log `nextOffset` belongs to (Kafka: the cluster id), when known.
    public var clusterID: String?
    /// The last message `state` contains, to recognise its log on restore.
    public var lastMessage: MessageFingerprint?
    /// State registered by other modules (`PartitionState`), by name, from the same cut.
    public var registered: [String: [UInt8]]

    public init(shard: String, topic: String? = nil, partition: Int32? = nil, nextOffset: Int64? = nil,
                takenAt: Int64, format: Int32, state: [UInt8], clusterID: String? = nil,
                lastMessage: MessageFingerprint? = nil, registered: [String: [UInt8]] = [:]) {
        self.shard = shard
        self.topic = topic
        self.partition = partition
        self.nextOffset = nextOffset
        self.takenAt = takenAt
        self.format = format
        self.state = state
        self.clusterID = clusterID
        self.lastMessage = lastMessage
        self.registered = registered
    }

    public var position: SavedPosition {
        SavedPosition(nextOffset: nextOffset, clusterID: clusterID, lastMessage: lastMessage)
    }
}

/// Snapshots of the window store, one row per shard, in `shard_snapshot` (PRODUCT.md §2).
///
/// Every `save` is one transaction covering all its shards, their deletions and the HTTP
/// journal truncation: after kill -9 the file holds either the previous set of snapshots or
/// the new one, each row's state matching its own `next_offset`, never a mix.
public final class SnapshotStore: Sendable {
    /// DDL for the schema migration that creates the table (see `SQLiteDatabase.Migration`).
    public static let schemaSQL = """
        CREATE TABLE shard_snapshot (
            shard       TEXT    PRIMARY KEY,
            topic       TEXT,
            "partition" INTEGER,
            next_offset INTEGER,
            taken_at    INTEGER NOT NULL,
            format      INTEGER NOT NULL,
            state       BLOB    NOT NULL
        );

        """

    /// Migration 2: which log a snapshot's offset belongs to.
    public static let logIdentitySQL = """
        ALTER TABLE shard_snapshot ADD COLUMN cluster_id TEXT;
        ALTER TABLE shard_snapshot ADD COLUMN last_offset INTEGER;
        ALTER TABLE shard_snapshot ADD COLUMN last_timestamp INTEGER;
        ALTER TABLE shard_snapshot ADD COLUMN last_bytes INTEGER;

        """

    /// Migration 2: state other modules register per partition, saved with the shard's row.
    public static let partitionStateSQL = """
        CREATE TABLE partition_state (
            shard TEXT NOT NULL,
            name  TEXT NOT NULL,
            state BLOB NOT NULL,
            PRIMARY KEY (shard, name)
        );

        """

    private static let upsertSQL = """
        INSERT INTO shard_snapshot (shard, topic, "partition", next_offset, taken_at, format, state,
                                    cluster_id, last_offset, last_timestamp, last_bytes)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (shard) DO UPDATE SET
            topic = excluded.topic, "partition" = excluded."partition", next_offset = excluded.next_offset,
            taken_at = excluded.taken_at, format = excluded.format, state = excluded.state,
            cluster_id = excluded.cluster_id, last_offset = excluded.last_offset,
            last_timestamp = excluded.last_timestamp, last_bytes = excluded.last_bytes
        """

    private static let selectSQL = """
        SELECT shard, topic, "partition", next_offset, taken_at, format, state,
               cluster_id, last_offset, last_timestamp, last_bytes FROM shard_snapshot
        """

    private let database: SQLiteDatabase
    /// Tests only: called before each statement of `save` with a label; throwing there aborts
    /// the transaction at that step (fault injection for the engine's consistent-cut tests).
    let faultPoint: (@Sendable (String) throws -> Void)?

    public init(database: SQLiteDatabase) {
        self.database = database
        self.faultPoint = nil
    }

    init(database: SQLiteDatabase, faultPoint: @escaping @Sendable (String) throws -> Void) {
        self.database = database
        self.faultPoint = faultPoint
    }

    /// Saves `snapshots` (replacing each shard's previous row), deletes the `deleting` shards
    /// (first, so a shard in both lists ends up saved) and deletes HTTP journal entries up to
    /// each `journalThrough[shard]` seq — all in ONE transaction.
    ///
    /// State blobs are bound without a private copy (SQLITE_STATIC via `Statement.withBlob`);
    /// no zeroblob/incremental blob I/O: one write of the row is already the minimum.
    /// - Throws: `SQLiteError`; then nothing at all changed.
    public func save(_ snapshots: [ShardSnapshot], deleting: [String] = [],
                     journalThrough: [String: Int64] = [:], journals: [PartitionJournal] = []) throws {
        let fault = faultPoint
        try database.transaction { connection in
            try fault?("delete")
            try Self.delete(shards: deleting, on: connection)
            try connection.withStatement(Self.upsertSQL) { upsert in
                for snapshot in snapshots {
                    try fault?("windows \(snapshot.shard)")
                    try upsert.bind(snapshot.shard, at: 1)
                    try upsert.bind(snapshot.topic, at: 2)
                    try upsert.bind(snapshot.partition, at: 3)
                    try upsert.bind(snapshot.nextOffset, at: 4)
                    try upsert.bind(snapshot.takenAt, at: 5)
                    try upsert.bind(snapshot.format, at: 6)
                    try upsert.bind(snapshot.clusterID, at: 8)
                    try upsert.bind(snapshot.lastMessage?.offset, at: 9)
                    try upsert.bind(snapshot.lastMessage?.timestampMillis, at: 10)
                    try upsert.bind(snapshot.lastMessage?.bytes, at: 11)
                    try upsert.withBlob(snapshot.state, boundAt: 7) { try upsert.step() }
                    upsert.reset()
                }
            }
            // Registered state replaces the shard's previous set as a whole: a module whose
            // state became empty must not leave an older row behind.
            for snapshot in snapshots {
                try fault?("clear registered \(snapshot.shard)")
                try connection.withStatement("DELETE FROM partition_state WHERE shard = ?1") { delete in
                    try delete.bind(snapshot.shard, at: 1)
                    try delete.step()
                }
                guard !snapshot.registered.isEmpty else { continue }
                try connection.withStatement("INSERT INTO partition_state (shard, name, state) VALUES (?1, ?2, ?3)") { insert in
                    for (name, state) in snapshot.registered.sorted(by: { $0.key < $1.key }) {
                        try fault?("registered \(snapshot.shard)/\(name)")
                        try insert.bind(snapshot.shard, at: 1)
                        try insert.bind(name, at: 2)
                        try insert.withBlob(state, boundAt: 3) { try insert.step() }
                        insert.reset()
                    }
                }
            }
            for journal in journals {
                try fault?("partition journal")
                try journal.write(connection)
            }
            for (shard, seq) in journalThrough {
                try fault?("journal \(shard)")
                try EventJournal.deleteEntries(shard: shard, through: seq, on: connection)
            }
            try fault?("commit")
        }
    }

    /// Every shard's snapshot, ordered by shard key (read in one statement, so one consistent view).
    public func loadAll() throws -> [ShardSnapshot] {
        try database.withConnection { connection in
            var snapshots = try connection.withStatement(Self.selectSQL + " ORDER BY shard") { query in
                var snapshots: [ShardSnapshot] = []
                while try query.step() { snapshots.append(Self.snapshot(from: query)) }
                return snapshots
            }
            for i in snapshots.indices { snapshots[i].registered = try Self.registered(shard: snapshots[i].shard, on: connection) }
            return snapshots
        }
    }

    public func load(shard: String) throws -> ShardSnapshot? {
        try database.withConnection { connection in
            var snapshot = try connection.withStatement(Self.selectSQL + " WHERE shard = ?1") { query in
                try query.bind(shard, at: 1)
                return try query.step() ? Self.snapshot(from: query) : nil
            }
            snapshot?.registered = try Self.registered(shard: shard, on: connection)
            return snapshot
        }
    }

    /// Deletes the snapshots of `shards` in one transaction (e.g. partitions this instance no
    /// longer owns and will not get back).
    public func delete(shards: [String]) throws {
        guard !shards.isEmpty else { return }
        try database.transaction { connection in try Self.delete(shards: shards, on: connection) }
    }

    private static func delete(shards: [String], on connection: borrowing SQLiteDatabase.Connection) throws {
        guard !shards.isEmpty else { return }
        for table in ["shard_snapshot", "partition_state"] {
            try connection.withStatement("DELETE FROM \(table) WHERE shard = ?1") { delete in
                for shard in shards {
                    try delete.bind(shard, at: 1)
                    try delete.step()
                    delete.reset()
                }
            }
        }
    }

    private static func registered(shard: String, on connection: borrowing SQLiteDatabase.Connection) throws -> [String: [UInt8]] {
        try connection.withStatement("SELECT name, state FROM partition_state WHERE shard = ?1") { query in
            try query.bind(shard, at: 1)
            var out: [String: [UInt8]] = [:]
            while try query.step() { out[query.string(at: 0)] = query.blob(at: 1) }
            return out
        }
    }

    private static func snapshot(from row: borrowing SQLiteDatabase.Statement) -> ShardSnapshot {
        ShardSnapshot(
            shard: row.string(at: 0), topic: row.optionalString(at: 1),
            partition: row.optionalInt64(at: 2).map { Int32(truncatingIfNeeded: $0) },
            nextOffset: row.optionalInt64(at: 3), takenAt: row.int64(at: 4),
            format: Int32(truncatingIfNeeded: row.int64(at: 5)), state: row.blob(at: 6),
            clusterID: row.optionalString(at: 7),
            lastMessage: row.optionalInt64(at: 8).map {
                MessageFingerprint(offset: $0, timestampMillis: row.optionalInt64(at: 9) ?? -1, bytes: row.optionalInt64(at: 10) ?? -1)
            })
    }
}
