import Alerts
import ArgumentParser
import Foundation
import Logging
import Stream

/// `ingestd backtest --rules DIR FILE…`: runs history through the same parser, store and rule
/// evaluator as the daemon, with the event-time watermark as the clock, and prints every alert
/// transition as NDJSON on stdout (the format `score-alerts` reads); a summary goes to stderr.
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Evaluate rule files over NDJSON event history (.gz too) as if live; transitions as NDJSON on stdout.")

    @Option(help: "A rule file, or a directory whose *.yaml and *.yml files are read.")
    var rules: String

    @Argument(help: "NDJSON event files, optionally gzip-compressed (.gz), read in order.")
    var files: [String]

    @Option(name: .shortAndLong, help: "Config file for the store layout, labels, currencies and the default interval.")
    var config: String?

    @Option(help: "Event shape: coststream, focus, cur, or a mapping name from the config.")
    var format = "coststream"

    @Option(help: "Which transitions to print: all, or firing (those score-alerts counts).")
    var print: Selection = .all

    enum Selection: String, ExpressibleByArgument { case all, firing }

    func run() throws {
        let settings = try IngestdConfig.loadForCommand(path: config, exitStatus: 78)
        LoggingSetup.bootstrap(level: settings.logLevel)
        let eventFormat = try settings.eventFormat(named: format)
        let ruleFiles = try Self.ruleFiles(rules)
        let groups: [RuleGroup]
        do {
            groups = try RuleFileLoader(store: settings.store, defaultIntervalSeconds: settings.rules.evaluationIntervalSeconds)
                .load(files: ruleFiles)
        } catch {
            FileHandleOutput.standardError("\(error)\ningestd: invalid rule files\n")
            throw ExitCode(1)
        }

        let evaluation = try EventTimeEvaluation(configuration: settings.store, groups: groups)
        let out = TransitionWriter(onlyFiring: print == .firing)
        var counts: [AlertTransition.State: Int] = [:]
        evaluation.onRound = { _, transitions in
            for t in transitions {
                counts[t.state, default: 0] += 1
                out.write(t)
            }
        }
        let parser = EventParser(options: settings.parserOptions(format: eventFormat))
        var lines = 0
        var bad: [RejectReason: Int] = [:]
        let clock = ContinuousClock()
        let began = clock.now
        for file in files {
            try NDJSONReader(path: file).forEachLine { line, _ in
                lines += 1
                if let rejection = parser.parse(line) {
                    bad[rejection.reason, default: 0] += 1
                    evaluation.countRejected(rejection.reason)
                } else if let reason = evaluation.apply(parser, timestampMillis: parser.timestampMillis, cost: parser.cost) {
                    bad[reason, default: 0] += 1
                }
            }
        }
        if let watermark = evaluation.store.watermarkMillis { evaluation.advance(to: watermark) }
        out.flush()
        let seconds = RuleEvaluator.seconds(clock.now - began)
        let accepted = lines - bad.values.reduce(0, +)
        var summary = "backtest: \(lines) events (\(accepted) counted, \(lines - accepted) bad"
        if !bad.isEmpty { summary += ": " + bad.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ") }
        summary += "); \(groups.reduce(0) { $0 + $1.rules.count }) rules in \(groups.count) groups, \(evaluation.rounds) rounds"
        summary += "; transitions: " + AlertTransition.State.allCases.map { "\($0.rawValue)=\(counts[$0] ?? 0)" }.joined(separator: ", ")
        summary += String(format: "; %.3f s, %d events/s (evaluation %.3f s)", seconds, Int(Double(lines) / max(seconds, 1e-9)),
                          RuleEvaluator.seconds(evaluation.evaluationTime))
        if let w = evaluation.store.watermarkMillis { summary += "; watermark \(UTCCalendar.iso8601(millis: w))" }
        FileHandleOutput.standardError(summary + "\n")
    }

    /// A file as given, or a directory's *.yaml / *.yml files in name order.
    static func ruleFiles(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("--rules \(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        guard !names.isEmpty else { throw ValidationError("--rules \(path): no *.yaml or *.yml files in it") }
        return names.map { (path as NSString).appendingPathComponent($0) }
    }
}
