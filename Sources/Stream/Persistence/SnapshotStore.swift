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

    public init(shard: String, topic: String? = nil, partition: Int32? = nil, nextOffset: Int64? = nil,
                takenAt: Int64, format: Int32, state: [UInt8]) {
        self.shard = shard
        self.topic = topic
        self.partition = partition
        self.nextOffset = nextOffset
        self.takenAt = takenAt
        self.format = format
        self.state = state
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

    private static let upsertSQL = """
        INSERT INTO shard_snapshot (shard, topic, "partition", next_offset, taken_at, format, state)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        ON CONFLICT (shard) DO UPDATE SET
            topic = excluded.topic, "partition" = excluded."partition", next_offset = excluded.next_offset,
            taken_at = excluded.taken_at, format = excluded.format, state = excluded.state
        """

    private static let selectSQL = """
        SELECT shard, topic, "partition", next_offset, taken_at, format, state FROM shard_snapshot
        """

    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Saves `snapshots` (replacing each shard's previous row), deletes the `deleting` shards
    /// (first, so a shard in both lists ends up saved) and deletes HTTP journal entries up to
    /// each `journalThrough[shard]` seq — all in ONE transaction.
    ///
    /// State blobs are bound without a private copy (SQLITE_STATIC via `Statement.withBlob`);
    /// no zeroblob/incremental blob I/O: one write of the row is already the minimum.
    /// - Throws: `SQLiteError`; then nothing at all changed.
    public func save(_ snapshots: [ShardSnapshot], deleting: [String] = [],
                     journalThrough: [String: Int64] = [:]) throws {
        try database.transaction { connection in
            try Self.delete(shards: deleting, on: connection)
            try connection.withStatement(Self.upsertSQL) { upsert in
                for snapshot in snapshots {
                    try upsert.bind(snapshot.shard, at: 1)
                    try upsert.bind(snapshot.topic, at: 2)
                    try upsert.bind(snapshot.partition, at: 3)
                    try upsert.bind(snapshot.nextOffset, at: 4)
                    try upsert.bind(snapshot.takenAt, at: 5)
                    try upsert.bind(snapshot.format, at: 6)
                    try upsert.withBlob(snapshot.state, boundAt: 7) { try upsert.step() }
                    upsert.reset()
                }
            }
            for (shard, seq) in journalThrough {
                try EventJournal.deleteEntries(shard: shard, through: seq, on: connection)
            }
        }
    }

    /// Every shard's snapshot, ordered by shard key (read in one statement, so one consistent view).
    public func loadAll() throws -> [ShardSnapshot] {
        try database.withConnection { connection in
            try connection.withStatement(Self.selectSQL + " ORDER BY shard") { query in
                var snapshots: [ShardSnapshot] = []
                while try query.step() { snapshots.append(Self.snapshot(from: query)) }
                return snapshots
            }
        }
    }

    public func load(shard: String) throws -> ShardSnapshot? {
        try database.withConnection { connection in
            try connection.withStatement(Self.selectSQL + " WHERE shard = ?1") { query in
                try query.bind(shard, at: 1)
                return try query.step() ? Self.snapshot(from: query) : nil
            }
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
        try connection.withStatement("DELETE FROM shard_snapshot WHERE shard = ?1") { delete in
            for shard in shards {
                try delete.bind(shard, at: 1)
                try delete.step()
                delete.reset()
            }
        }
    }

    private static func snapshot(from row: borrowing SQLiteDatabase.Statement) -> ShardSnapshot {
        ShardSnapshot(
            shard: row.string(at: 0), topic: row.optionalString(at: 1),
            partition: row.optionalInt64(at: 2).map { Int32(truncatingIfNeeded: $0) },
            nextOffset: row.optionalInt64(at: 3), takenAt: row.int64(at: 4),
            format: Int32(truncatingIfNeeded: row.int64(at: 5)), state: row.blob(at: 6))
    }
}
