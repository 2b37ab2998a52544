/// Write-ahead journal for events accepted over HTTP (`POST /v1/events`).
///
/// Kafka events can be re-read from the broker after a crash; HTTP events cannot, so each
/// accepted batch is appended here *before* the response says "accepted", and stays until a
/// snapshot that contains it is saved: `SnapshotStore.save(_:deleting:journalThrough:)` deletes
/// the covered entries in the snapshot's own transaction, so after any crash an entry is either
/// in the snapshot or still in the journal, never both and never neither.
///
/// Restore: load the shard's snapshot, then apply `entries(shard:after: 0)` — everything still
/// in the journal is newer than the snapshot.
public final class EventJournal: Sendable {
    public struct Entry: Sendable, Equatable {
        /// Position in the journal; increases with every append and is never reused.
        public var seq: Int64
        public var tsMillis: Int64
        public var cost: Double
        /// Encoded series labels, opaque here.
        public var labels: [UInt8]

        public init(seq: Int64, tsMillis: Int64, cost: Double, labels: [UInt8]) {
            self.seq = seq
            self.tsMillis = tsMillis
            self.cost = cost
            self.labels = labels
        }
    }

    /// DDL for the schema migration that creates the table (see `SQLiteDatabase.Migration`).
    /// AUTOINCREMENT (unlike a bare INTEGER PRIMARY KEY) never hands out a seq again once the
    /// rows up to it are truncated, so a "covered through seq N" mark can never match a newer entry.
    public static let schemaSQL = """
        CREATE TABLE http_journal (
            seq    INTEGER PRIMARY KEY AUTOINCREMENT,
            shard  TEXT    NOT NULL,
            ts_ms  INTEGER NOT NULL,
            cost   REAL    NOT NULL,
            labels BLOB    NOT NULL
        );
        CREATE INDEX http_journal_shard_seq ON http_journal (shard, seq);

        """

    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Appends `entries` in one transaction that is fsynced before this returns (this commit
    /// runs with `synchronous=FULL`): an HTTP client told "accepted" must not lose the events
    /// even to a power cut, which the database-wide `synchronous=NORMAL` would allow.
    /// `idempotency`, when given, is stored in the same transaction (see `IdempotencyKeys`),
    /// even when `entries` is empty (a batch whose every event was rejected has an answer too).
    /// - Returns: the seq of the last entry appended, or 0 when `entries` is empty.
    /// - Throws: `SQLiteError`; then nothing was appended and the request must be failed.
    @discardableResult
    public func append(shard: String, entries: [(tsMillis: Int64, cost: Double, labels: [UInt8])],
                       idempotency: IdempotencyKeys.Record? = nil) throws -> Int64 {
        guard !entries.isEmpty || idempotency != nil else { return 0 }
        return try database.withConnection { connection in
            // synchronous cannot change inside a transaction, so switch around it.
            try connection.execute("PRAGMA synchronous = FULL")
            defer { try? connection.execute("PRAGMA synchronous = NORMAL") }
            return try connection.transaction { connection in
                var last: Int64 = 0
                if !entries.isEmpty {
                    try connection.withStatement(
                        "INSERT INTO http_journal (shard, ts_ms, cost, labels) VALUES (?1, ?2, ?3, ?4)"
                    ) { insert in
                        for entry in entries {
                            try insert.bind(shard, at: 1)
                            try insert.bind(entry.tsMillis, at: 2)
                            try insert.bind(entry.cost, at: 3)
                            try insert.bind(blob: entry.labels, at: 4)
                            try insert.step()
                            insert.reset()
                        }
                    }
                    last = connection.lastInsertRowID
                }
                if let idempotency { try IdempotencyKeys.insert(idempotency, on: connection) }
                return last
            }
        }
    }

    /// The shard's entries with a seq greater than `seq`, oldest first.
    public func entries(shard: String, after seq: Int64) throws -> [Entry] {
        try database.withConnection { connection in
            try connection.withStatement(
                "SELECT seq, ts_ms, cost, labels FROM http_journal WHERE shard = ?1 AND seq > ?2 ORDER BY seq"
            ) { query in
                try query.bind(shard, at: 1)
                try query.bind(seq, at: 2)
                var entries: [Entry] = []
                while try query.step() {
                    entries.append(Entry(seq: query.int64(at: 0), tsMillis: query.int64(at: 1),
                                         cost: query.double(at: 2), labels: query.blob(at: 3)))
                }
                return entries
            }
        }
    }

    /// Deletes the shard's entries with seq ≤ `seq`. To drop entries because a snapshot now
    /// covers them, use `SnapshotStore.save(_:deleting:journalThrough:)` instead, which does it
    /// atomically with the snapshot.
    public func truncate(shard: String, through seq: Int64) throws {
        try database.withConnection { connection in
            try Self.deleteEntries(shard: shard, through: seq, on: connection)
        }
    }

    /// The DELETE shared with `SnapshotStore.save`, run on a connection the caller holds
    /// (inside its transaction there).
    static func deleteEntries(shard: String, through seq: Int64, on connection: borrowing SQLiteDatabase.Connection) throws {
        try connection.withStatement("DELETE FROM http_journal WHERE shard = ?1 AND seq <= ?2") { delete in
            try delete.bind(shard, at: 1)
            try delete.bind(seq, at: 2)
            try delete.step()
        }
    }
}
