import Foundation
import Stream

/// Every alert transition, in DATA_DIR/ingestd.db (`alert_transition`). Rows are written only in
/// the transaction of the snapshot that holds the state they led to (see `AlertTable`), so after
/// kill -9 history and state agree: a transition is never recorded twice or lost.
public final class AlertHistory: Sendable {
    public static let module = SQLiteDatabase.SchemaModule(name: "alerts", migrations: [
        .init(version: 1, name: "alert transitions", sql: """
            CREATE TABLE alert_transition (
                seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                at          INTEGER NOT NULL,
                state       TEXT    NOT NULL,
                rule        TEXT    NOT NULL,
                fingerprint TEXT    NOT NULL,
                body        TEXT    NOT NULL
            );
            CREATE INDEX alert_transition_at ON alert_transition (at);

            """),
        .init(version: 2, name: "anomaly feedback", sql: """
            CREATE TABLE alert_feedback (
                seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                at          INTEGER NOT NULL,
                rule        TEXT    NOT NULL,
                fingerprint TEXT    NOT NULL,
                body        TEXT    NOT NULL
            );
            CREATE INDEX alert_feedback_at ON alert_feedback (at);
            """),
    ])

    /// A transition as history returns it: with its durable sequence number.
    public struct Entry: Sendable, Codable {
        public var seq: Int64
        public var transition: AlertTransition
    }

    private let database: SQLiteDatabase

    /// Reads what `insert` and `AlertTable.encode` write (non-finite numbers as strings).
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return decoder
    }

    public init(database: SQLiteDatabase) { self.database = database }

    /// Appends rows inside a transaction someone else opened (the snapshot's).
    static func insert(_ transitions: [AlertTransition], on connection: borrowing SQLiteDatabase.Connection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Values are kept finite, but a non-finite one must never make a save fail.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        try connection.withStatement("INSERT INTO alert_transition (at, state, rule, fingerprint, body) VALUES (?1, ?2, ?3, ?4, ?5)") { insert in
            for t in transitions {
                try insert.bind(t.at, at: 1)
                try insert.bind(t.state.rawValue, at: 2)
                try insert.bind(t.rule, at: 3)
                try insert.bind(t.fingerprint, at: 4)
                try insert.bind(String(decoding: try encoder.encode(t), as: UTF8.self), at: 5)
                _ = try insert.step()
                insert.reset()
            }
        }
    }

    /// Transitions at or after `sinceMillis` (evaluation time), oldest first, at most `limit`.
    /// `visible`: only transitions it accepts (an access scope), read until `limit` of them pass.
    public func entries(sinceMillis: Int64, limit: Int, visible: ((AlertTransition) -> Bool)? = nil) throws -> [Entry] {
        try database.withConnection { connection in
            try connection.withStatement("SELECT seq, body FROM alert_transition WHERE at >= ?1 ORDER BY seq\(visible == nil ? " LIMIT ?2" : "")") { query in
                try query.bind(sinceMillis, at: 1)
                if visible == nil { try query.bind(Int64(limit), at: 2) }
                let decoder = Self.decoder()
                var out: [Entry] = []
                while out.count < limit, try query.step() {
                    let body = Data(query.string(at: 1).utf8)
                    let transition = try decoder.decode(AlertTransition.self, from: body)
                    if let visible, !visible(transition) { continue }
                    out.append(Entry(seq: query.int64(at: 0), transition: transition))
                }
                return out
            }
        }
    }

    /// How many transitions of `state` history holds for an alert (tests and checks).
    public func count(fingerprint: String, state: AlertTransition.State) throws -> Int {
        try database.withConnection { connection in
            try connection.withStatement("SELECT count(*) FROM alert_transition WHERE fingerprint = ?1 AND state = ?2") { query in
                try query.bind(fingerprint, at: 1)
                try query.bind(state.rawValue, at: 2)
                _ = try query.step()
                return Int(query.int64(at: 0))
            }
        }
    }
}
