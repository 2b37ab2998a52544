// The anomaly detector's cost per point (release, one core), and what it means for 100,000
// series at a 1-minute resolution: 100,000 points a minute must take well under a minute.

import Alerts
import Benchmark
import Foundation
import Logging
import Stream

/// `count` seasonal detectors, each warmed with 8 days of hourly points (past warm-up, every
/// seasonal row filled), and the next step to feed them.
final class DetectorFixture: @unchecked Sendable {
    var detectors: [AnomalyDetector]
    var next: Int64
    let stepSeconds: Int64
    static let settings = AnomalySettings(minImpactAmount: 20, minImpactPercent: 50)

    init(count: Int, stepSeconds: Int64) {
        self.stepSeconds = stepSeconds
        let t0: Int64 = 1_780_272_000_000
        let steps = Int(8 * 86_400 / stepSeconds)
        var template = AnomalyDetector(stepSeconds: stepSeconds, method: .seasonal)
        for i in 0..<steps { template.observe(Self.value(i, series: 0), stepStart: t0 + Int64(i) * stepSeconds * 1000, settings: Self.settings) }
        detectors = Array(repeating: template, count: count)
        next = t0 + Int64(steps) * stepSeconds * 1000
    }

    static func value(_ i: Int, series: Int) -> Double { 10 + 5 * sin(Double(i + series) / 3.8) }

    /// One point for every detector; returns how many decisions were anomalous.
    func round() -> Int {
        var anomalous = 0
        for s in detectors.indices {
            if detectors[s].observe(Self.value(Int(next / 1000 / stepSeconds), series: s), stepStart: next, settings: Self.settings).isAnomalous { anomalous += 1 }
        }
        next += stepSeconds * 1000
        return anomalous
    }
}

func registerAnomalyDetectorBenchmarks() {
    for step: Int64 in [3600, 60] {
        let count = 100_000
        Benchmark(
            "anomaly: one point for each of 100,000 detectors at \(step == 60 ? "1m" : "1h") steps",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], timeUnits: .milliseconds,
                                 warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 30)
        ) { benchmark, fixture in
            let start = ContinuousClock.now
            benchmark.startMeasurement()
            let anomalous = fixture.round()
            benchmark.stopMeasurement()
            let elapsed = ContinuousClock.now - start
            blackHole(anomalous)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            Summary.shared.line(String(format: "anomaly detector, %@ steps: %.0f ns per point; 100,000 series take %.1f ms per step = %.3f %% of one core at 1-minute steps (%d anomalous)",
                                       step == 60 ? "1m" : "1h", seconds / Double(count) * 1e9, seconds * 1000, seconds / 60 * 100, anomalous))
        } setup: {
            DetectorFixture(count: count, stepSeconds: step)
        }
    }
}

/// The query fixture's 100,000 series under one anomaly rule grouping by account and service
/// (100,000 detectors), past its seed round; each measured round is one hour later, so every
/// detector takes one new step.
final class AnomalyRoundFixture: @unchecked Sendable {
    let evaluator: RuleEvaluator
    let groups: [RuleGroup]
    var at: Int64
    let directory: URL

    init() {
        let query = QueryFixture.make()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-bench-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try! SQLiteDatabase(path: directory.appendingPathComponent("bench.db").path,
                                           schema: [StreamSchema.module, AlertHistory.module])
        let engine = PartitionEngine(store: query.store, snapshots: SnapshotStore(database: database), logger: Logger(label: "bench"))
        let table = AlertTable()
        engine.register(table)
        evaluator = RuleEvaluator(engine: engine, table: table)
        let rule = Rule(name: "CostAnomaly", kind: .anomaly(DetectorFixture.settings), by: ["account", "service"],
                        windowSeconds: 3600, threshold: 0)
        groups = [RuleGroup(name: "bench", intervalSeconds: 60, rules: [rule])]
        at = query.atMillis + 3_600_000
        evaluator.evaluate(groups, atMillis: at)  // finds the groups
        at += 60_000
        evaluator.evaluate(groups, atMillis: at)  // the seed round creates the detectors
        at += 3_600_000
    }

    func round() -> RuleEvaluator.Round {
        defer { at += 3_600_000 }
        return evaluator.evaluate(groups, atMillis: at)
    }
}

func registerAnomalyRoundBenchmark() {
    Benchmark(
        "anomaly: one round of an anomaly rule over 100,000 series (100,000 detectors, one new step each)",
        configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], timeUnits: .milliseconds,
                             warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20)
    ) { benchmark, fixture in
        benchmark.startMeasurement()
        let cpuBefore = threadCPUSeconds()
        let round = fixture.round()
        let cpu = threadCPUSeconds() - cpuBefore
        benchmark.stopMeasurement()
        if fixture.evaluator.detectors.count != 100_000 { benchmark.error("\(fixture.evaluator.detectors.count) detectors, expected 100,000") }
        Summary.shared.line(String(format: "anomaly round, 100,000 series / detectors, one new 1h step each: %.1f ms thread CPU, %.1f ms wall (%.2f %% of a core at 1-minute steps)",
                                   cpu * 1000, seconds(round.duration) * 1000, cpu / 60 * 100))
        blackHole(round)
    } setup: {
        AnomalyRoundFixture()
    }
}
