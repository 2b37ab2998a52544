import Foundation
import Synchronization
import Stream

/// The durable queue between the dispatcher and the receivers, in DATA_DIR/notifications.db.
/// A notification is stored (`insert`, inside the dispatcher's own transaction) before anything
/// is sent, and marked delivered only when its receiver answered 2xx; so after kill -9 nothing
/// queued is lost, and a retry carries the same idempotency key as the attempt before.
///
/// Rows stay as receipts: delivered ones for 24 hours, dead ones for 7 days; the dead-letter
/// table keeps a copy of each dead notification (with its message) for 30 days.
public final class Outbox: Sendable {
    public static let module = SQLiteDatabase.SchemaModule(name: "outbox", migrations: [
        .init(version: 1, name: "outbox and dead letters", sql: """
            CREATE TABLE outbox (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                receiver        TEXT    NOT NULL,
                fallback        TEXT,
                fallback_of     TEXT,
                idempotency_key TEXT    NOT NULL UNIQUE,
                group_key       TEXT    NOT NULL,
                status          TEXT    NOT NULL,
                alerts          INTEGER NOT NULL,
                message         TEXT    NOT NULL,
                state           TEXT    NOT NULL,
                attempts        INTEGER NOT NULL DEFAULT 0,
                created_at      INTEGER NOT NULL,
                next_attempt_at INTEGER,
                last_error      TEXT,
                delivered_at    INTEGER,
                dead_at         INTEGER
            );
            CREATE INDEX outbox_pending ON outbox (receiver, id) WHERE state IN ('queued', 'retrying');
            CREATE INDEX outbox_receiver ON outbox (receiver, id);
            CREATE INDEX outbox_state ON outbox (state, id);
            CREATE TABLE outbox_dead_letter (
                outbox_id       INTEGER PRIMARY KEY,
                receiver        TEXT    NOT NULL,
                idempotency_key TEXT    NOT NULL,
                message         TEXT    NOT NULL,
                attempts        INTEGER NOT NULL,
                last_error      TEXT,
                created_at      INTEGER NOT NULL,
                dead_at         INTEGER NOT NULL
            );
            CREATE INDEX outbox_dead_letter_at ON outbox_dead_letter (dead_at);
            """),
    ])

    /// What the dispatcher queues.
    public struct Entry: Sendable {
        public var receiver: String
        /// The route's fallback receiver, used once this entry dead-letters.
        public var fallback: String?
        /// Chosen by the dispatcher, stable for the entry's life; sent as `Idempotency-Key`.
        public var idempotencyKey: String
        public var createdAtMillis: Int64
        public var message: NotificationMessage

        public init(receiver: String, fallback: String?, idempotencyKey: String, createdAtMillis: Int64,
                    message: NotificationMessage) {
            self.receiver = receiver
            self.fallback = fallback
            self.idempotencyKey = idempotencyKey
            self.createdAtMillis = createdAtMillis
            self.message = message
        }
    }

    static let deliveredRetentionMillis: Int64 = 86_400_000
    static let deadRetentionMillis: Int64 = 7 * 86_400_000
    static let deadLetterRetentionMillis: Int64 = 30 * 86_400_000

    let database: SQLiteDatabase

    /// Told the id of every row whose state changed (queued, retrying, delivered, dead), after
    /// the change committed: the live stream publishes receipts from it. Must return at once.
    private let observers = Mutex<[@Sendable (Int64) -> Void]>([])

    public init(database: SQLiteDatabase) { self.database = database }

    public func observeChanges(_ observer: @escaping @Sendable (Int64) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Reports rows changed outside the outbox's own methods (the dispatcher's inserts).
    public func changed(_ ids: [Int64]) {
        let all = observers.withLock { $0 }
        for id in ids { for observer in all { observer(id) } }
    }

    /// The receipts of these rows with their notifications (for the stream's filters and scope).
    public func receipts(ids: [Int64]) throws -> [(Receipt, NotificationMessage)] {
        try database.withConnection { connection in
            try connection.withStatement("""
                SELECT \(Self.receiptColumns), message FROM outbox WHERE id = ?1
                """) { query in
                var out: [(Receipt, NotificationMessage)] = []
                for id in ids {
                    try query.bind(id, at: 1)
                    if try query.step(), let message = try? Self.decoder().decode(NotificationMessage.self, from: Data(query.string(at: 14).utf8)) {
                        out.append((Self.receipt(query), message))
                    }
                    query.reset()
                }
                return out
            }
        }
    }

    // MARK: - Queueing

    /// Queues `entry` inside a transaction the caller opened: the dispatcher writes its
    /// notification log in the same transaction, so "queued" and "remembered as sent" can never
    /// disagree after kill -9. Inserting a key that is already stored changes nothing and
    /// returns the stored row's id (a replayed commit queues nothing twice).
    /// Wake the receiver (`NotificationDelivery.wake`) after the commit.
    @discardableResult
    public static func insert(_ entry: Entry, on connection: borrowing SQLiteDatabase.Connection) throws -> Int64 {
        try insert(entry, fallbackOf: nil, on: connection)
    }

    static func insert(_ entry: Entry, fallbackOf: String?, on connection: borrowing SQLiteDatabase.Connection) throws -> Int64 {
        guard !entry.receiver.isEmpty else { throw OutboxError.emptyReceiver }
        let key = entry.idempotencyKey
        guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw OutboxError.invalidIdempotencyKey(key)
        }
        let message = String(decoding: try encoder().encode(entry.message), as: UTF8.self)
        let inserted = try connection.withStatement("""
            INSERT INTO outbox (receiver, fallback, fallback_of, idempotency_key, group_key, status, alerts, message, state, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', ?9)
            ON CONFLICT (idempotency_key) DO NOTHING
            """) { insert in
            try insert.bind(entry.receiver, at: 1)
            try insert.bind(entry.fallback, at: 2)
            try insert.bind(fallbackOf, at: 3)
            try insert.bind(key, at: 4)
            try insert.bind(entry.message.groupKey, at: 5)
            try insert.bind(entry.message.status.rawValue, at: 6)
            try insert.bind(entry.message.alerts.count, at: 7)
            try insert.bind(message, at: 8)
            try insert.bind(entry.createdAtMillis, at: 9)
            try insert.step()
            return connection.changes == 1
        }
        if inserted { return connection.lastInsertRowID }
        return try connection.withStatement("SELECT id FROM outbox WHERE idempotency_key = ?1") { query in
            try query.bind(key, at: 1)
            _ = try query.step()
            return query.int64(at: 0)
        }
    }

    // MARK: - Receipts

    /// Receipts for GET /v1/notifications, newest first, at most `limit`.
    /// `visible`: only receipts whose message it accepts (an access scope); rows are read until
    /// `limit` of them pass, so a scoped reader still gets up to `limit`.
    public func receipts(receiver: String?, state: Receipt.State?, limit: Int,
                         visible: ((NotificationMessage) -> Bool)? = nil) throws -> [Receipt] {
        try database.withConnection { connection in
            // Only the filters given, so SQLite can walk the (receiver, id) or (state, id) index.
            var filters: [String] = []
            if receiver != nil { filters.append("receiver = ?1") }
            if state != nil { filters.append("state = ?2") }
            let condition = filters.isEmpty ? "" : "WHERE " + filters.joined(separator: " AND ")
            return try connection.withStatement("""
                SELECT \(Self.receiptColumns)\(visible == nil ? "" : ", message")
                FROM outbox \(condition) ORDER BY id DESC\(visible == nil ? " LIMIT ?3" : "")
                """) { query in
                if let receiver { try query.bind(receiver, at: 1) }
                if let state { try query.bind(state.rawValue, at: 2) }
                if visible == nil { try query.bind(Int64(max(0, limit)), at: 3) }
                var out: [Receipt] = []
                let decoder = Self.decoder()
                while out.count < limit, try query.step() {
                    if let visible {
                        // A message that does not decode shows nothing it could leak.
                        guard let message = try? decoder.decode(NotificationMessage.self, from: Data(query.string(at: 14).utf8)),
                              visible(message) else { continue }
                    }
                    out.append(Self.receipt(query))
                }
                return out
            }
        }
    }

    /// The columns `receipt(_:)` reads, in its order (the message, where wanted, follows as 14).
    private static let receiptColumns = """
        id, receiver, fallback_of, group_key, idempotency_key, status, alerts, state, attempts,
        created_at, next_attempt_at, last_error, delivered_at, dead_at
        """

    /// The receipt of the row a query selecting `receiptColumns` stands on.
    private static func receipt(_ query: borrowing SQLiteDatabase.Statement) -> Receipt {
        Receipt(
            id: query.int64(at: 0), receiver: query.string(at: 1), fallbackOf: query.optionalString(at: 2),
            groupKey: query.string(at: 3), idempotencyKey: query.string(at: 4),
            status: NotificationMessage.Status(rawValue: query.string(at: 5)) ?? .firing,
            alerts: Int(clamping: query.int64(at: 6)),
            state: Receipt.State(rawValue: query.string(at: 7)) ?? .queued,
            attempts: Int(clamping: query.int64(at: 8)), createdAt: query.int64(at: 9),
            nextAttemptAt: query.optionalInt64(at: 10), lastError: query.optionalString(at: 11),
            deliveredAt: query.optionalInt64(at: 12), deadAt: query.optionalInt64(at: 13))
    }

    /// Dead letters (newest first): the notifications no receiver accepted in time.
    public func deadLetters(limit: Int) throws -> [DeadLetter] {
        try database.withConnection { connection in
            try connection.withStatement("""
                SELECT outbox_id, receiver, idempotency_key, message, attempts, last_error, created_at, dead_at
                FROM outbox_dead_letter ORDER BY outbox_id DESC LIMIT ?1
                """) { query in
                try query.bind(Int64(max(0, limit)), at: 1)
                var out: [DeadLetter] = []
                while try query.step() {
                    let message = try Self.decoder().decode(NotificationMessage.self, from: Data(query.string(at: 3).utf8))
                    out.append(DeadLetter(outboxID: query.int64(at: 0), receiver: query.string(at: 1),
                                          idempotencyKey: query.string(at: 2), message: message,
                                          attempts: Int(clamping: query.int64(at: 4)), lastError: query.optionalString(at: 5),
                                          createdAt: query.int64(at: 6), deadAt: query.int64(at: 7)))
                }
                return out
            }
        }
    }

    // MARK: - Delivery (used by the receiver workers)

    /// The oldest undelivered entry of `receiver` (FIFO per receiver).
    func head(receiver: String) throws -> PendingNotification? {
        try database.withConnection { connection in
            try connection.withStatement("""
                SELECT id, fallback, idempotency_key, message, attempts, created_at, next_attempt_at, last_error
                FROM outbox INDEXED BY outbox_pending WHERE receiver = ?1 AND state IN ('queued', 'retrying') ORDER BY id LIMIT 1
                """) { query in
                try query.bind(receiver, at: 1)
                guard try query.step() else { return nil }
                return PendingNotification(
                    id: query.int64(at: 0), receiver: receiver, fallback: query.optionalString(at: 1),
                    idempotencyKey: query.string(at: 2), messageJSON: query.string(at: 3),
                    attempts: Int(clamping: query.int64(at: 4)), createdAt: query.int64(at: 5),
                    nextAttemptAt: query.optionalInt64(at: 6), lastError: query.optionalString(at: 7))
            }
        }
    }

    func markDelivered(id: Int64, atMillis now: Int64) throws {
        try database.withConnection { connection in
            try connection.withStatement("""
                UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, next_attempt_at = NULL
                WHERE id = ?1 AND state IN ('queued', 'retrying')
                """) { update in
                try update.bind(id, at: 1)
                try update.bind(now, at: 2)
                try update.step()
            }
        }
        changed([id])
    }

    func markFailed(id: Int64, error: String, nextAttemptAt: Int64) throws {
        try database.withConnection { connection in
            try connection.withStatement("""
                UPDATE outbox SET state = 'retrying', attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                WHERE id = ?1 AND state IN ('queued', 'retrying')
                """) { update in
                try update.bind(id, at: 1)
                try update.bind(error, at: 2)
                try update.bind(nextAttemptAt, at: 3)
                try update.step()
            }
        }
        changed([id])
    }

    /// Notes why an entry waits without an attempt (its receiver is not configured).
    func note(id: Int64, error: String) throws {
        try database.withConnection { connection in
            try connection.withStatement("UPDATE outbox SET last_error = ?2 WHERE id = ?1 AND state IN ('queued', 'retrying')") { update in
                try update.bind(id, at: 1)
                try update.bind(error, at: 2)
                try update.step()
            }
        }
    }

    /// Moves an entry to the dead letters and, if it names a fallback receiver (other than its
    /// own), queues a copy for it in the same transaction, keyed `KEY:fallback`, created now (so
    /// the fallback receiver's own max age applies) and without a further fallback.
    /// - Returns: the fallback receiver when one was queued.
    func deadLetter(_ entry: PendingNotification, atMillis now: Int64, reason: String) throws -> String? {
        let (fallback, fallbackID) = try database.transaction { connection -> (String?, Int64?) in
            let moved = try connection.withStatement("""
                UPDATE outbox SET state = 'dead', dead_at = ?2, next_attempt_at = NULL, last_error = coalesce(last_error, ?3)
                WHERE id = ?1 AND state IN ('queued', 'retrying')
                """) { update in
                try update.bind(entry.id, at: 1)
                try update.bind(now, at: 2)
                try update.bind(reason, at: 3)
                try update.step()
                return connection.changes == 1
            }
            guard moved else { return (nil, nil) }
            try connection.withStatement("""
                INSERT OR REPLACE INTO outbox_dead_letter (outbox_id, receiver, idempotency_key, message, attempts, last_error, created_at, dead_at)
                SELECT id, receiver, idempotency_key, message, attempts, last_error, created_at, dead_at FROM outbox WHERE id = ?1
                """) { copy in
                try copy.bind(entry.id, at: 1)
                try copy.step()
            }
            guard let fallback = entry.fallback, fallback != entry.receiver else { return (nil, nil) }
            let message = try Self.decoder().decode(NotificationMessage.self, from: Data(entry.messageJSON.utf8))
            let id = try Self.insert(Entry(receiver: fallback, fallback: nil, idempotencyKey: entry.idempotencyKey + ":fallback",
                                           createdAtMillis: now, message: message),
                                     fallbackOf: entry.receiver, on: connection)
            return (fallback, id)
        }
        changed([entry.id] + (fallbackID.map { [$0] } ?? []))
        return fallback
    }

    /// Receivers with entries still to deliver.
    func pendingReceivers() throws -> [String] {
        try database.withConnection { connection in
            try connection.withStatement("SELECT DISTINCT receiver FROM outbox INDEXED BY outbox_pending WHERE state IN ('queued', 'retrying')") { query in
                var out: [String] = []
                while try query.step() { out.append(query.string(at: 0)) }
                return out
            }
        }
    }

    /// Undelivered entries of `receiver`, oldest first (for receivers no worker serves).
    func pending(receiver: String, limit: Int) throws -> [PendingNotification] {
        try database.withConnection { connection in
            try connection.withStatement("""
                SELECT id, fallback, idempotency_key, message, attempts, created_at, next_attempt_at, last_error
                FROM outbox INDEXED BY outbox_pending WHERE receiver = ?1 AND state IN ('queued', 'retrying') ORDER BY id LIMIT ?2
                """) { query in
                try query.bind(receiver, at: 1)
                try query.bind(Int64(limit), at: 2)
                var out: [PendingNotification] = []
                while try query.step() {
                    out.append(PendingNotification(
                        id: query.int64(at: 0), receiver: receiver, fallback: query.optionalString(at: 1),
                        idempotencyKey: query.string(at: 2), messageJSON: query.string(at: 3),
                        attempts: Int(clamping: query.int64(at: 4)), createdAt: query.int64(at: 5),
                        nextAttemptAt: query.optionalInt64(at: 6), lastError: query.optionalString(at: 7)))
                }
                return out
            }
        }
    }

    /// Entries of `receiver` still to deliver (queued + retrying), for the queued gauge.
    func pendingCount(receiver: String) throws -> Int {
        try database.withConnection { connection in
            try connection.withStatement("SELECT count(*) FROM outbox INDEXED BY outbox_pending WHERE receiver = ?1 AND state IN ('queued', 'retrying')") { query in
                try query.bind(receiver, at: 1)
                _ = try query.step()
                return Int(clamping: query.int64(at: 0))
            }
        }
    }

    /// Drops receipts past their retention (see the type's comment).
    func prune(nowMillis now: Int64) throws {
        try database.transaction { connection in
            try connection.withStatement("DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?1") { delete in
                try delete.bind(now &- Self.deliveredRetentionMillis, at: 1)
                try delete.step()
            }
            try connection.withStatement("DELETE FROM outbox WHERE state = 'dead' AND dead_at < ?1") { delete in
                try delete.bind(now &- Self.deadRetentionMillis, at: 1)
                try delete.step()
            }
            try connection.withStatement("DELETE FROM outbox_dead_letter WHERE dead_at < ?1") { delete in
                try delete.bind(now &- Self.deadLetterRetentionMillis, at: 1)
                try delete.step()
            }
        }
    }

    // MARK: - JSON

    /// Non-finite numbers are kept finite upstream, but must never make a queueing fail.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return decoder
    }
}
