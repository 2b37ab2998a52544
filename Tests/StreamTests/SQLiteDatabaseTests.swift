import Foundation
import Stream
import Testing

@Suite("SQLiteDatabase")
struct SQLiteDatabaseTests {
    @Test func walModeIsOnWithNormalSyncAndForeignKeys() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("wal.sqlite")
        let database = try SQLiteDatabase(path: path)

        try database.execute("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)")

        let settings = try database.withConnection { connection in
            [try connection.scalarText("PRAGMA journal_mode"),
             try connection.scalarText("PRAGMA synchronous"),
             try connection.scalarText("PRAGMA foreign_keys")]
        }
        #expect(settings == ["wal", "1", "1"])  // synchronous 1 = NORMAL
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func transactionRollsBackEverythingWhenTheBodyThrows() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("rollback.sqlite"))
        try database.execute("CREATE TABLE t (v INTEGER)")

        let thrown = #expect(throws: SQLiteTestFailure.self) {
            try database.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (1)")
                try connection.execute("INSERT INTO t VALUES (2)")
                throw SQLiteTestFailure(reason: "body failed")
            }
        }
        #expect(thrown?.reason == "body failed")
        #expect(try database.withConnection { try $0.scalarInt64("SELECT count(*) FROM t") } == 0)

        // The connection is not left inside the aborted transaction.
        try database.transaction { connection in try connection.execute("INSERT INTO t VALUES (3)") }
        #expect(try database.withConnection { try $0.scalarInt64("SELECT sum(v) FROM t") } == 3)
    }

    @Test func committedValuesOfEveryTypeReadBackAfterReopen() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("reopen.sqlite")
        let bigBlob = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        do {
            let database = try SQLiteDatabase(path: path)
            try database.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, e BLOB, n INTEGER, big BLOB)")
            try database.transaction { connection in
                try connection.withStatement("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") { insert in
                    try insert.bind(Int64.min, at: 1)
                    try insert.bind(-0.125, at: 2)
                    try insert.bind("zürich ☁︎ \u{0}tail", at: 3)
                    try insert.bind(blob: [0, 1, 255], at: 4)
                    try insert.bind(blob: [], at: 5)
                    try insert.bind(nil as Int64?, at: 6)
                    try insert.withBlob(bigBlob, boundAt: 7) { try insert.step() }
                }
            }
        }

        let reopened = try SQLiteDatabase(path: path)
        let row = try reopened.withConnection { connection in
            try connection.withStatement("SELECT i, d, s, b, e, typeof(e), n, big FROM t") { query in
                try #require(try query.step())
                return SQLiteTestRow(
                    i: query.int64(at: 0), d: query.double(at: 1), s: query.string(at: 2), b: query.blob(at: 3),
                    e: query.blob(at: 4), eType: query.string(at: 5), nIsNull: query.isNull(at: 6),
                    n: query.optionalInt64(at: 6), big: query.blob(at: 7), more: try query.step())
            }
        }
        #expect(row.i == Int64.min)
        #expect(row.d == -0.125)
        #expect(row.s == "zürich ☁︎ \u{0}tail")
        #expect(row.b == [0, 1, 255])
        #expect(row.e == [] && row.eType == "blob")  // an empty blob, not NULL
        #expect(row.nIsNull && row.n == nil)
        #expect(row.big == bigBlob)
        #expect(!row.more)
    }

    @Test func migrationsRunOnceInOrderAndSetUserVersion() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("migrate.sqlite")
        // Plain CREATE TABLE (no IF NOT EXISTS): running a step twice would throw.
        let v1 = SQLiteDatabase.Migration(version: 1, name: "a", sql: "CREATE TABLE a (x); INSERT INTO a VALUES (1)")
        let v2 = SQLiteDatabase.Migration(version: 2, name: "b", sql: "CREATE TABLE b (x); INSERT INTO a VALUES (2)")
        let v3 = SQLiteDatabase.Migration(version: 3, name: "c", sql: "INSERT INTO a VALUES (3)")

        _ = try SQLiteDatabase(path: path, migrations: [v1, v2])
        _ = try SQLiteDatabase(path: path, migrations: [v1, v2])
        let database = try SQLiteDatabase(path: path, migrations: [v1, v2, v3])

        let (version, applied) = try database.withConnection { connection in
            (try connection.scalarInt64("PRAGMA user_version"),
             try connection.scalarText("SELECT group_concat(x, ',') FROM (SELECT x FROM a ORDER BY rowid)"))
        }
        #expect(version == 3)
        #expect(applied == "1,2,3")
    }

    @Test func failingMigrationLeavesThePreviousVersionIntact() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("migrate-fail.sqlite")
        let v1 = SQLiteDatabase.Migration(version: 1, name: "a", sql: "CREATE TABLE a (x)")
        let broken = SQLiteDatabase.Migration(version: 2, name: "broken", sql: "CREATE TABLE b (x); INSERT INTO nope VALUES (1)")

        let error = #expect(throws: SQLiteError.self) { _ = try SQLiteDatabase(path: path, migrations: [v1, broken]) }
        #expect(error?.message.contains("no such table: nope") == true)

        let database = try SQLiteDatabase(path: path)
        let (version, tables) = try database.withConnection { connection in
            (try connection.scalarInt64("PRAGMA user_version"),
             try connection.scalarText("SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'"))
        }
        #expect(version == 1)
        #expect(tables == "a")
    }

    @Test func databaseFromANewerBinaryIsRefused() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("newer.sqlite")
        let v1 = SQLiteDatabase.Migration(version: 1, name: "a", sql: "CREATE TABLE a (x)")
        let v2 = SQLiteDatabase.Migration(version: 2, name: "b", sql: "CREATE TABLE b (x)")
        _ = try SQLiteDatabase(path: path, migrations: [v1, v2])

        let error = #expect(throws: SQLiteError.self) { _ = try SQLiteDatabase(path: path, migrations: [v1]) }
        #expect(error?.advice.contains("newer ingestd") == true)
    }

    @Test func errorsCarryCodeMessageSQLAndAdvice() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("errors.sqlite"))

        let syntax = #expect(throws: SQLiteError.self) { try database.execute("SELEC 1") }
        #expect(syntax?.code == SQLiteTestCode.error)
        #expect(syntax?.sql == "SELEC 1")
        #expect(syntax?.message.contains("syntax error") == true)
        #expect(syntax?.description.contains("SELEC 1") == true)

        let missing = #expect(throws: SQLiteError.self) {
            try database.withConnection { connection in
                try connection.withStatement("SELECT * FROM quarantine") { _ in }
            }
        }
        #expect(missing?.advice.contains("Schema missing") == true)

        let twoStatements = #expect(throws: SQLiteError.self) {
            try database.withConnection { connection in try connection.withStatement("SELECT 1; SELECT 2") { _ in } }
        }
        #expect(twoStatements?.code == SQLiteTestCode.misuse)
    }

    @Test func openingInAMissingDirectorySaysToCreateIt() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }

        let error = #expect(throws: SQLiteError.self) {
            _ = try SQLiteDatabase(path: directory.path("no/such/dir/x.sqlite"))
        }
        #expect(error?.primaryCode == SQLiteTestCode.cantOpen)
        #expect(error?.advice.contains("does the directory exist") == true)
    }

    @Test func concurrentTasksGetSerializedTransactions() async throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.path("concurrent.sqlite"))
        try database.execute("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)")

        // A read-modify-write done in Swift: only serialized transactions keep every increment.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 {
                        try database.transaction { connection in
                            let n = try connection.scalarInt64("SELECT n FROM counter") ?? -1
                            try connection.execute("UPDATE counter SET n = \(n + 1)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try database.withConnection { try $0.scalarInt64("SELECT n FROM counter") } == 400)
    }

    @Test func transactionsOnTwoConnectionsWaitForEachOtherInsteadOfFailing() async throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("two-connections.sqlite")
        let first = try SQLiteDatabase(path: path)
        let second = try SQLiteDatabase(path: path)
        try first.execute("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)")

        // Read then write in each transaction: a deferred BEGIN would fail with SQLITE_BUSY
        // (snapshot) when the other connection commits in between; IMMEDIATE waits instead.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for database in [first, second, first, second] {
                group.addTask {
                    for _ in 0..<100 {
                        try database.transaction { connection in
                            let n = try connection.scalarInt64("SELECT n FROM counter") ?? -1
                            usleep(300)  // widen the read-to-write window
                            try connection.execute("UPDATE counter SET n = \(n + 1)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try second.withConnection { try $0.scalarInt64("SELECT n FROM counter") } == 400)
    }

    @Test(.enabled(if: SQLiteShellProcess.isAvailable))
    func anotherProcessesOpenWriteNeitherBlocksReadsNorSurvivesItsKill9() async throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("shared.sqlite")
        let database = try SQLiteDatabase(path: path, busyTimeoutMillis: 100)
        try database.execute("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)")

        let writer = try SQLiteShellProcess(databasePath: path, directory: directory)
        defer { writer.kill9() }
        try writer.send("BEGIN IMMEDIATE; UPDATE t SET v = 2; INSERT INTO t VALUES (3);")
        try await writer.sync()

        // WAL: the reader sees the last commit while the writer's transaction is open.
        #expect(try database.withConnection { try $0.scalarInt64("SELECT sum(v) FROM t") } == 1)
        // A second writer waits busy_timeout, then gets an error saying what is going on.
        let busy = #expect(throws: SQLiteError.self) {
            try database.transaction { connection in try connection.execute("INSERT INTO t VALUES (10)") }
        }
        #expect(busy?.isBusy == true)
        #expect(busy?.advice.contains("another ingestd") == true)

        writer.kill9()

        #expect(try database.withConnection { try $0.scalarInt64("SELECT sum(v) FROM t") } == 1)
        try database.transaction { connection in try connection.execute("INSERT INTO t VALUES (10)") }
        #expect(try database.withConnection { try $0.scalarInt64("SELECT sum(v) FROM t") } == 11)
    }

    @Test(.enabled(if: SQLiteShellProcess.isAvailable))
    func commitsOfAWriterKilledWithSigkillAreAllThere() async throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("killed.sqlite")
        do {
            let database = try SQLiteDatabase(path: path)
            try database.execute("CREATE TABLE t (v INTEGER)")
        }  // closed: the WAL is checkpointed and removed

        // The same settings SQLiteDatabase uses: WAL with synchronous=NORMAL.
        let writer = try SQLiteShellProcess(databasePath: path, directory: directory)
        try writer.send("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        for v in 1...3 { try writer.send("BEGIN IMMEDIATE; INSERT INTO t VALUES (\(v)); COMMIT;") }
        try await writer.sync()
        writer.kill9()
        let walBytes = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
        #expect(walBytes > 0)  // the commits live only in the un-checkpointed WAL

        let reopened = try SQLiteDatabase(path: path)
        #expect(try reopened.withConnection { try $0.scalarText("SELECT group_concat(v) FROM t") } == "1,2,3")
    }
}

// MARK: - Helpers shared by the persistence tests

/// Result codes, spelled out here so the tests need not import the C module.
enum SQLiteTestCode {
    static let error: Int32 = 1
    static let busy: Int32 = 5
    static let cantOpen: Int32 = 14
    static let constraint: Int32 = 19
    static let misuse: Int32 = 21
    static let constraintTrigger: Int32 = 1811
}

struct SQLiteTestFailure: Error, Equatable {
    var reason: String
}

struct SQLiteTestRow {
    var i: Int64, d: Double, s: String, b: [UInt8], e: [UInt8], eType: String, nIsNull: Bool, n: Int64?
    var big: [UInt8], more: Bool
}

/// A fresh directory under /tmp; `remove()` it in a `defer`.
struct SQLiteTestDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The stream persistence schema as the daemon would open it.
enum SQLiteTestSchema {
    static func open(_ path: String, busyTimeoutMillis: Int32 = 5_000) throws -> SQLiteDatabase {
        try SQLiteDatabase(path: path, busyTimeoutMillis: busyTimeoutMillis, schema: [StreamSchema.module])
    }
}

/// A second process writing to the same file: the `sqlite3` shell fed over a pipe.
final class SQLiteShellProcess {
    static let executable = "/usr/bin/sqlite3"
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    private let process = Process()
    private let input = Pipe()
    private let directory: SQLiteTestDirectory
    private let stderrPath: String
    private var syncs = 0

    init(databasePath: String, directory: SQLiteTestDirectory) throws {
        self.directory = directory
        stderrPath = directory.path("sqlite3-\(UUID().uuidString).stderr")
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.executable)
        // -bail: stop at the first error, so a failed statement shows up as a failed sync.
        process.arguments = ["-batch", "-bail", databasePath]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        try send(".timeout 5000")
    }

    func send(_ sql: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data((sql + "\n").utf8))
    }

    /// Returns once the shell has executed everything sent so far: it writes a marker file
    /// (closing a `.output` file flushes it, unlike the pipe-buffered stdout).
    func sync(timeout: Duration = .seconds(20)) async throws {
        syncs += 1
        let marker = directory.path("sqlite3-sync-\(syncs)-\(UUID().uuidString)")
        try send(".output \(marker)\n.print synced\n.output stdout")
        let deadline = ContinuousClock.now + timeout
        while (try? String(contentsOfFile: marker, encoding: .utf8)) != "synced\n" {
            guard process.isRunning, ContinuousClock.now < deadline else {
                let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                throw SQLiteTestFailure(reason: "sqlite3 did not reach sync \(syncs): \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// SIGKILL: the process dies mid-whatever, as in a crash; the kernel drops its file locks.
    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
