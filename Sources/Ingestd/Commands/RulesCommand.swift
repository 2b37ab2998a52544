import Alerts
import ArgumentParser
import Foundation
import Stream

/// `ingestd rules …`: work on rule files offline (README: Rules).
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check and unit-test rule files offline.",
        subcommands: [RulesCheckCommand.self, RulesTestCommand.self])
}

/// `ingestd rules check [--config FILE] [FILES…]`: validates rule files against the store the
/// config describes, printing every error as file:line:column: message; exit 1 on any.
struct RulesCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate rule files: every error as file:line:column: message on stderr, exit 1 on any; a summary per file otherwise.")

    @Option(name: .shortAndLong, help: "Config file for the store labels, resolutions and the default evaluation interval.")
    var config: String?

    @Argument(help: "Rule files (default: the config's rules.files patterns).")
    var files: [String] = []

    func run() throws {
        let settings = try IngestdConfig.loadForCommand(path: config, exitStatus: 1)
        let loader = RuleFileLoader(store: settings.store, defaultIntervalSeconds: settings.rules.evaluationIntervalSeconds)
        let loaded: RuleFiles
        do {
            loaded = files.isEmpty
                ? try loader.loadAll(patterns: settings.rules.files, origin: settings.rules.filesOrigin)
                : try loader.loadAll(files: files)
        } catch {
            FileHandleOutput.standardError(error.description + "\n")
            FileHandleOutput.standardError("ingestd: \(error.errors.count) error\(error.errors.count == 1 ? "" : "s") in rule files\n")
            throw ExitCode(1)
        }
        let groups = loaded.groups
        var order: [String] = []
        var byFile: [String: [RuleGroup]] = [:]
        for group in groups {
            if byFile[group.file] == nil { order.append(group.file) }
            byFile[group.file, default: []].append(group)
        }
        for file in order {
            let g = byFile[file]!
            let rules = g.reduce(0) { $0 + $1.rules.count }
            print("\(file): OK, \(g.count) group\(g.count == 1 ? "" : "s"), \(rules) rule\(rules == 1 ? "" : "s")")
        }
        let n = loaded.notifications
        if let route = n.route {
            func count(_ r: Route) -> Int { 1 + r.routes.map(count).reduce(0, +) }
            print("notifications: OK, \(n.receivers.count) receiver\(n.receivers.count == 1 ? "" : "s") (\(n.receivers.keys.sorted().joined(separator: ", "))), \(count(route)) route\(count(route) == 1 ? "" : "s"), \(n.inhibitRules.count) inhibit rule\(n.inhibitRules.count == 1 ? "" : "s")")
        } else {
            print("notifications: no route: defined, alerts are not notified")
        }
    }
}
