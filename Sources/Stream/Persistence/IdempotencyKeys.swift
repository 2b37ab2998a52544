/// Answers already given to `POST /v1/events` requests that carried an `Idempotency-Key`, so
/// that a client retrying after a lost response gets the first answer instead of counting the
/// batch twice.
///
/// A record is written by `EventJournal.append(shard:entries:idempotency:)` in the same
/// transaction as the batch's journal entries: after any crash either both the events and the
/// key are durable (a retry is answered from here) or neither is (a retry is a first attempt).
/// Lookups and that append happen under the HTTP shard's lock, so two concurrent requests with
/// one key cannot both apply. Records expire after `retentionMillis`; `prune` deletes them.
public final class IdempotencyKeys: Sendable {
    public struct Record: Sendable, Equatable {
        public var key: String
        /// A digest of what the request asked for (body and format): a key reused for another
        /// batch is refused rather than answered with the first batch's result.
        public var requestHash: [UInt8]
        public var status: Int
        /// The response body exactly as first sent.
        public var response: [UInt8]
        public var createdMillis: Int64

        public init(key: String, requestHash: [UInt8], status: Int, response: [UInt8], createdMillis: Int64) {
            self.key = key
            self.requestHash = requestHash
            self.status = status
            self.response = response
            self.createdMillis = createdMillis
        }
    }

    /// A key is honoured for 24 hours after its first use.
    public static let retentionMillis: Int64 = 24 * 3600 * 1000

    /// DDL for the schema migration that creates the table (see `StreamSchema`).
    public static let schemaSQL = """
        CREATE TABLE http_idempotency_keys (
            key          TEXT    PRIMARY KEY,
            request_hash BLOB    NOT NULL,
            status       INTEGER NOT NULL,
            response     BLOB    NOT NULL,
            created_ms   INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX http_idempotency_keys_created ON http_idempotency_keys (created_ms);

        """

    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// The record for `key` if it was stored less than `retentionMillis` before `nowMillis`.
    public func find(_ key: String, nowMillis: Int64) throws -> Record? {
        try database.withConnection { connection in
            try connection.withStatement(
                "SELECT request_hash, status, response, created_ms FROM http_idempotency_keys WHERE key = ?1 AND created_ms > ?2"
            ) { query in
                try query.bind(key, at: 1)
                try query.bind(nowMillis &- Self.retentionMillis, at: 2)
                guard try query.step() else { return nil }
                return Record(key: key, requestHash: query.blob(at: 0), status: Int(query.int64(at: 1)),
                              response: query.blob(at: 2), createdMillis: query.int64(at: 3))
            }
        }
    }

    /// Deletes records older than `retentionMillis`; returns how many.
    @discardableResult
    public func prune(nowMillis: Int64) throws -> Int {
        try database.withConnection { connection in
            try connection.withStatement("DELETE FROM http_idempotency_keys WHERE created_ms <= ?1") { delete in
                try delete.bind(nowMillis &- Self.retentionMillis, at: 1)
                try delete.step()
            }
            return connection.changes
        }
    }

    /// The INSERT shared with `EventJournal.append`, run inside its transaction. REPLACE: an
    /// expired record for the same key (not yet pruned) is superseded.
    static func insert(_ record: Record, on connection: borrowing SQLiteDatabase.Connection) throws {
        try connection.withStatement(
            "INSERT OR REPLACE INTO http_idempotency_keys (key, request_hash, status, response, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
        ) { insert in
            try insert.bind(record.key, at: 1)
            try insert.bind(blob: record.requestHash, at: 2)
            try insert.bind(Int64(record.status), at: 3)
            try insert.bind(blob: record.response, at: 4)
            try insert.bind(record.createdMillis, at: 5)
            try insert.step()
        }
    }
}
