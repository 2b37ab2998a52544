import Foundation
import Stream
import Synchronization

/// Silences, persisted in notifications.db and held in memory for the dispatcher's checks.
/// Expired silences are kept for `retentionMillis` (listed as expired), then deleted.
public final class SilenceStore: Sendable {
    /// What a client asks for (`POST /v1/silences`).
    public struct Draft: Sendable {
        public var matchers: String
        public var startsAt: Int64?
        public var endsAt: Int64
        public var createdBy: String
        public var comment: String

        public init(matchers: String, startsAt: Int64?, endsAt: Int64, createdBy: String, comment: String) {
            self.matchers = matchers
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.createdBy = createdBy
            self.comment = comment
        }
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The request is wrong; the message says how.
        case invalid(String)
        case notFound(String)
        case storage(SQLiteError)

        public var description: String {
            switch self {
            case .invalid(let m): m
            case .notFound(let id): "no silence has id \(id)"
            case .storage(let e): "the silence could not be stored: \(e)"
            }
        }
    }

    public static let maxDurationMillis: Int64 = 366 * 86_400_000
    public static let maxSilences = 10_000
    static let maxMatcherBytes = 4096
    static let maxCreatedByBytes = 256
    static let maxCommentBytes = 4096

    private let database: SQLiteDatabase
    private let silences: Mutex<[String: Silence]>
    private let retentionMillis: Int64

    public init(database: SQLiteDatabase, retentionMillis: Int64 = 5 * 86_400_000) throws {
        self.database = database
        self.retentionMillis = retentionMillis
        let loaded = try database.withConnection { c in
            try c.withStatement("SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at FROM silence") { s in
                var out: [String: Silence] = [:]
                while try s.step() {
                    // Stored silences were validated when created; one that no longer parses is skipped, not fatal.
                    guard let matchers = try? AlertMatchers(parsing: [s.string(at: 1)]) else { continue }
                    let silence = Silence(id: s.string(at: 0), matcherText: s.string(at: 1), matchers: matchers,
                                          startsAt: s.int64(at: 2), endsAt: s.int64(at: 3), createdBy: s.string(at: 4),
                                          comment: s.string(at: 5), createdAt: s.int64(at: 6), updatedAt: s.int64(at: 7))
                    out[silence.id] = silence
                }
                return out
            }
        }
        silences = Mutex(loaded)
    }

    /// Validates and stores a new silence.
    public func create(_ draft: Draft, now: Int64) throws(Failure) -> Silence {
        let matchers: AlertMatchers
        guard draft.matchers.utf8.count <= Self.maxMatcherBytes else {
            throw .invalid("matchers is \(draft.matchers.utf8.count) bytes; at most \(Self.maxMatcherBytes) are allowed")
        }
        do { matchers = try AlertMatchers(parsing: [draft.matchers]) } catch {
            throw .invalid("matchers: \(error.message) at column \(error.column) of \(error.text)")
        }
        guard !matchers.isEmpty else { throw .invalid("matchers is empty: a silence names the alerts it mutes, e.g. {alertname=\"DailySpendHigh\",account=\"123\"}") }
        guard !matchers.matchesEverything else {
            throw .invalid("matchers \(matchers) would mute every alert: at least one matcher must need a label value (e.g. account=\"123\")")
        }
        let startsAt = draft.startsAt ?? now
        guard (0...QueryLimits.instantMillis.upperBound).contains(startsAt), (0...QueryLimits.instantMillis.upperBound).contains(draft.endsAt) else {
            throw .invalid("startsAt and endsAt must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z")
        }
        guard draft.endsAt > startsAt else { throw .invalid("endsAt must be after startsAt") }
        guard draft.endsAt > now else { throw .invalid("endsAt is in the past: the silence would never be active") }
        guard draft.endsAt - startsAt <= Self.maxDurationMillis else {
            throw .invalid("a silence lasts at most 366 days; create a new one when it ends")
        }
        let createdBy = draft.createdBy.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !createdBy.isEmpty, createdBy.utf8.count <= Self.maxCreatedByBytes else {
            throw .invalid("createdBy is required (who silenced it), at most \(Self.maxCreatedByBytes) bytes")
        }
        guard !draft.comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, draft.comment.utf8.count <= Self.maxCommentBytes else {
            throw .invalid("comment is required (why), at most \(Self.maxCommentBytes) bytes")
        }
        let count = silences.withLock { s in s.values.filter { $0.state(at: now) != .expired }.count }
        guard count < Self.maxSilences else {
            throw .invalid("\(Self.maxSilences) silences are pending or active: expire some first")
        }
        let silence = Silence(id: UUID().uuidString.lowercased(), matcherText: draft.matchers, matchers: matchers,
                              startsAt: startsAt, endsAt: draft.endsAt, createdBy: createdBy, comment: draft.comment,
                              createdAt: now, updatedAt: now)
        try write(silence)
        silences.withLock { $0[silence.id] = silence }
        return silence
    }

    /// Ends a silence now (a pending one never starts). Expiring an expired silence changes nothing.
    public func expire(id: String, now: Int64) throws(Failure) -> Silence {
        guard var silence = silences.withLock({ $0[id] }) else { throw .notFound(id) }
        guard silence.state(at: now) != .expired else { return silence }
        silence.endsAt = max(now, silence.startsAt)
        if silence.startsAt > now { silence.startsAt = now }
        silence.updatedAt = now
        try write(silence)
        silences.withLock { $0[id] = silence }
        return silence
    }

    public func silence(id: String) -> Silence? { silences.withLock { $0[id] } }

    /// Newest first, optionally only those in `state`.
    public func list(state: Silence.State?, now: Int64) -> [Silence] {
        silences.withLock { Array($0.values) }
            .filter { state == nil || $0.state(at: now) == state }
            .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }

    /// The ids of the active silences that mute an alert with these labels.
    public func mutes(_ labels: [String: String], at now: Int64) -> [String] {
        silences.withLock { s in s.values.filter { $0.mutes(labels, at: now) }.map(\.id).sorted() }
    }

    /// The active silences (the dispatcher checks a whole flush against one copy).
    public func active(at now: Int64) -> [Silence] {
        silences.withLock { s in s.values.filter { $0.state(at: now) == .active } }
    }

    /// Deletes silences that expired more than the retention ago.
    public func prune(now: Int64) throws {
        let cutoff = now - retentionMillis
        let old = silences.withLock { s in s.values.filter { $0.endsAt < cutoff }.map(\.id) }
        guard !old.isEmpty else { return }
        try database.execute("DELETE FROM silence WHERE ends_at < \(cutoff)")
        silences.withLock { s in for id in old { s[id] = nil } }
    }

    private func write(_ s: Silence) throws(Failure) {
        do {
            try database.withConnection { c in
                try c.withStatement("""
                    INSERT OR REPLACE INTO silence (id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """) { st in
                    try st.bind(s.id, at: 1)
                    try st.bind(s.matcherText, at: 2)
                    try st.bind(s.startsAt, at: 3)
                    try st.bind(s.endsAt, at: 4)
                    try st.bind(s.createdBy, at: 5)
                    try st.bind(s.comment, at: 6)
                    try st.bind(s.createdAt, at: 7)
                    try st.bind(s.updatedAt, at: 8)
                    _ = try st.step()
                }
            }
        } catch let e as SQLiteError {
            throw .storage(e)
        } catch {
            throw .storage(SQLiteError(code: 1, message: "\(error)", sql: nil, path: database.path))
        }
    }
}
