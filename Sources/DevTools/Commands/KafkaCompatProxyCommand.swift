import ArgumentParser
@preconcurrency import Dispatch
import Foundation
import Logging

/// `ingestd kafka-compat-proxy`: the ApiVersions compat proxy on its own, for running
/// Tansu by hand or from other tools.
public struct KafkaCompatProxyCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "kafka-compat-proxy",
        abstract: "Proxy a Kafka-compatible broker for librdkafka < 2.2 (for tests and demos against Tansu).",
        discussion: """
            Forwards Kafka traffic unchanged, except ApiVersions v3+ responses, whose tagged \
            fields it removes: librdkafka before 2.2.0 (Debian 12 ships 2.0.2) fails on them \
            with "ApiVersionRequest failed: Local: Read underflow". Start the broker with its \
            advertised listener set to the --listen address. Prints "listening on HOST:PORT" \
            once bound and runs until SIGTERM or SIGINT.
            """
    )

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
    var listen: HostAndPort = HostAndPort(host: "127.0.0.1", port: 0)

    @Option(help: "The broker's real listener, HOST:PORT.")
    var upstream: HostAndPort

    public func run() async throws {
        let logger = Logger(label: "ingestd.kafka-compat-proxy")
        let signals = TerminationSignals()  // before binding, so no early SIGTERM is missed
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: listen.host, listenPort: listen.port,
            upstreamHost: upstream.host, upstreamPort: upstream.port,
            logger: logger)
        // Tests and scripts read this line to learn the port: write it unbuffered.
        FileHandle.standardOutput.write(Data("listening on \(proxy.address)\n".utf8))
        let signal = await signals.next()
        logger.info("stopping on signal", metadata: ["signal": "\(signal)"])
        await proxy.close()
    }
}

/// "HOST:PORT" on the command line.
struct HostAndPort: Sendable, Equatable, ExpressibleByArgument, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"),
            let port = Int(argument[argument.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(argument[..<colon])
        self.init(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    var description: String { "\(host):\(port)" }
    var defaultValueDescription: String { description }
}

/// Waits for SIGTERM or SIGINT. Creating it takes over both signals for the rest of
/// the process (their default action would kill it before cleanup runs).
final class TerminationSignals: Sendable {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    init(_ signals: [Int32] = [SIGTERM, SIGINT]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// The next signal received.
    func next() async -> Int32 {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() ?? SIGTERM
    }

    deinit {
        sources.forEach { $0.cancel() }
    }
}
