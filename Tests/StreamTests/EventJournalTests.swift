import Foundation
import Stream
import Testing

@Suite("EventJournal")
struct EventJournalTests {
    private static func entries(_ costs: [Double], shard: String = "x") -> [(tsMillis: Int64, cost: Double, labels: [UInt8])] {
        costs.enumerated().map { (tsMillis: 1_700_000_000_000 + Int64($0.offset), cost: $0.element, labels: Array(shard.utf8)) }
    }

    @Test func appendReturnsTheLastSeqAndEntriesReadBackInOrder() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let journal = EventJournal(database: try SQLiteTestSchema.open(directory.path("j.sqlite")))

        let first = try journal.append(shard: "http", entries: Self.entries([1.5, 2.5]))
        let second = try journal.append(shard: "http", entries: Self.entries([3.25]))

        #expect(first == 2)
        #expect(second == 3)
        let all = try journal.entries(shard: "http", after: 0)
        #expect(all.map(\.seq) == [1, 2, 3])
        #expect(all.map(\.cost) == [1.5, 2.5, 3.25])
        #expect(all.map(\.tsMillis) == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_000])
        #expect(all.allSatisfy { $0.labels == Array("x".utf8) })
        #expect(try journal.entries(shard: "http", after: 2).map(\.seq) == [3])
    }

    @Test func entriesAreKeptPerShard() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let journal = EventJournal(database: try SQLiteTestSchema.open(directory.path("j.sqlite")))

        try journal.append(shard: "a", entries: Self.entries([1]))
        try journal.append(shard: "b", entries: Self.entries([2, 3]))

        #expect(try journal.entries(shard: "a", after: 0).map(\.cost) == [1])
        #expect(try journal.entries(shard: "b", after: 0).map(\.cost) == [2, 3])
        #expect(try journal.entries(shard: "c", after: 0).isEmpty)
    }

    @Test func truncateRemovesOnlyThatShardsEntriesUpToTheSeq() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let journal = EventJournal(database: try SQLiteTestSchema.open(directory.path("j.sqlite")))
        try journal.append(shard: "a", entries: Self.entries([1, 2, 3]))  // seq 1...3
        try journal.append(shard: "b", entries: Self.entries([4]))        // seq 4

        try journal.truncate(shard: "a", through: 2)
        try journal.truncate(shard: "b", through: 2)

        #expect(try journal.entries(shard: "a", after: 0).map(\.seq) == [3])
        #expect(try journal.entries(shard: "b", after: 0).map(\.seq) == [4])
    }

    @Test func seqIsNeverReusedAfterTruncatingEverything() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("j.sqlite")
        do {
            let journal = EventJournal(database: try SQLiteTestSchema.open(path))
            try journal.append(shard: "http", entries: Self.entries([1, 2, 3]))
            try journal.truncate(shard: "http", through: 3)
        }

        let journal = EventJournal(database: try SQLiteTestSchema.open(path))
        #expect(try journal.append(shard: "http", entries: Self.entries([4])) == 4)
    }

    @Test func appendedEntriesSurviveReopen() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("j.sqlite")
        do {
            try EventJournal(database: try SQLiteTestSchema.open(path)).append(shard: "http", entries: Self.entries([9.75]))
        }

        let reopened = EventJournal(database: try SQLiteTestSchema.open(path))
        #expect(try reopened.entries(shard: "http", after: 0).map(\.cost) == [9.75])
    }

    @Test func appendSyncsItsCommitFullyThenRestoresNormal() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteTestSchema.open(directory.path("j.sqlite"))
        try database.execute("""
            CREATE TABLE seen_sync (level INTEGER);
            CREATE TRIGGER record_sync AFTER INSERT ON http_journal
            BEGIN INSERT INTO seen_sync SELECT synchronous FROM pragma_synchronous; END
            """)

        try EventJournal(database: database).append(shard: "http", entries: Self.entries([1]))

        let (during, after) = try database.withConnection { connection in
            (try connection.scalarInt64("SELECT level FROM seen_sync"), try connection.scalarInt64("PRAGMA synchronous"))
        }
        #expect(during == 2)  // FULL while appending
        #expect(after == 1)   // NORMAL again for everything else
    }

    @Test func anEmptyAppendWritesNothing() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let journal = EventJournal(database: try SQLiteTestSchema.open(directory.path("j.sqlite")))

        #expect(try journal.append(shard: "http", entries: []) == 0)
        #expect(try journal.entries(shard: "http", after: 0).isEmpty)
    }
}
