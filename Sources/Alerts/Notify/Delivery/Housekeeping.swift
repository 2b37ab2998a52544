import Foundation
import Logging
import Stream
import Synchronization

/// The outbox chores no receiver worker does, every few seconds on one thread: pruning old
/// receipts, the queued gauge of each receiver with entries, and entries whose receiver is not
/// configured (no worker serves them): they get a `last_error` saying so and dead-letter (to
/// their fallback, if any) once older than the default max age.
final class Housekeeping: Sendable {
    private let outbox: Outbox
    private let logger: Logger
    private let configured = Mutex<Set<String>>([])
    private let signal = WakeSignal()
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wakeReceiver: @Sendable (String) -> Void

    static let intervalMillis: Int64 = 5_000
    /// The max age of an entry whose receiver is not configured (Receiver's default).
    static let unconfiguredMaxAgeMillis: Int64 = 3_600_000

    init(outbox: Outbox, logger: Logger, wakeReceiver: @escaping @Sendable (String) -> Void) {
        self.outbox = outbox
        self.logger = logger
        self.wakeReceiver = wakeReceiver
    }

    func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                pass(now: WallClock.nowMillis())
                signal.wait(untilMillis: WallClock.nowMillis() + Self.intervalMillis)
            }
            finished.signal()
        }
        thread.name = "notify-housekeeping"
        thread.start()
    }

    func configure(receivers: Set<String>) { configured.withLock { $0 = receivers } }

    func wake() { signal.signal() }

    func stop() {
        stopped.store(true, ordering: .releasing)
        signal.signal()
    }

    func join() { finished.wait() }

    private func pass(now: Int64) {
        do {
            try outbox.prune(nowMillis: now)
            let configured = configured.withLock { $0 }
            for receiver in try outbox.pendingReceivers() {
                DeliveryMetrics(receiver: receiver).queued.record(try outbox.pendingCount(receiver: receiver))
                if !configured.contains(receiver) { try unconfigured(receiver, now: now) }
            }
        } catch {
            logger.error("outbox housekeeping failed; retrying shortly", metadata: ["error": "\(error)"])
        }
    }

    private func unconfigured(_ receiver: String, now: Int64) throws {
        let note = "receiver \"\(receiver)\" is not configured: the notification waits for a reload that defines it, "
            + "and goes to the dead letters \(Self.unconfiguredMaxAgeMillis / 60_000) minutes after it was queued"
        for entry in try outbox.pending(receiver: receiver, limit: 1_000) {
            if entry.deadline(maxAgeMillis: Self.unconfiguredMaxAgeMillis) <= now {
                let fallback = try outbox.deadLetter(entry, atMillis: now, reason: note)
                DeliveryMetrics(receiver: receiver).dead.increment()
                logger.error("notification dead-lettered: its receiver is not configured",
                             metadata: ["receiver": "\(receiver)", "id": "\(entry.id)", "fallback": "\(fallback ?? "none")"])
                if let fallback { wakeReceiver(fallback) }
            } else if entry.lastError != note {
                try outbox.note(id: entry.id, error: note)
            }
        }
    }
}
