import Foundation
import Logging
@testable import Alerts
import Stream

/// A real store, engine and SQLite file for evaluator tests, with events put in by hand.
final class AlertBench {
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000
    /// 2026-11-02T00:00:00Z: a Monday, the month already two days old.
    static let t0: Int64 = 1_793_577_600_000

    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("alerts-\(UUID().uuidString)")
    var engine: PartitionEngine!
    var table: AlertTable!
    var evaluator: RuleEvaluator!
    var history: AlertHistory!
    let configuration = StoreConfiguration(resolutions: [
        Resolution(step: 60, retention: 48 * 3600),
        Resolution(step: 3600, retention: 40 * 86_400),
    ])

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try open()
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// A fresh process: new store, engine and table over the same file.
    func open() throws {
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("ingestd.db").path,
                                          schema: [StreamSchema.module, AlertHistory.module])
        engine = PartitionEngine(store: WindowStore(configuration: configuration), snapshots: SnapshotStore(database: database),
                                 logger: Logger(label: "test"))
        table = AlertTable()
        engine.register(table)
        evaluator = RuleEvaluator(engine: engine, table: table)
        history = AlertHistory(database: database)
    }

    func add(account: String = "111", service: String = "AmazonEC2", currency: String = "USD", at: Int64, cost: Double,
             partition: String = "kafka/costs/0") {
        engine.update(partition) { writer in
            let reason = writer.apply(StringLabels([account, service, "us-east-1", currency]), timestampMillis: at, cost: cost)
            precondition(reason == nil, "event refused: \(String(describing: reason))")
        }
    }

    /// Evaluates one group at `at` and returns the transitions as "state alertname {labels}".
    @discardableResult
    func evaluate(_ rules: [Rule], at: Int64, group: String = "g") -> [AlertTransition] {
        evaluator.evaluate([RuleGroup(name: group, intervalSeconds: 60, rules: rules)], atMillis: at).transitions
    }

    func states(_ transitions: [AlertTransition]) -> [String] { transitions.map(\.state.rawValue) }

    func save() throws { try engine.save(engine.store.allShards.map(\.key), nowMillis: 0) }
}
