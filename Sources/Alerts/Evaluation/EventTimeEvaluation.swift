import Foundation
import Logging
import Stream

/// Rules evaluated against history as they would have been live: events go through the same
/// parser and store as a replay, and each group is evaluated at every multiple of its interval
/// that the event-time watermark passes — before the first event stamped at or after that
/// instant is applied, so an evaluation at T sees exactly the events up to T (plus any late
/// ones that arrived before, as live). Used by `ingestd backtest` and `ingestd rules test`.
public final class EventTimeEvaluation {
    public let evaluator: RuleEvaluator
    public let groups: [RuleGroup]
    private let shard: Shard
    private let engine: PartitionEngine
    private let directory: URL
    /// Next evaluation time per group (nil until the first event fixes the start).
    private var due: [Int64?]
    public private(set) var rounds = 0
    public private(set) var evaluationTime: Duration = .zero
    /// Called with every round's transitions, in order.
    public var onRound: (_ at: Int64, _ transitions: [AlertTransition]) -> Void = { _, _ in }

    public static let partition = PartitionKey.replay

    /// - Parameter startMillis: the first evaluation instant (aligned down per group); nil: the
    ///   first event's time, aligned up.
    public init(configuration: StoreConfiguration, groups: [RuleGroup], startMillis: Int64? = nil) throws {
        // The engine saves nothing here; it needs a file for its schema all the same.
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("eval.db").path,
                                          schema: [StreamSchema.module, AlertHistory.module])
        let engine = PartitionEngine(store: WindowStore(configuration: configuration), snapshots: SnapshotStore(database: database),
                                     logger: Logger(label: "ingestd.evaluation"))
        let table = AlertTable()
        engine.register(table)
        evaluator = RuleEvaluator(engine: engine, table: table)
        self.groups = groups
        self.engine = engine
        shard = engine.store.shard(Self.partition)
        due = groups.map { g in startMillis.map { s in Self.floor(s, g.intervalSeconds * 1000) } }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    public var store: WindowStore { evaluator.engine.store }

    static func floor(_ t: Int64, _ step: Int64) -> Int64 { t >= 0 ? t / step * step : ((t + 1) / step - 1) * step }

    /// Applies one event at `timestampMillis`, first evaluating every group due before it.
    /// Returns why the store refused the event, if it did. `partition` (rule tests): another
    /// input's partition, so the series carry its `source`.
    @discardableResult
    public func apply(_ labels: some LabelSource, timestampMillis ts: Int64, cost: Double, partition: String? = nil) -> RejectReason? {
        advance(to: ts, inclusive: false)
        let target = partition.map { engine.store.shard($0) } ?? shard
        return target.write { $0.apply(labels, timestampMillis: ts, cost: cost) }
    }

    /// The partition whose series have `source` (rule tests name a source as an input label).
    public static func partition(forSource source: String) -> String? {
        switch source {
        case "kafka": PartitionKey.kafka(TopicPartition(topic: "rules-test", partition: 0))
        case PartitionKey.http, PartitionKey.replay, PartitionKey.costExplorer: source
        default: nil
        }
    }

    /// Counts an event the parser refused (so the shard's counters cover every line).
    public func countRejected(_ reason: RejectReason) { shard.write { $0.countRejected(reason) } }

    /// Evaluates every group due at or before `millis` (or strictly before, for an event at it).
    public func advance(to millis: Int64, inclusive: Bool = true) {
        for i in groups.indices where due[i] == nil {
            let step = groups[i].intervalSeconds * 1000
            due[i] = Self.floor(millis, step) + (Self.floor(millis, step) == millis && !inclusive ? 0 : step)
        }
        while true {
            guard let next = due.compactMap({ $0 }).min(), inclusive ? next <= millis : next < millis else { return }
            var ready: [RuleGroup] = []
            for i in groups.indices where due[i] == next {
                ready.append(groups[i])
                due[i] = next + groups[i].intervalSeconds * 1000
            }
            let round = evaluator.evaluate(ready, atMillis: next)
            rounds += 1
            evaluationTime += round.duration
            onRound(next, round.transitions)
        }
    }
}
