import Foundation
import Stream
import Testing

@Suite("SnapshotStore")
struct SnapshotStoreTests {
    private static func kafkaShard(_ partition: Int32, nextOffset: Int64, state: [UInt8], takenAt: Int64 = 1_000)
        -> ShardSnapshot {
        ShardSnapshot(shard: "kafka/cost-events/\(partition)", topic: "cost-events", partition: partition,
                      nextOffset: nextOffset, takenAt: takenAt, format: 1, state: state)
    }

    private static func httpShard(state: [UInt8], takenAt: Int64 = 1_000) -> ShardSnapshot {
        ShardSnapshot(shard: "http", takenAt: takenAt, format: 1, state: state)
    }

    @Test func savedSnapshotsLoadBackWithEveryField() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let store = SnapshotStore(database: try SQLiteTestSchema.open(directory.path("s.sqlite")))
        let kafka = Self.kafkaShard(3, nextOffset: 12_345, state: [1, 2, 3], takenAt: 1_700_000_000_123)
        let http = Self.httpShard(state: [])

        try store.save([kafka, http])

        #expect(try store.loadAll() == [http, kafka])  // ordered by shard key
        #expect(try store.load(shard: "kafka/cost-events/3") == kafka)
        #expect(try store.load(shard: "http")?.state == [])
        #expect(try store.load(shard: "kafka/cost-events/4") == nil)
    }

    @Test func saveReplacesTheShardsPreviousSnapshot() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let store = SnapshotStore(database: try SQLiteTestSchema.open(directory.path("s.sqlite")))
        try store.save([Self.kafkaShard(0, nextOffset: 10, state: [1])])

        let newer = Self.kafkaShard(0, nextOffset: 20, state: [2, 2], takenAt: 2_000)
        try store.save([newer])

        #expect(try store.loadAll() == [newer])
    }

    @Test func aSaveOfSeveralShardsIsAllOrNothing() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteTestSchema.open(directory.path("s.sqlite"))
        let store = SnapshotStore(database: database)
        let journal = EventJournal(database: database)
        let before = [Self.httpShard(state: [0]), Self.kafkaShard(0, nextOffset: 10, state: [10]),
                      Self.kafkaShard(1, nextOffset: 11, state: [11]), Self.kafkaShard(2, nextOffset: 12, state: [12])]
        try store.save(before)
        let lastSeq = try journal.append(shard: "http", entries: [(tsMillis: 1, cost: 1, labels: [])])
        try database.execute("""
            CREATE TRIGGER refuse_partition_1 BEFORE INSERT ON shard_snapshot WHEN NEW.shard = 'kafka/cost-events/1'
            BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END
            """)

        // Row 1 is fine, row 2 is refused: neither it, row 1, the deletion nor the truncation may stay.
        let error = #expect(throws: SQLiteError.self) {
            try store.save(
                [Self.kafkaShard(0, nextOffset: 20, state: [20]), Self.kafkaShard(1, nextOffset: 21, state: [21]),
                 Self.httpShard(state: [1])],
                deleting: ["kafka/cost-events/2"], journalThrough: ["http": lastSeq])
        }

        #expect(error?.code == SQLiteTestCode.constraintTrigger)
        #expect(try store.loadAll() == before)
        #expect(try journal.entries(shard: "http", after: 0).map(\.seq) == [lastSeq])
    }

    @Test func deletingInASaveRemovesThoseShards() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let store = SnapshotStore(database: try SQLiteTestSchema.open(directory.path("s.sqlite")))
        try store.save([Self.kafkaShard(0, nextOffset: 1, state: [0]), Self.kafkaShard(1, nextOffset: 1, state: [1])])

        let zero = Self.kafkaShard(0, nextOffset: 2, state: [9])
        try store.save([zero], deleting: ["kafka/cost-events/1"])

        #expect(try store.loadAll() == [zero])
    }

    @Test func deleteShardsRemovesOnlyThose() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let store = SnapshotStore(database: try SQLiteTestSchema.open(directory.path("s.sqlite")))
        let kept = Self.kafkaShard(2, nextOffset: 1, state: [2])
        try store.save([Self.kafkaShard(0, nextOffset: 1, state: [0]), Self.kafkaShard(1, nextOffset: 1, state: [1]), kept])

        try store.delete(shards: ["kafka/cost-events/0", "kafka/cost-events/1", "not-there"])

        #expect(try store.loadAll() == [kept])
    }

    @Test func aLargeStateReadsBackAfterReopen() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("s.sqlite")
        let state = (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let snapshot = Self.kafkaShard(7, nextOffset: 987_654_321, state: state)
        do {
            try SnapshotStore(database: try SQLiteTestSchema.open(path)).save([snapshot])
        }

        let reopened = SnapshotStore(database: try SQLiteTestSchema.open(path))
        #expect(try reopened.load(shard: snapshot.shard) == snapshot)
    }

    @Test func journalEntriesCoveredByASnapshotGoInTheSameSave() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteTestSchema.open(directory.path("s.sqlite"))
        let store = SnapshotStore(database: database)
        let journal = EventJournal(database: database)
        let covered = try journal.append(shard: "http", entries: [(1, 1.0, []), (2, 2.0, [])])
        try journal.append(shard: "other", entries: [(3, 3.0, [])])
        let notCovered = try journal.append(shard: "http", entries: [(4, 4.0, [])])

        try store.save([Self.httpShard(state: [3])], journalThrough: ["http": covered])

        #expect(try store.load(shard: "http")?.state == [3])
        #expect(try journal.entries(shard: "http", after: 0).map(\.seq) == [notCovered])
        #expect(try journal.entries(shard: "other", after: 0).count == 1)
    }

    @Test(.enabled(if: SQLiteShellProcess.isAvailable))
    func aWriterKilledMidSaveLeavesTheLastCommittedSnapshots() async throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("s.sqlite")
        let database = try SQLiteTestSchema.open(path)
        let store = SnapshotStore(database: database)
        let committed = [Self.kafkaShard(0, nextOffset: 100, state: [1, 0, 0]),
                         Self.kafkaShard(1, nextOffset: 200, state: [2, 0, 0])]
        try store.save(committed)

        // Another process rewrites both rows (a big blob, so pages spill) and dies before COMMIT.
        let writer = try SQLiteShellProcess(databasePath: path, directory: directory)
        defer { writer.kill9() }
        try writer.send("""
            BEGIN IMMEDIATE;
            UPDATE shard_snapshot SET next_offset = 999, state = randomblob(4000000) WHERE shard = 'kafka/cost-events/0';
            DELETE FROM shard_snapshot WHERE shard = 'kafka/cost-events/1';
            """)
        try await writer.sync()
        writer.kill9()

        #expect(try store.loadAll() == committed)
        let next = [Self.kafkaShard(0, nextOffset: 101, state: [1, 1])]
        try store.save(next)
        #expect(try store.load(shard: "kafka/cost-events/0") == next[0])
        // A fresh connection (as after our own restart) agrees.
        #expect(try SnapshotStore(database: try SQLiteTestSchema.open(path)).loadAll() == [next[0], committed[1]])
    }
}
