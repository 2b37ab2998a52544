import Foundation
import Stream

/// One operator verdict on an anomaly alert, as stored (`alert_feedback`, beside the alert
/// history in DATA_DIR/ingestd.db) and listed by `GET /v1/alerts/feedback`.
public struct AnomalyFeedback: Sendable, Codable, Equatable {
    public var rule: String
    public var fingerprint: String
    public var labels: [String: String]
    public var verdict: AnomalyDetector.Feedback
    public var at: Int64
    public var note: String?
    /// Who said so: the token's name, or nil without auth.
    public var by: String?

    public init(rule: String, fingerprint: String, labels: [String: String], verdict: AnomalyDetector.Feedback, at: Int64,
                note: String?, by: String?) {
        self.rule = rule
        self.fingerprint = fingerprint
        self.labels = labels
        self.verdict = verdict
        self.at = at
        self.note = note
        self.by = by
    }

    /// Appends rows inside the snapshot's transaction (see `DetectorTable.journal`).
    static func insert(_ rows: [AnomalyFeedback], on connection: borrowing SQLiteDatabase.Connection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try connection.withStatement("INSERT INTO alert_feedback (at, rule, fingerprint, body) VALUES (?1, ?2, ?3, ?4)") { insert in
            for row in rows {
                try insert.bind(row.at, at: 1)
                try insert.bind(row.rule, at: 2)
                try insert.bind(row.fingerprint, at: 3)
                try insert.bind(String(decoding: try encoder.encode(row), as: UTF8.self), at: 4)
                _ = try insert.step()
                insert.reset()
            }
        }
    }

    /// Stored feedback at or after `sinceMillis`, oldest first, at most `limit` that `visible` accepts.
    public static func entries(in database: SQLiteDatabase, sinceMillis: Int64, limit: Int,
                               visible: (AnomalyFeedback) -> Bool = { _ in true }) throws -> [AnomalyFeedback] {
        try database.withConnection { connection in
            try connection.withStatement("SELECT body FROM alert_feedback WHERE at >= ?1 ORDER BY seq") { query in
                try query.bind(sinceMillis, at: 1)
                let decoder = JSONDecoder()
                var out: [AnomalyFeedback] = []
                while out.count < limit, try query.step() {
                    let row = try decoder.decode(AnomalyFeedback.self, from: Data(query.string(at: 0).utf8))
                    if visible(row) { out.append(row) }
                }
                return out
            }
        }
    }
}
