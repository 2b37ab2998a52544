import Foundation
import Stream

/// What each receiver was last told about each group (Alertmanager's nflog): the firing alerts
/// with their revision, the resolved ones, and when. A flush notifies only when this differs
/// from the group now, or `repeat_interval` has passed. Rows are written in the transaction that
/// queues the notification in the outbox, so "queued" and "remembered as sent" agree after
/// kill -9; after a restart the rebuilt groups are compared with it and repeat nothing.
struct NotificationLog {
    struct Entry: Sendable, Equatable, Codable {
        /// Alert id → evaluation time of its latest amendment (0: as it fired), as notified.
        var firing: [String: Int64]
        var resolved: Set<String>
        var sentAt: Int64
    }

    struct Key: Hashable, Sendable {
        var receiver: String
        var groupKey: String
    }

    private(set) var entries: [Key: Entry] = [:]

    static func load(_ database: SQLiteDatabase) throws -> NotificationLog {
        var log = NotificationLog()
        let decoder = JSONDecoder()
        try database.withConnection { c in
            try c.withStatement("SELECT receiver, group_key, firing, resolved, sent_at FROM notification_log") { s in
                while try s.step() {
                    guard let firing = try? decoder.decode([String: Int64].self, from: Data(s.string(at: 2).utf8)),
                          let resolved = try? decoder.decode(Set<String>.self, from: Data(s.string(at: 3).utf8)) else { continue }
                    log.entries[Key(receiver: s.string(at: 0), groupKey: s.string(at: 1))] = Entry(firing: firing, resolved: resolved, sentAt: s.int64(at: 4))
                }
            }
        }
        return log
    }

    subscript(key: Key) -> Entry? { entries[key] }

    /// Writes `entry` inside the caller's transaction; `commit` updates memory once it committed.
    static func write(_ key: Key, _ entry: Entry, on c: borrowing SQLiteDatabase.Connection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try c.withStatement("INSERT OR REPLACE INTO notification_log (receiver, group_key, firing, resolved, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)") { s in
            try s.bind(key.receiver, at: 1)
            try s.bind(key.groupKey, at: 2)
            try s.bind(String(decoding: try encoder.encode(entry.firing), as: UTF8.self), at: 3)
            try s.bind(String(decoding: try encoder.encode(entry.resolved.sorted()), as: UTF8.self), at: 4)
            try s.bind(entry.sentAt, at: 5)
            _ = try s.step()
        }
    }

    mutating func commit(_ key: Key, _ entry: Entry) { entries[key] = entry }

    /// Entries with nothing firing and older than `cutoff` serve no dedup any more.
    static func prune(before cutoff: Int64, in database: SQLiteDatabase) throws {
        try database.execute("DELETE FROM notification_log WHERE firing = '{}' AND sent_at < \(cutoff)")
    }

    mutating func forgetIdle(before cutoff: Int64) {
        entries = entries.filter { !$0.value.firing.isEmpty || $0.value.sentAt >= cutoff }
    }
}
