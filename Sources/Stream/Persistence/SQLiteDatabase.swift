import CSQLite3
import Synchronization

/// One SQLite connection to a file in DATA_DIR, safe to share between tasks.
///
/// Opened in WAL mode with `synchronous=NORMAL`. That combination survives `kill -9` at any
/// moment: a transaction is committed once its frames are appended to the `-wal` file, which
/// is in the OS page cache the instant `write()` returns, so a dead *process* loses nothing
/// that was committed and the next open replays the WAL. What NORMAL gives up is the fsync at
/// each commit, so a *power loss or kernel crash* may roll back the last few commits (never
/// corrupt the file). Kafka-fed state tolerates that (an older snapshot simply replays from
/// older offsets); writes that must survive power loss too (`EventJournal.append`) switch to
/// `synchronous=FULL` for their own commit.
///
/// Thread safety: the connection is opened `SQLITE_OPEN_NOMUTEX` ("multi-thread" mode), in
/// which one connection must never be used by two threads at once but may be used by
/// different threads one after another. The `Mutex` gives exactly that: every use of the
/// handle happens inside `connection.withLock`, and the handle itself (`Connection`) and its
/// statements (`Statement`) are non-copyable values that callers only ever *borrow* inside
/// that locked scope, so the compiler refuses to let either escape to another thread or
/// outlive the lock. With only immutable `let`s besides the `Mutex` (itself `Sendable`), the
/// class is `Sendable` as checked by the compiler, not `@unchecked`.
/// Do not call back into the same `SQLiteDatabase` from inside a `withConnection` or
/// `transaction` body (the `Mutex` is not reentrant); use the `Connection` it hands you.
public final class SQLiteDatabase: Sendable {
    public let path: String
    private let connection: Mutex<Connection>

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// The directory must exist: the caller owns DATA_DIR's layout and permissions.
    /// - Parameters:
    ///   - busyTimeoutMillis: how long a write waits for another connection's write lock
    ///     before failing with `SQLITE_BUSY`.
    ///   - migrations: the whole, append-only schema history; see `Migration`.
    /// - Throws: `SQLiteError`.
    public init(path: String, busyTimeoutMillis: Int32 = 5_000, migrations: [Migration] = []) throws {
        let connection = try Connection.open(path: path, busyTimeoutMillis: busyTimeoutMillis)
        try connection.migrate(migrations)
        self.path = path
        self.connection = Mutex(connection)
        // The Connection's deinit closes the handle when this object goes away.
    }

    /// Opens the database with the schema of several modules (Stream, Alerts, …), each with its
    /// own append-only history and version, so a module adds tables without renumbering another's.
    public init(path: String, busyTimeoutMillis: Int32 = 5_000, schema modules: [SchemaModule]) throws {
        let connection = try Connection.open(path: path, busyTimeoutMillis: busyTimeoutMillis)
        for module in modules { try connection.migrate(module) }
        self.path = path
        self.connection = Mutex(connection)
    }

    /// Runs `body` with exclusive use of the connection (no transaction is started).
    public func withConnection<R: Sendable>(_ body: (borrowing Connection) throws -> R) throws -> R {
        try connection.withLock { connection in try body(connection) }
    }

    /// Runs one or more `;`-separated statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        try connection.withLock { (connection) throws(SQLiteError) in try connection.execute(sql) }
    }

    /// `BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` if `body` (or the commit) throws; the error is
    /// rethrown unchanged.
    public func transaction<R: Sendable>(_ body: (borrowing Connection) throws -> R) throws -> R {
        try withConnection { connection in try connection.transaction(body) }
    }
}

// MARK: - Migration

extension SQLiteDatabase {
    /// One step of the schema history. `PRAGMA user_version` holds the version of the last step
    /// applied; at open, every step with a higher version runs in its own transaction together
    /// with the `user_version` bump, so a crash mid-migration leaves the previous version intact.
    /// The list is append-only: never edit or renumber a step that has shipped.
    public struct Migration: Sendable {
        public let version: Int32
        public let name: String
        public let sql: String

        public init(version: Int32, name: String, sql: String) {
            self.version = version
            self.name = name
            self.sql = sql
        }
    }
}

extension SQLiteDatabase {
    /// One module's schema history, tracked in `schema_module` under its name. The module named
    /// `legacyUserVersionModule` started out on `PRAGMA user_version`; a file from then carries
    /// its version there and is adopted as is.
    public struct SchemaModule: Sendable {
        public let name: String
        public let migrations: [Migration]

        public init(name: String, migrations: [Migration]) {
            self.name = name
            self.migrations = migrations
        }

        public static let legacyUserVersionModule = "stream"
    }
}

// MARK: - Connection

extension SQLiteDatabase {
    /// The sqlite3 handle. Only ever lent out (borrowed) inside the database's lock.
    public struct Connection: ~Copyable {
        let handle: OpaquePointer
        let path: String

        fileprivate init(handle: OpaquePointer, path: String) {
            self.handle = handle
            self.path = path
        }

        deinit {
            // close_v2 never fails with BUSY: it defers the close until statements are
            // finalized, and ours are always finalized by the Statement's deinit first.
            sqlite3_close_v2(handle)
        }

        fileprivate static func open(path: String, busyTimeoutMillis: Int32) throws(SQLiteError) -> Connection {
            var handle: OpaquePointer?
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            let rc = sqlite3_open_v2(path, &handle, flags, nil)
            guard let handle else {
                throw SQLiteError(code: SQLITE_NOMEM, message: "sqlite3_open_v2 returned no handle", sql: nil, path: path)
            }
            // From here on, throwing closes the handle through deinit.
            let connection = Connection(handle: handle, path: path)
            guard rc == SQLITE_OK else { throw connection.error(rc, sql: nil) }
            sqlite3_extended_result_codes(handle, 1)
            try connection.configure(busyTimeoutMillis: busyTimeoutMillis)
            return connection
        }

        private func configure(busyTimeoutMillis: Int32) throws(SQLiteError) {
            // First, so that switching to WAL (which needs a brief exclusive lock) waits too.
            sqlite3_busy_timeout(handle, busyTimeoutMillis)
            let sql = "PRAGMA journal_mode = WAL"
            let mode = try scalarText(sql)?.lowercased()
            let inMemory = path.isEmpty || path == ":memory:"
            guard mode == "wal" || (inMemory && mode == "memory") else {
                throw SQLiteError(
                    code: SQLITE_CANTOPEN, message: "journal_mode is \(mode ?? "unknown"), not wal", sql: sql, path: path,
                    advice: "WAL needs shared memory beside the file: put DATA_DIR on a local filesystem, not NFS/SMB.")
            }
            // See the type's comment for why NORMAL is enough under WAL.
            try execute("PRAGMA synchronous = NORMAL")
            try execute("PRAGMA foreign_keys = ON")
            // A checkpointed WAL is reused, not shrunk: without a limit the -wal file would stay
            // at its high-water mark (the size of the biggest snapshot save) forever.
            try execute("PRAGMA journal_size_limit = \(64 << 20)")
        }

        fileprivate func migrate(_ migrations: [Migration]) throws {
            guard let newest = migrations.last?.version else { return }
            let versions = migrations.map(\.version)
            guard versions.first! >= 1, zip(versions, versions.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw SQLiteError(
                    code: SQLITE_MISUSE, message: "migration versions \(versions) are not ascending from 1", sql: nil,
                    path: path, advice: "A bug in ingestd: migration versions must be unique, ascending and >= 1.")
            }
            let current = try userVersion()
            guard current <= newest else {
                throw SQLiteError(
                    code: SQLITE_ERROR, message: "schema version \(current) is newer than this binary's \(newest)",
                    sql: nil, path: path,
                    advice: "This DATA_DIR was written by a newer ingestd: run that version, or start from a fresh DATA_DIR.")
            }
            for migration in migrations where migration.version > current {
                try transaction { connection in
                    // Re-read under the write lock: another process may have migrated meanwhile.
                    guard try connection.userVersion() < migration.version else { return }
                    try connection.execute(migration.sql)
                    try connection.execute("PRAGMA user_version = \(migration.version)")
                }
            }
        }

        fileprivate func migrate(_ module: SchemaModule) throws {
            let versions = module.migrations.map(\.version)
            guard let newest = versions.last, versions.first! >= 1, zip(versions, versions.dropFirst()).allSatisfy({ $0 < $1 }) else {
                if module.migrations.isEmpty { return }
                throw SQLiteError(
                    code: SQLITE_MISUSE, message: "\(module.name) migration versions \(versions) are not ascending from 1", sql: nil,
                    path: path, advice: "A bug in ingestd: migration versions must be unique, ascending and >= 1.")
            }
            try execute("CREATE TABLE IF NOT EXISTS schema_module (module TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            func version(_ c: borrowing Connection) throws -> Int32 {
                let row = try c.withStatement("SELECT version FROM schema_module WHERE module = ?1") { q in
                    try q.bind(module.name, at: 1)
                    return try q.step() ? Int32(truncatingIfNeeded: q.int64(at: 0)) : nil
                }
                if let row { return row }
                return module.name == SchemaModule.legacyUserVersionModule ? try c.userVersion() : 0
            }
            let current = try version(self)
            guard current <= newest else {
                throw SQLiteError(
                    code: SQLITE_ERROR, message: "\(module.name) schema version \(current) is newer than this binary's \(newest)",
                    sql: nil, path: path,
                    advice: "This DATA_DIR was written by a newer ingestd: run that version, or start from a fresh DATA_DIR.")
            }
            for migration in module.migrations where migration.version > current {
                try transaction { connection in
                    // Re-read under the write lock: another process may have migrated meanwhile.
                    guard try version(connection) < migration.version else { return }
                    try connection.execute(migration.sql)
                    try connection.withStatement(
                        "INSERT INTO schema_module (module, version) VALUES (?1, ?2) ON CONFLICT (module) DO UPDATE SET version = excluded.version"
                    ) { upsert in
                        try upsert.bind(module.name, at: 1)
                        try upsert.bind(Int64(migration.version), at: 2)
                        try upsert.step()
                    }
                }
            }
        }

        func userVersion() throws(SQLiteError) -> Int32 {
            Int32(truncatingIfNeeded: try scalarInt64("PRAGMA user_version") ?? 0)
        }

        // MARK: Running SQL

        /// Runs one or more `;`-separated statements, discarding any rows.
        public func execute(_ sql: String) throws(SQLiteError) {
            var message: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(handle, sql, nil, nil, &message)
            defer { sqlite3_free(message) }
            guard rc == SQLITE_OK else {
                let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
                throw SQLiteError(code: extendedCode(for: rc), message: text, sql: sql, path: path)
            }
        }

        /// Prepares exactly one statement, lends it to `body`, and finalizes it afterwards.
        public func withStatement<R>(_ sql: String, _ body: (borrowing Statement) throws -> R) throws -> R {
            let statement = try prepare(sql)
            return try body(statement)
        }

        private func prepare(_ sql: String) throws(SQLiteError) -> Statement {
            var statement: OpaquePointer?
            var trailingSQL = false
            let rc = sql.withCString { text in
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(handle, text, -1, &statement, &tail)
                // A second statement would be silently ignored: refuse it instead.
                trailingSQL = tail.map { String(cString: $0) }?.contains { !$0.isWhitespace && $0 != ";" } ?? false
                return rc
            }
            guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
            guard let statement else {
                throw SQLiteError(code: SQLITE_MISUSE, message: "no statement in SQL text", sql: sql, path: path,
                                  advice: "A bug in ingestd: withStatement needs exactly one SQL statement.")
            }
            let prepared = Statement(handle: statement, connection: handle, sql: sql, path: path)
            guard !trailingSQL else {
                throw SQLiteError(code: SQLITE_MISUSE, message: "more than one statement in SQL text", sql: sql, path: path,
                                  advice: "A bug in ingestd: withStatement runs one statement; use execute for scripts.")
            }
            return prepared
        }

        /// `BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` if `body` or the commit throws.
        /// IMMEDIATE takes the write lock up front, so waiting for another writer happens at
        /// BEGIN under `busy_timeout`, rather than as an unrecoverable `SQLITE_BUSY` when a
        /// deferred read transaction later tries to upgrade to a write.
        public func transaction<R>(_ body: (borrowing Connection) throws -> R) throws -> R {
            try execute("BEGIN IMMEDIATE")
            do {
                let result = try body(self)
                try execute("COMMIT")
                return result
            } catch {
                // Some errors (SQLITE_FULL, IOERR…) already rolled back; ROLLBACK would then fail.
                if sqlite3_get_autocommit(handle) == 0 {
                    sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
                }
                throw error
            }
        }

        /// Rows changed by the last INSERT/UPDATE/DELETE (0 for an insert skipped by ON CONFLICT DO NOTHING).
        public var changes: Int { Int(sqlite3_changes64(handle)) }

        public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

        /// The first column of the first row, or nil when there is no row or it is NULL.
        public func scalarInt64(_ sql: String) throws(SQLiteError) -> Int64? {
            let statement = try prepare(sql)
            return try statement.step() ? statement.optionalInt64(at: 0) : nil
        }

        public func scalarText(_ sql: String) throws(SQLiteError) -> String? {
            let statement = try prepare(sql)
            return try statement.step() ? statement.optionalString(at: 0) : nil
        }

        fileprivate func error(_ rc: Int32, sql: String?) -> SQLiteError {
            SQLiteError(code: extendedCode(for: rc), message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
        }

        private func extendedCode(for rc: Int32) -> Int32 {
            let extended = sqlite3_extended_errcode(handle)
            return extended & 0xFF == rc & 0xFF ? extended : rc
        }
    }
}

// MARK: - Statement

extension SQLiteDatabase {
    /// A prepared statement. Bind indexes are 1-based (`?1` is 1); column indexes are 0-based,
    /// as in the C API. Lent to callers only inside `Connection.withStatement`.
    public struct Statement: ~Copyable {
        let handle: OpaquePointer
        let connection: OpaquePointer
        let sql: String
        let path: String

        fileprivate init(handle: OpaquePointer, connection: OpaquePointer, sql: String, path: String) {
            self.handle = handle
            self.connection = connection
            self.sql = sql
            self.path = path
        }

        deinit { sqlite3_finalize(handle) }

        // MARK: Binding

        public func bind(_ value: Int64?, at index: Int) throws(SQLiteError) {
            guard let value else { return try bindNull(at: index) }
            try check(sqlite3_bind_int64(handle, position(index), value))
        }

        public func bind(_ value: Int?, at index: Int) throws(SQLiteError) {
            try bind(value.map(Int64.init), at: index)
        }

        public func bind(_ value: Int32?, at index: Int) throws(SQLiteError) {
            try bind(value.map(Int64.init), at: index)
        }

        public func bind(_ value: Double?, at index: Int) throws(SQLiteError) {
            guard let value else { return try bindNull(at: index) }
            try check(sqlite3_bind_double(handle, position(index), value))
        }

        public func bind(_ value: String?, at index: Int) throws(SQLiteError) {
            guard var value else { return try bindNull(at: index) }
            // Explicit length: keeps embedded NULs and skips a strlen.
            let rc = value.withUTF8 { utf8 in
                // A nil pointer would bind NULL; the empty string is what was meant.
                guard let base = utf8.baseAddress, !utf8.isEmpty else {
                    return sqlite3_bind_text(handle, position(index), "", 0, Self.transient)
                }
                return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) { text in
                    sqlite3_bind_text64(handle, position(index), text, sqlite3_uint64(utf8.count),
                                        Self.transient, UInt8(SQLITE_UTF8))
                }
            }
            try check(rc)
        }

        /// Binds a copy of `bytes` (SQLite copies it: SQLITE_TRANSIENT). nil binds NULL; an
        /// empty array binds an empty blob, not NULL.
        public func bind(blob bytes: [UInt8]?, at index: Int) throws(SQLiteError) {
            guard let bytes else { return try bindNull(at: index) }
            try bind(blob: bytes[...], at: index)
        }

        public func bind(blob bytes: ArraySlice<UInt8>, at index: Int) throws(SQLiteError) {
            let rc = bytes.withUnsafeBytes { raw in bindBlob(raw, at: index, destructor: Self.transient) }
            try check(rc)
        }

        /// Binds `bytes` *without* copying (SQLITE_STATIC) for the duration of `body`, then
        /// rebinds NULL so SQLite keeps no pointer into the array. For multi-megabyte blobs:
        /// avoids SQLite's private copy (and the memory peak it costs); the row write itself
        /// still copies the bytes into pages, which is unavoidable.
        @discardableResult
        public func withBlob<R>(_ bytes: [UInt8], boundAt index: Int, _ body: () throws -> R) throws -> R {
            try bytes.withUnsafeBytes { raw in
                try check(bindBlob(raw, at: index, destructor: nil))
                defer { sqlite3_bind_null(handle, position(index)) }
                return try body()
            }
        }

        public func bindNull(at index: Int) throws(SQLiteError) {
            try check(sqlite3_bind_null(handle, position(index)))
        }

        private func bindBlob(_ raw: UnsafeRawBufferPointer, at index: Int, destructor: sqlite3_destructor_type?) -> Int32 {
            guard let base = raw.baseAddress, !raw.isEmpty else {
                // A nil pointer would bind NULL; a zero-length blob is what was meant.
                return sqlite3_bind_zeroblob(handle, position(index), 0)
            }
            return sqlite3_bind_blob64(handle, position(index), base, sqlite3_uint64(raw.count), destructor)
        }

        // MARK: Stepping

        /// Advances to the next row: true when a row is available, false when done.
        @discardableResult
        public func step() throws(SQLiteError) -> Bool {
            let rc = sqlite3_step(handle)
            switch rc {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw error(rc)
            }
        }

        /// Makes the statement ready to run again with fresh bindings.
        public func reset() {
            // reset's return code repeats the last step's error, which step already threw.
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }

        // MARK: Reading columns (0-based)

        public func isNull(at column: Int) -> Bool {
            sqlite3_column_type(handle, position(column)) == SQLITE_NULL
        }

        public func int64(at column: Int) -> Int64 { sqlite3_column_int64(handle, position(column)) }

        public func double(at column: Int) -> Double { sqlite3_column_double(handle, position(column)) }

        /// The text of a column; "" for NULL.
        public func string(at column: Int) -> String {
            guard let text = sqlite3_column_text(handle, position(column)) else { return "" }
            let count = Int(sqlite3_column_bytes(handle, position(column)))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        }

        /// The bytes of a column; [] for NULL or an empty blob.
        public func blob(at column: Int) -> [UInt8] {
            // column_blob must be called before column_bytes (it may convert the value).
            guard let bytes = sqlite3_column_blob(handle, position(column)) else { return [] }
            let count = Int(sqlite3_column_bytes(handle, position(column)))
            return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: count))
                initialized = count
            }
        }

        public func optionalInt64(at column: Int) -> Int64? { isNull(at: column) ? nil : int64(at: column) }

        public func optionalDouble(at column: Int) -> Double? { isNull(at: column) ? nil : double(at: column) }

        public func optionalString(at column: Int) -> String? { isNull(at: column) ? nil : string(at: column) }

        // MARK: Helpers

        /// SQLITE_TRANSIENT is a C macro (`(sqlite3_destructor_type)-1`) that Swift cannot import.
        private static let transient = unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)

        /// Out-of-range indexes become Int32.max, which SQLite reports as SQLITE_RANGE.
        private func position(_ index: Int) -> Int32 { Int32(clamping: index) }

        private func check(_ rc: Int32) throws(SQLiteError) {
            guard rc == SQLITE_OK else { throw error(rc) }
        }

        private func error(_ rc: Int32) -> SQLiteError {
            let extended = sqlite3_extended_errcode(connection)
            return SQLiteError(code: extended & 0xFF == rc & 0xFF ? extended : rc,
                               message: String(cString: sqlite3_errmsg(connection)), sql: sql, path: path)
        }
    }
}

// MARK: - SQLiteError

/// A failed SQLite call: the (extended) result code, SQLite's message, the SQL that failed
/// (statement text only, never bound values) and `advice` for the operator reading the log.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// Extended result code, e.g. 1811 (SQLITE_CONSTRAINT_TRIGGER); `primaryCode` is its low byte.
    public let code: Int32
    public let message: String
    public let sql: String?
    public let path: String
    /// What to do about it, in operator terms.
    public let advice: String

    public init(code: Int32, message: String, sql: String?, path: String, advice: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
        self.path = path
        self.advice = advice ?? Self.advice(primaryCode: code & 0xFF, message: message)
    }

    public var primaryCode: Int32 { code & 0xFF }

    /// Another connection holds the lock: retrying later may succeed.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    public var description: String {
        var text = "SQLite error \(code) (\(String(cString: sqlite3_errstr(code)))) on \(path): \(message)"
        if let sql {
            let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingPrefix(while: \.isWhitespace) }
                .joined(separator: " ")
            text += " [SQL: \(oneLine.count > 160 ? String(oneLine.prefix(160)) + "…" : oneLine)]"
        }
        return text + ". " + advice
    }

    private static func advice(primaryCode: Int32, message: String) -> String {
        switch primaryCode {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return "Database is locked: is another ingestd (or a sqlite3 shell in a transaction) using this DATA_DIR? "
                + "Run one ingestd per DATA_DIR; if the writer is legitimate, raise the busy timeout."
        case SQLITE_CANTOPEN:
            return "Cannot open the file: does the directory exist, and may the ingestd user create files in it "
                + "(the database plus its -wal and -shm files)?"
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH:
            return "Not allowed to write: check owner and permissions of the file, its -wal/-shm files and the directory."
        case SQLITE_FULL:
            return "Disk full: free space on the DATA_DIR filesystem; the failed transaction was rolled back."
        case SQLITE_IOERR:
            return "I/O error: check the disk and the kernel log (dmesg); the failed transaction was rolled back."
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return "The file is damaged or not an SQLite database: stop ingestd and move it (with -wal/-shm) aside; "
                + "snapshots are rebuilt from Kafka, the quarantine and HTTP journal may be salvaged with `sqlite3 FILE .recover`."
        case SQLITE_CONSTRAINT:
            return "A constraint or trigger refused the write (see message); nothing of that transaction was written. "
                + "A bug in ingestd, or the database was edited by hand."
        case SQLITE_TOOBIG:
            return "A value exceeds SQLite's size limit (1 GB): a snapshot state that big means series cardinality ran away."
        case SQLITE_NOMEM:
            return "Out of memory."
        case SQLITE_ERROR where message.hasPrefix("no such table"):
            return "Schema missing: open the database with the migrations that create this table "
                + "(Quarantine.schemaSQL, SnapshotStore.schemaSQL, EventJournal.schemaSQL)."
        case SQLITE_ERROR, SQLITE_MISUSE, SQLITE_RANGE:
            return "A bug in ingestd: please report this message."
        default:
            return "See https://www.sqlite.org/rescode.html for this code."
        }
    }
}
