import Foundation
import Logging
import Testing
@testable import Alerts
import Stream

/// Anomaly rules through the real evaluator, store, partition engine and SQLite snapshots.
@Suite struct AnomalyEvaluationTests {
    typealias T = AnomalyDetectorTests
    static let partition = PartitionKey.http

    /// An engine, alert table and evaluator over a SQLite file (a daemon's state, minus I/O).
    struct Instance {
        let engine: PartitionEngine
        let evaluator: RuleEvaluator

        init(path: String) throws {
            let database = try SQLiteDatabase(path: path, schema: [StreamSchema.module, AlertHistory.module])
            engine = PartitionEngine(store: WindowStore(configuration: StoreConfiguration()), snapshots: SnapshotStore(database: database),
                                     logger: Logger(label: "test"))
            let table = AlertTable()
            engine.register(table)
            evaluator = RuleEvaluator(engine: engine, table: table)
        }

        func post(_ account: String, _ cost: Double, at ts: Int64) {
            _ = engine.store.shard(AnomalyEvaluationTests.partition).write {
                $0.apply(StringLabels([account, "AmazonEC2", "us-east-1", "USD"]), timestampMillis: ts, cost: cost)
            }
        }
    }

    static let rules = [RuleGroup(name: "g", intervalSeconds: 600, rules: [
        Rule(name: "CostAnomaly", kind: .anomaly(T.settings), by: ["account", "service"], windowSeconds: 3600, threshold: 0),
    ])]

    /// Hourly charges at minute 17 from t0 for `hours` hours (a 6× spike at `T.incident`), each
    /// applied before the evaluations of the next 10 minutes; calls `cut` once at hour `cutAt`.
    static func run(_ instance: inout Instance, from: Int, to: Int) -> [AlertTransition] {
        var transitions: [AlertTransition] = []
        for h in from..<to {
            let hourStart = T.t0 + Int64(h) * T.hour
            let cost = T.normal(hourStart) * (hourStart == T.incident ? 6 : 1)
            for m in stride(from: 0, to: 60, by: 10) {
                let at = hourStart + Int64(m) * 60_000
                transitions += instance.evaluator.evaluate(rules, atMillis: at).transitions
                if m == 10 { instance.post("111", cost, at: hourStart + 17 * 60_000) }
            }
        }
        return transitions
    }

    static func brief(_ ts: [AlertTransition]) -> [String] { ts.map { "\($0.state.rawValue)@\($0.at) \($0.labels["account"] ?? "")" } }

    @Test func aSpikeFiresOnceAtTheHourItEndsWithItsWhy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var instance = try Instance(path: dir.appendingPathComponent("a.db").path)
        let transitions = Self.run(&instance, from: 0, to: 22 * 24)
        let firing = transitions.filter { $0.state == .firing }
        #expect(firing.map(\.at) == [T.incident + T.hour])
        let why = try #require(firing.first?.annotations)
        #expect(why["reason"] == "spike" && why["expected"]?.hasPrefix("$") == true && why["band"]?.contains(" to $") == true)
    }

    @Test func detectorStateSavedAndRestoredGivesTheSameDecisionsAsAnUninterruptedRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let hours = 22 * 24, cut = 20 * 24 + 7  // past warm-up, hours before the spike
        var whole = try Instance(path: dir.appendingPathComponent("whole.db").path)
        let expected = Self.run(&whole, from: 0, to: hours)
        #expect(expected.contains { $0.state == .firing })

        let path = dir.appendingPathComponent("cut.db").path
        var first = try Instance(path: path)
        let before = Self.run(&first, from: 0, to: cut)
        try first.engine.save([Self.partition], nowMillis: 0)
        // A new process on the same file: windows, alerts and detectors come back from it.
        var second = try Instance(path: path)
        guard case .restored = second.engine.restore(Self.partition) else { Issue.record("not restored"); return }
        #expect(second.evaluator.detectors.count == 1)
        let after = Self.run(&second, from: cut, to: hours)
        #expect(Self.brief(before + after) == Self.brief(expected))
    }

    @Test func aMaxAggregateRuleOnAGroupFirstSeenMidScanDoesNotCrash() throws {
        // Regression: a group created during the scan had no bucket arrays, and min/max rules
        // unwrapped them (the daemon trapped on the first evaluation after a new account).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let instance = try Instance(path: dir.appendingPathComponent("m.db").path)
        let rules = [RuleGroup(name: "g", intervalSeconds: 60, rules: [
            Rule(name: "MaxMinute", by: ["account"], windowSeconds: 3600, aggregation: .max, threshold: 50),
        ])]
        instance.post("111", 80, at: T.t0 + 60_000)
        instance.post("111", 10, at: T.t0 + 120_000)
        let round = instance.evaluator.evaluate(rules, atMillis: T.t0 + 180_000)
        #expect(round.transitions.map(\.state) == [.pending, .firing])
        #expect(round.transitions.first?.value == 80)
    }
}

extension AnomalyEvaluationTests {
    @Test func aRuleReloadedWithAnotherResolutionStartsItsDetectorsOver() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var instance = try Instance(path: dir.appendingPathComponent("r.db").path)
        _ = Self.run(&instance, from: 0, to: 5 * 24)
        let before = try #require(instance.evaluator.detectors.all().values.first?.detector)
        #expect(before.stepSeconds == 3600)
        var settings = T.settings
        settings.stepSeconds = 900
        let edited = [RuleGroup(name: "g", intervalSeconds: 600, rules: [
            Rule(name: "CostAnomaly", kind: .anomaly(settings), by: ["account", "service"], windowSeconds: 900, threshold: 0),
        ])]
        instance.evaluator.retain(rules: [RuleEvaluator.ruleKey(group: "g", rule: "CostAnomaly")])
        let at = T.t0 + 5 * 24 * T.hour
        instance.evaluator.evaluate(edited, atMillis: at)
        instance.evaluator.evaluate(edited, atMillis: at + 900_000)
        let after = try #require(instance.evaluator.detectors.all().values.first?.detector)
        #expect(after.stepSeconds == 900 && instance.evaluator.detectors.count == 1)
    }
}
