import Foundation
import Synchronization
import Testing
@testable import Stream

/// The partition-state engine with a fake message source: messages applied through
/// `engine.update`, a registered state that counts them, snapshots with a fault injected
/// before every statement, and restores into a fresh store from the reopened file.
@Suite struct PartitionEngineTests {
    /// Registered state: messages applied per partition, changed only under the shard lock.
    final class Counting: PartitionState {
        let name = "counting"
        let counts = Mutex<[String: Int64]>([:])
        struct Corrupt: Error {}

        func add(_ partition: String) { counts.withLock { $0[partition, default: 0] += 1 } }
        func count(_ partition: String) -> Int64? { counts.withLock { $0[partition] } }
        func encode(partition: String) -> [UInt8]? {
            count(partition).map { n in withUnsafeBytes(of: n.littleEndian) { Array($0) } }
        }
        func restore(partition: String, from bytes: [UInt8]) throws {
            guard bytes.count == 8 else { throw Corrupt() }
            counts.withLock { $0[partition] = bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } }
        }
        func reset(partition: String) { counts.withLock { _ = $0.removeValue(forKey: partition) } }
    }

    struct Injected: Error {}

    final class Steps: Sendable {
        let n = Atomic<Int>(0)
        func next() -> Int { n.wrappingAdd(1, ordering: .relaxed).oldValue }
        var value: Int { n.load(ordering: .relaxed) }
    }

    static let partitions = ["kafka/costs/0", "kafka/costs/1"]
    static let base: Int64 = 1_780_000_000_000

    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("engine-\(UUID().uuidString)")

    func configuration() -> StoreConfiguration {
        StoreConfiguration(resolutions: [Resolution(stepSeconds: 60, buckets: 60), Resolution(stepSeconds: 3600, buckets: 24)])
    }

    func labels(_ account: String, _ config: StoreConfiguration) -> StringLabels {
        StringLabels([account, "EC2", "r"] + Array(repeating: "", count: config.inputLabelNames.count - 3))
    }

    /// The fake source: message `offset` of a partition costs offset % 5 + 1 for account a<offset % 3>.
    func apply(_ engine: PartitionEngine, _ counting: Counting, _ key: String, offsets: Range<Int64>) {
        for offset in offsets {
            engine.update(key) { writer in
                _ = writer.apply(labels("a\(offset % 3)", engine.store.configuration), timestampMillis: Self.base + offset * 1000,
                                 cost: Double(offset % 5 + 1))
                writer.advance(past: MessageFingerprint(offset: offset, timestampMillis: offset, bytes: 10))
                counting.add(key)
            }
        }
    }

    /// What a partition holds: (events in the windows, summed cost, next offset, registered count).
    func cut(_ engine: PartitionEngine, _ counting: Counting, _ key: String) throws -> [Int64] {
        let shard = engine.store.shard(key)
        var count: Int64 = 0
        var sum = 0.0
        shard.forEachBucket(stepSeconds: 3600) { _, _, s, c in
            count += Int64(c)
            sum += s
        }
        return [count, Int64(sum), shard.statistics.nextOffset ?? -1, counting.count(key) ?? -1]
    }

    func open(faultAt step: Int? = nil, steps: Steps? = nil) throws -> (PartitionEngine, Counting) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("ingestd.db").path, schema: [StreamSchema.module])
        let snapshots = SnapshotStore(database: database) { _ in
            let n = steps?.next() ?? 0
            if let step, n == step { throw Injected() }
        }
        let engine = PartitionEngine(store: WindowStore(configuration: configuration()), snapshots: snapshots,
                                     logger: .init(label: "test"))
        let counting = Counting()
        engine.register(counting)
        return (engine, counting)
    }

    @Test func aSnapshotInterruptedAtAnyStatementRestoresTheLastCompleteCut() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // How many fault points a complete save of both partitions passes.
        let counted = Steps()
        do {
            let (engine, counting) = try open(steps: counted)
            for key in Self.partitions { apply(engine, counting, key, offsets: 0..<1) }
            try engine.save(Self.partitions, nowMillis: 0)
        }
        let steps = counted.value
        #expect(steps >= 6) // delete, 2 × windows, 2 × clear, 2 × registered, commit
        for step in 0..<steps {
            try? FileManager.default.removeItem(at: directory)
            let (engine, counting) = try open(faultAt: step + steps, steps: Steps())
            for key in Self.partitions { apply(engine, counting, key, offsets: 0..<100) }
            try engine.save(Self.partitions, nowMillis: 1)
            let first = try Self.partitions.map { try cut(engine, counting, $0) }
            for key in Self.partitions { apply(engine, counting, key, offsets: 100..<250) }
            #expect(throws: Injected.self) { try engine.save(Self.partitions, nowMillis: 2) }

            // A new process: a fresh store restored from the file.
            let (restored, restoredCounting) = try open()
            for key in Self.partitions {
                guard case .restored(let position, _) = restored.restore(key) else {
                    Issue.record("partition \(key) not restored after a fault at step \(step)")
                    continue
                }
                #expect(position.nextOffset == 100)
                #expect(position.lastMessage == MessageFingerprint(offset: 99, timestampMillis: 99, bytes: 10))
            }
            let after = try Self.partitions.map { try cut(restored, restoredCounting, $0) }
            #expect(after == first, "fault at step \(step): restored \(after), the last complete snapshot was \(first)")
            for partition in after {
                let (events, next, registered) = (partition[0], partition[2], partition[3])
                #expect(events == registered && next == registered, "windows, offset and registered state disagree: \(partition)")
            }
        }
    }

    @Test func aCompleteSnapshotRestoresWindowsOffsetAndRegisteredStateTogether() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (engine, counting) = try open()
        for key in Self.partitions { apply(engine, counting, key, offsets: 0..<250) }
        try engine.save(Self.partitions, clusterID: "cluster-a", nowMillis: 1)
        let saved = try Self.partitions.map { try cut(engine, counting, $0) }
        let (restored, restoredCounting) = try open()
        for key in Self.partitions {
            guard case .restored(let position, nil) = restored.restore(key) else { Issue.record("not restored"); continue }
            #expect(position.clusterID == "cluster-a")
        }
        #expect(try Self.partitions.map { try cut(restored, restoredCounting, $0) } == saved)
        // Applying after a restore continues the same windows and position.
        apply(restored, restoredCounting, Self.partitions[0], offsets: 250..<260)
        #expect(try cut(restored, restoredCounting, Self.partitions[0])[2] == 260)
    }

    @Test func aRefusedPositionOrAFailingRegisteredStateRebuildsTheWholePartition() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (engine, counting) = try open()
        apply(engine, counting, Self.partitions[0], offsets: 0..<50)
        try engine.save([Self.partitions[0]], clusterID: "a", nowMillis: 1)

        let (other, otherCounting) = try open()
        guard case .rebuild(let reason) = other.restore(Self.partitions[0], check: { $0.clusterID == "b" ? nil : "another cluster" }) else {
            Issue.record("a refused position was restored")
            return
        }
        #expect(reason == "another cluster")
        #expect(try cut(other, otherCounting, Self.partitions[0]) == [0, 0, -1, -1])

        // Registered state that cannot be read: nothing of the cut is installed.
        try engine.snapshots.save([ShardSnapshot(shard: Self.partitions[0], nextOffset: 50, takenAt: 2, format: ShardCodec.formatVersion,
                                                 state: ShardCodec.encode(engine.store.shard(Self.partitions[0])).state,
                                                 registered: ["counting": [1, 2, 3]])])
        let (third, thirdCounting) = try open()
        guard case .rebuild = third.restore(Self.partitions[0]) else {
            Issue.record("a partition with unreadable registered state was restored")
            return
        }
        #expect(try cut(third, thirdCounting, Self.partitions[0]) == [0, 0, -1, -1])
    }

    @Test func releasingAPartitionForgetsItsWindowsAndRegisteredState() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (engine, counting) = try open()
        apply(engine, counting, Self.partitions[0], offsets: 0..<10)
        engine.release([Self.partitions[0]])
        #expect(engine.store.existingShard(Self.partitions[0]) == nil)
        #expect(counting.count(Self.partitions[0]) == nil)
        #expect(engine.store.seriesCount == 0)
    }
}

@Suite struct LayoutConversionTests {
    static let minute = Resolution(stepSeconds: 60, buckets: 120)
    static let hour = Resolution(stepSeconds: 3600, buckets: 48)
    static let base: Int64 = 1_780_000_000_000 / 3_600_000 * 3_600_000

    func filled(_ config: StoreConfiguration) -> WindowStore {
        let store = WindowStore(configuration: config)
        store.shard("s").write { writer in
            for i in 0..<300 {
                let values = ["a\(i % 2)", "EC2", "r"] + config.inputLabelNames.dropFirst(3).map { $0 == "team" ? "t\(i % 3)" : "" }
                _ = writer.apply(StringLabels(values), timestampMillis: Self.base + Int64(i) * 30_000, cost: 1)
            }
            writer.advance(nextOffset: 300)
        }
        return store
    }

    func totals(_ store: WindowStore, step: Int64, window: Int64) throws -> [String: Double] {
        let answer = try store.query(WindowQuery(by: ["account"], span: .last(seconds: window), stepSeconds: step),
                                     atMillis: Self.base + 300 * 30_000 - 1)
        return Dictionary(uniqueKeysWithValues: answer.groups.map { ($0.labels["account"]!, $0.sum) })
    }

    @Test func addedAndRemovedLabelsAndADerivableRingConvertWithoutLoss() throws {
        let old = StoreConfiguration(tagKeys: ["team"], resolutions: [Self.minute, Self.hour])
        let source = filled(old)
        let blob = ShardCodec.encode(source.shard("s")).state
        // team removed (its series merge), owner added (empty), the hourly ring longer, a 5m ring derived from 1m.
        let new = StoreConfiguration(tagKeys: ["owner"], resolutions: [Self.minute, Resolution(stepSeconds: 300, buckets: 24),
                                                                       Resolution(stepSeconds: 3600, buckets: 100)])
        let target = WindowStore(configuration: new)
        #expect(throws: ShardCodec.DecodeError.self) { try target.installShard(from: blob, key: "s") }
        let report = try target.installShard(from: blob, key: "s", conversion: LayoutConversion(labelDefaults: ["owner": "nobody"])).layout
        #expect(report?.lost == [])
        #expect(target.seriesCount == 2)
        #expect(try totals(target, step: 3600, window: 7200) == totals(source, step: 3600, window: 7200))
        #expect(try totals(target, step: 300, window: 7200) == totals(source, step: 60, window: 7200))
        #expect(try totals(target, step: 60, window: 7200) == totals(source, step: 60, window: 7200))
        let owners = try target.query(WindowQuery(by: ["owner"], span: .last(seconds: 7200), stepSeconds: 3600),
                                      atMillis: Self.base + 300 * 30_000 - 1).groups.map { $0.labels["owner"] }
        #expect(owners == ["nobody"])
        #expect(target.shard("s").statistics.nextOffset == 300)
    }

    @Test func aRingNoSavedRingTilesIsReportedAndRefusedUnlessLossIsAllowed() throws {
        let old = StoreConfiguration(resolutions: [Self.minute, Self.hour])
        let blob = ShardCodec.encode(filled(old).shard("s")).state
        let new = StoreConfiguration(resolutions: [Resolution(stepSeconds: 30, buckets: 10), Self.minute, Self.hour])
        let target = WindowStore(configuration: new)
        #expect(throws: ShardCodec.DecodeError.self) { try target.installShard(from: blob, key: "s", conversion: LayoutConversion()) }
        let report = try target.installShard(from: blob, key: "s", conversion: LayoutConversion(allowLoss: true)).layout
        #expect(report?.lost == [Resolution(stepSeconds: 30, buckets: 10)])
        #expect(try totals(target, step: 3600, window: 10800).values.reduce(0, +) == 300)
    }
}

@Suite struct SchemaModuleTests {
    @Test func aFileOnTheLegacyUserVersionIsAdoptedAndMigratedForward() throws {
        let path = NSTemporaryDirectory() + "schema-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let v1 = try SQLiteDatabase(path: path, migrations: [StreamSchema.migrations[0]])
            try v1.execute("INSERT INTO shard_snapshot (shard, taken_at, format, state) VALUES ('http', 1, 1, x'00')")
        }
        let database = try SQLiteDatabase(path: path, schema: [StreamSchema.module, .init(name: "alerts", migrations: [
            .init(version: 1, name: "alerts", sql: "CREATE TABLE alert_state (id INTEGER PRIMARY KEY);"),
        ])])
        let versions = try database.withConnection { c in
            try c.withStatement("SELECT module, version FROM schema_module ORDER BY module") { q in
                var out: [String] = []
                while try q.step() { out.append("\(q.string(at: 0))=\(q.int64(at: 1))") }
                return out
            }
        }
        #expect(versions == ["alerts=1", "stream=\(StreamSchema.migrations.last!.version)"])
        let snapshot = try SnapshotStore(database: database).load(shard: "http")
        #expect(snapshot?.state == [0] && snapshot?.clusterID == nil && snapshot?.registered == [:])
    }
}
