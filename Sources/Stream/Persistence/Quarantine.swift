/// A rejected input event as kept in the quarantine: where it came from, why it was refused
/// and (the start of) its raw bytes, so an operator can inspect and fix the producer.
public struct QuarantinedEvent: Sendable, Equatable {
    public enum Source: String, Sendable, CaseIterable {
        case kafka, http, replay
    }

    /// Row id; nil until recorded.
    public var id: Int64?
    /// Unix milliseconds when ingestd received the event.
    public var receivedAt: Int64
    public var source: Source
    /// Set for (and required by) `.kafka` rows: they identify the message, and a redelivered
    /// message with the same triple is recorded only once.
    public var topic: String?
    public var partition: Int32?
    public var offset: Int64?
    /// Where in a non-Kafka input: "request 17 index 3", "line 42".
    public var position: String?
    public var reason: RejectReason
    public var detail: String
    /// The raw bytes; stored truncated to the quarantine's `maxPayloadBytes`.
    public var payload: [UInt8]
    /// The original length of the payload, before any truncation.
    public var payloadBytes: Int

    /// - Parameter payloadBytes: the original length; defaults to `payload.count`. Pass it when
    ///   `payload` was already cut short by the caller.
    public init(
        id: Int64? = nil, receivedAt: Int64, source: Source, topic: String? = nil, partition: Int32? = nil,
        offset: Int64? = nil, position: String? = nil, reason: RejectReason, detail: String, payload: [UInt8],
        payloadBytes: Int? = nil
    ) {
        self.id = id
        self.receivedAt = receivedAt
        self.source = source
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.position = position
        self.reason = reason
        self.detail = detail
        self.payload = payload
        self.payloadBytes = payloadBytes ?? payload.count
    }

    /// A bad Kafka message, identified by its topic/partition/offset.
    public static func kafka(
        topic: String, partition: Int32, offset: Int64, rejection: EventRejection, payload: [UInt8], receivedAt: Int64
    ) -> QuarantinedEvent {
        QuarantinedEvent(receivedAt: receivedAt, source: .kafka, topic: topic, partition: partition, offset: offset,
                         reason: rejection.reason, detail: rejection.detail, payload: payload)
    }

    /// A bad event from `POST /v1/events` or `ingestd replay`, located by `position`.
    public static func located(
        _ source: Source, position: String, rejection: EventRejection, payload: [UInt8], receivedAt: Int64
    ) -> QuarantinedEvent {
        QuarantinedEvent(receivedAt: receivedAt, source: source, position: position,
                         reason: rejection.reason, detail: rejection.detail, payload: payload)
    }
}

/// Bad events kept for inspection in the `quarantine` table (PRODUCT.md §1.1).
///
/// Recording is idempotent for Kafka messages: after a crash the consumer re-reads from the
/// snapshot's offsets and meets the same bad message again; the partial UNIQUE index on
/// (topic, partition, offset) for kafka rows plus `ON CONFLICT DO NOTHING` keeps one row.
/// (`ON CONFLICT … DO NOTHING` rather than `INSERT OR IGNORE`: OR IGNORE would also swallow
/// NOT NULL and CHECK violations, hiding bugs; this ignores only the duplicate.)
public final class Quarantine: Sendable {
    public static let defaultMaxPayloadBytes = 4096

    /// DDL for the schema migration that creates the table (see `SQLiteDatabase.Migration`).
    public static let schemaSQL = """
        CREATE TABLE quarantine (
            id            INTEGER PRIMARY KEY,
            received_at   INTEGER NOT NULL,
            source        TEXT    NOT NULL CHECK (source IN ('kafka', 'http', 'replay')),
            topic         TEXT,
            "partition"   INTEGER,
            "offset"      INTEGER,
            position      TEXT,
            reason        TEXT    NOT NULL,
            detail        TEXT    NOT NULL,
            payload       BLOB    NOT NULL,
            payload_bytes INTEGER NOT NULL,
            CHECK (source <> 'kafka' OR (topic IS NOT NULL AND "partition" IS NOT NULL AND "offset" IS NOT NULL))
        );
        CREATE UNIQUE INDEX quarantine_kafka_message ON quarantine (topic, "partition", "offset")
            WHERE source = 'kafka';

        """

    private static let insertSQL = """
        INSERT INTO quarantine (received_at, source, topic, "partition", "offset", position, reason, detail,
                                payload, payload_bytes)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        ON CONFLICT (topic, "partition", "offset") WHERE source = 'kafka' DO NOTHING
        """

    private let database: SQLiteDatabase
    public let maxPayloadBytes: Int

    public init(database: SQLiteDatabase, maxPayloadBytes: Int = Quarantine.defaultMaxPayloadBytes) {
        precondition(maxPayloadBytes >= 0, "maxPayloadBytes must not be negative")
        self.database = database
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Stores a batch in one transaction (all or nothing).
    /// - Returns: how many rows were added; Kafka messages already quarantined are skipped.
    /// - Throws: `SQLiteError`.
    @discardableResult
    public func record(_ events: [QuarantinedEvent]) throws -> Int {
        guard !events.isEmpty else { return 0 }
        let maxPayloadBytes = self.maxPayloadBytes
        return try database.transaction { connection in
            try connection.withStatement(Self.insertSQL) { insert in
                var added = 0
                for event in events {
                    try insert.bind(event.receivedAt, at: 1)
                    try insert.bind(event.source.rawValue, at: 2)
                    try insert.bind(event.topic, at: 3)
                    try insert.bind(event.partition, at: 4)
                    try insert.bind(event.offset, at: 5)
                    try insert.bind(event.position, at: 6)
                    try insert.bind(event.reason.rawValue, at: 7)
                    try insert.bind(event.detail, at: 8)
                    try insert.bind(blob: event.payload.prefix(maxPayloadBytes), at: 9)
                    try insert.bind(max(event.payloadBytes, event.payload.count), at: 10)
                    try insert.step()
                    added += connection.changes
                    insert.reset()
                }
                return added
            }
        }
    }

    /// Deletes the oldest rows beyond the newest `limit` (one transaction), so a flood of bad
    /// input cannot fill the disk. Returns how many rows were deleted.
    @discardableResult
    public func prune(keepingNewest limit: Int) throws -> Int {
        try database.transaction { connection in
            try connection.withStatement(
                "DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine ORDER BY id DESC LIMIT 1 OFFSET ?1)"
            ) { delete in
                try delete.bind(max(limit, 0), at: 1)
                _ = try delete.step()
            }
            return connection.changes
        }
    }

    /// All rows, whatever their reason.
    public func count() throws -> Int {
        try database.withConnection { connection in
            Int(try connection.scalarInt64("SELECT count(*) FROM quarantine") ?? 0)
        }
    }

    /// Rows per reason. Reasons unknown to this binary (written by a newer ingestd) are left
    /// out here but included in `count()`.
    public func counts() throws -> [RejectReason: Int] {
        try database.withConnection { connection in
            try connection.withStatement("SELECT reason, count(*) FROM quarantine GROUP BY reason") { query in
                var counts: [RejectReason: Int] = [:]
                while try query.step() {
                    guard let reason = RejectReason(rawValue: query.string(at: 0)) else { continue }
                    counts[reason] = Int(query.int64(at: 1))
                }
                return counts
            }
        }
    }

    /// The newest `limit` rows, newest first (rows with a reason unknown to this binary are skipped).
    public func recent(limit: Int) throws -> [QuarantinedEvent] {
        let sql = """
            SELECT id, received_at, source, topic, "partition", "offset", position, reason, detail, payload, payload_bytes
            FROM quarantine ORDER BY id DESC LIMIT ?1
            """
        return try database.withConnection { connection in
            try connection.withStatement(sql) { query in
                try query.bind(max(limit, 0), at: 1)
                var events: [QuarantinedEvent] = []
                while try query.step() {
                    guard let source = QuarantinedEvent.Source(rawValue: query.string(at: 2)),
                          let reason = RejectReason(rawValue: query.string(at: 7))
                    else { continue }
                    events.append(QuarantinedEvent(
                        id: query.int64(at: 0), receivedAt: query.int64(at: 1), source: source,
                        topic: query.optionalString(at: 3),
                        partition: query.optionalInt64(at: 4).map { Int32(truncatingIfNeeded: $0) },
                        offset: query.optionalInt64(at: 5), position: query.optionalString(at: 6), reason: reason,
                        detail: query.string(at: 8), payload: query.blob(at: 9), payloadBytes: Int(query.int64(at: 10))))
                }
                return events
            }
        }
    }
}
