import ArgumentParser
import Stream
import Logging
import Metrics
import Prometheus

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: consume Kafka (or an embedded broker), serve the HTTP API.")

    @Option(name: .shortAndLong, help: "Config file (YAML). Without it, built-in defaults; INGESTD_* variables override either.")
    var config: String?

    @Flag(help: "Start even if a store layout change (store.resolutions, store.labels) cannot carry all HTTP-ingested history over: keep what converts, drop the rest.")
    var discardHTTPHistory = false

    func run() async throws {
        let settings: IngestdConfig
        do {
            settings = try IngestdConfig.load(path: config)
            try settings.validateForRun()
        } catch {
            FileHandleOutput.standardError("ingestd: invalid configuration\n\(error)\n")
            throw ExitCode(78) // EX_CONFIG: systemd will not restart-loop on a broken file
        }
        LoggingSetup.bootstrap(level: settings.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "ingestd")
        do {
            try await Daemon(config: settings, logger: logger, registry: registry, discardHTTPHistory: discardHTTPHistory,
                             configPath: config).run()
        } catch let error as TLSCertificates.LoadError {
            FileHandleOutput.standardError("ingestd: invalid TLS certificate or key\n\(error)\n")
            logger.critical("invalid TLS certificate or key", metadata: ["error": "\(error)"])
            throw ExitCode(78)
        } catch let error as ConfigErrors {
            // Invalid rule files at start: like a broken config, not something a restart fixes.
            FileHandleOutput.standardError("ingestd: invalid rule files\n\(error)\n")
            logger.critical("invalid rule files", metadata: ["errors": "\(error.errors.count)"])
            throw ExitCode(78)
        } catch {
            logger.critical("ingestd failed", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

import Foundation
