import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The last line of defence behind `shutdown.grace`: once a shutdown starts (a signal, or a
/// service that ended or failed), the process is gone within the grace plus a margin, even if
/// some thread is stuck in a C library (librdkafka's close, a hung broker). ServiceGroup cancels
/// services past the grace; this exits 1 if the process still has not finished after that.
enum ShutdownDeadline {
    static let marginSeconds: Int64 = 5

    static func enforce(graceSeconds: Int64, logger: Logger, _ body: () async throws -> Void) async throws {
        let started = Atomic<Bool>(false)
        let arm: @Sendable () -> Void = {
            guard started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
            let thread = Thread {
                Thread.sleep(forTimeInterval: TimeInterval(graceSeconds + marginSeconds))
                logger.critical("shutdown did not finish within shutdown.grace; exiting", metadata: ["grace_seconds": "\(graceSeconds)"])
                exit(1)
            }
            thread.name = "ingestd-shutdown-deadline"
            thread.start()
        }
        do {
            try await withGracefulShutdownHandler {
                try await body()
            } onGracefulShutdown: {
                arm()
            }
        } catch {
            arm() // a failed service: the rest of the way out is bounded too
            throw error
        }
    }
}
