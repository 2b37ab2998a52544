import Alerts
import ArgumentParser
import Foundation
import Stream

/// `ingestd rules test FILE…`: runs rule unit tests (README: Testing rules); prints each case's
/// result, and for a failing one what was expected and what fired; exit 1 on any failure.
struct RulesTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run rule unit tests: input series or events, evaluation times, the alerts expected to be firing.")

    @Option(name: .shortAndLong, help: "Config file for the store labels, resolutions and currencies.")
    var config: String?

    @Argument(help: "Test files (YAML).")
    var files: [String]

    func run() throws {
        let settings = try IngestdConfig.loadForCommand(path: config, exitStatus: 1)
        let runner = RuleTestRunner(configuration: settings.store, defaultCurrency: settings.ingest.currencies.first ?? "USD")
        var failed = 0, passed = 0
        for path in files {
            guard let (file, groups) = Self.load(path, settings: settings) else {
                failed += 1
                continue
            }
            for (name, failures) in try runner.run(file, groups: groups) {
                if failures.isEmpty {
                    print("PASS \(path): \(name)")
                    passed += 1
                } else {
                    print("FAIL \(path): \(name)")
                    for f in failures { print("  \(f)") }
                    failed += 1
                }
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    /// The test file and its rule groups, or nil after printing why they cannot be read.
    private static func load(_ path: String, settings: IngestdConfig) -> (RuleTestFile, [RuleGroup])? {
        let file: RuleTestFile
        do { file = try RuleTestFile.load(path) } catch {
            FileHandleOutput.standardError("\(error)\n")
            return nil
        }
        do {
            let groups = try RuleFileLoader(store: settings.store, defaultIntervalSeconds: file.intervalSeconds).load(files: file.ruleFiles)
            return (file, groups)
        } catch {
            FileHandleOutput.standardError("\(error)\n")
            return nil
        }
    }
}
