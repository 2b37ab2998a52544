import Foundation
import Stream

/// The stream's durable events in DATA_DIR/notifications.db (`stream_event`): sequence numbers
/// that survive restarts, and what a reconnecting client missed. Bounded: events older than
/// `retentionMillis`, and all but the newest `maxEvents`, are pruned.
final class StreamLog: Sendable {
    static let module = SQLiteDatabase.SchemaModule(name: "stream", migrations: [
        .init(version: 1, name: "stream events", sql: """
            CREATE TABLE stream_event (
                seq     INTEGER PRIMARY KEY AUTOINCREMENT,
                at      INTEGER NOT NULL,
                kind    TEXT    NOT NULL,
                labels  TEXT    NOT NULL,
                data    TEXT    NOT NULL
            );
            CREATE INDEX stream_event_at ON stream_event (at);
            """),
    ])

    let retentionMillis: Int64
    let maxEvents: Int64
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase, retentionMillis: Int64 = 86_400_000, maxEvents: Int64 = 100_000) {
        self.database = database
        self.retentionMillis = retentionMillis
        self.maxEvents = maxEvents
    }

    /// Stores the events and returns them with their sequence numbers.
    func append(_ events: [StreamEvent]) throws -> [StreamEvent] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try database.transaction { c in
            try c.withStatement("INSERT INTO stream_event (at, kind, labels, data) VALUES (?1, ?2, ?3, ?4)") { s in
                var out: [StreamEvent] = []
                out.reserveCapacity(events.count)
                for var e in events {
                    try s.bind(e.atMillis, at: 1)
                    try s.bind(e.kind.rawValue, at: 2)
                    try s.bind(String(decoding: try encoder.encode(e.labels), as: UTF8.self), at: 3)
                    try s.bind(e.data, at: 4)
                    _ = try s.step()
                    s.reset()
                    e.seq = c.lastInsertRowID
                    out.append(e)
                }
                return out
            }
        }
    }

    /// The newest sequence number handed out (0 before the first event).
    func latestSeq() throws -> Int64 {
        try database.withConnection { c in
            // sqlite_sequence keeps AUTOINCREMENT's high-water mark even when every row was pruned.
            try c.scalarInt64("SELECT seq FROM sqlite_sequence WHERE name = 'stream_event'") ?? 0
        }
    }

    /// The oldest sequence number still stored (nil: none).
    func oldestSeq() throws -> Int64? {
        try database.withConnection { c in try c.scalarInt64("SELECT MIN(seq) FROM stream_event") }
    }

    /// Events with `after < seq <= upTo`, oldest first, at most `limit`.
    func events(after: Int64, upTo: Int64, limit: Int) throws -> [StreamEvent] {
        let decoder = JSONDecoder()
        return try database.withConnection { c in
            try c.withStatement("SELECT seq, at, kind, labels, data FROM stream_event WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3") { s in
                try s.bind(after, at: 1)
                try s.bind(upTo, at: 2)
                try s.bind(Int64(limit), at: 3)
                var out: [StreamEvent] = []
                while try s.step() {
                    guard let kind = StreamEvent.Kind(rawValue: s.string(at: 2)),
                          let labels = try? decoder.decode([[String: String]].self, from: Data(s.string(at: 3).utf8)) else { continue }
                    out.append(StreamEvent(seq: s.int64(at: 0), kind: kind, atMillis: s.int64(at: 1), labels: labels, data: s.string(at: 4)))
                }
                return out
            }
        }
    }

    func prune(now: Int64) throws {
        try database.execute("""
            DELETE FROM stream_event WHERE at < \(now - retentionMillis)
                OR seq <= (SELECT COALESCE(MAX(seq), 0) FROM stream_event) - \(maxEvents)
            """)
    }
}
