import Foundation
import Logging
import Stream
import Synchronization

/// Delivers one receiver's outbox entries, oldest first, on its own thread with its own
/// connection: a receiver that hangs or fails holds up only itself. After a failed attempt the
/// receiver pauses until the entry's next attempt (FIFO is kept; nothing behind it overtakes).
final class ReceiverWorker: Sendable {
    let name: String
    private let settings: Mutex<Receiver>
    private let outbox: Outbox
    private let session: CurlSession
    private let signal = WakeSignal()
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let userAgent: String
    private let metrics: DeliveryMetrics
    /// Wakes the fallback receiver after a dead letter queued an entry for it.
    private let wakeReceiver: @Sendable (String) -> Void

    /// How long an idle worker sleeps before it looks at the outbox again on its own (a missed
    /// `wake` costs at most this).
    static let idleRecheckMillis: Int64 = 30_000

    init(receiver: Receiver, outbox: Outbox, logger: Logger, userAgent: String,
         wakeReceiver: @escaping @Sendable (String) -> Void) throws {
        name = receiver.name
        settings = Mutex(receiver)
        self.outbox = outbox
        session = try CurlSession()
        var logger = logger
        logger[metadataKey: "receiver"] = .string(receiver.name)
        self.logger = logger
        self.userAgent = userAgent
        metrics = DeliveryMetrics(receiver: receiver.name)
        self.wakeReceiver = wakeReceiver
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "notify-\(name)"
        thread.start()
    }

    /// New settings take effect from the next attempt.
    func update(_ receiver: Receiver) {
        settings.withLock { $0 = receiver }
        signal.signal()
    }

    func wake() { signal.signal() }

    /// Ends the loop and aborts a request in flight (not counted as an attempt: the entry stays
    /// as it was and is sent again, with the same key, by the next worker for this receiver).
    func stop() {
        stopped.store(true, ordering: .releasing)
        session.abort()
        signal.signal()
    }

    /// Waits until the thread has left its loop (after `stop`).
    func join() { finished.wait() }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func run() {
        while !isStopped {
            let receiver = settings.withLock { $0 }
            let now = WallClock.nowMillis()
            let head: PendingNotification?
            do {
                head = try outbox.head(receiver: name)
            } catch {
                logger.error("cannot read the outbox; retrying in 1 s", metadata: ["error": "\(error)"])
                signal.wait(untilMillis: now + 1_000)
                continue
            }
            guard let head else {
                metrics.queued.record(0)
                signal.wait(untilMillis: now + Self.idleRecheckMillis)
                continue
            }
            let deadline = head.deadline(maxAgeMillis: receiver.maxAgeMillis)
            if now >= deadline {
                deadLetter(head, receiver: receiver, now: now)
                continue
            }
            if let next = head.nextAttemptAt, next > now {
                signal.wait(untilMillis: min(next, deadline))
                continue
            }
            attempt(head, receiver: receiver, deadline: deadline)
        }
    }

    private func attempt(_ entry: PendingNotification, receiver: Receiver, deadline: Int64) {
        let body: [UInt8]
        do {
            body = try NotificationBody.render(try entry.message(), for: receiver.kind)
        } catch {
            // A row this binary cannot read or render: retrying will not help, so it waits for
            // its max age with the reason recorded, and is then dead-lettered.
            record(failure: "the stored notification cannot be rendered: \(error)", entry: entry, nextAttemptAt: deadline)
            return
        }
        let now = WallClock.nowMillis()
        var headers = ["Content-Type: application/json", "User-Agent: \(userAgent)", "Idempotency-Key: \(entry.idempotencyKey)"]
        if let secret = receiver.signingSecret {
            let timestamp = now / 1000
            headers.append("X-Ingestd-Timestamp: \(timestamp)")
            headers.append("X-Ingestd-Signature: \(RequestSignature.header(secret: secret.value, timestamp: timestamp, body: body))")
        }
        let outcome = session.perform(.init(url: receiver.url.value, headers: headers, body: body, timeoutMillis: receiver.timeoutMillis))
        let after = WallClock.nowMillis()
        switch outcome {
        case .aborted:
            return
        case .answered(let status, _, _) where (200..<300).contains(status):
            do {
                try outbox.markDelivered(id: entry.id, atMillis: after)
                metrics.sent.increment()
                logger.debug("notification delivered", metadata: ["id": "\(entry.id)", "status": "\(status)", "attempts": "\(entry.attempts + 1)"])
            } catch {
                // Delivered but not recorded: it will be sent again with the same idempotency key.
                logger.error("notification delivered but not marked so; it will be sent again with the same key",
                             metadata: ["id": "\(entry.id)", "error": "\(error)"])
                signal.wait(untilMillis: after + 1_000)
            }
        case .answered(let status, let retryAfter, let text):
            let answer = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let error = "HTTP \(status)" + (answer.isEmpty ? "" : ": \(answer)")
            var delay: Int64
            if (status == 429 || status == 503) && retryAfter > 0 {
                // The receiver said when: wait exactly that (the deadline caps it).
                delay = retryAfter > Int64.max / 1000 ? .max : retryAfter * 1000
            } else {
                delay = Backoff.delayMillis(failures: entry.attempts + 1, initial: receiver.initialBackoffMillis,
                                            maximum: receiver.maxBackoffMillis)
            }
            delay = min(delay, max(0, deadline &- after))
            record(failure: error, entry: entry, nextAttemptAt: after &+ delay)
        case .failed(let text):
            let delay = min(Backoff.delayMillis(failures: entry.attempts + 1, initial: receiver.initialBackoffMillis,
                                                maximum: receiver.maxBackoffMillis), max(0, deadline &- after))
            record(failure: text, entry: entry, nextAttemptAt: after &+ delay)
        }
    }

    private func record(failure error: String, entry: PendingNotification, nextAttemptAt: Int64) {
        metrics.failed.increment()
        logger.warning("notification attempt failed", metadata: [
            "id": "\(entry.id)", "attempts": "\(entry.attempts + 1)", "error": "\(error)",
            "next_attempt_in_ms": "\(max(0, nextAttemptAt &- WallClock.nowMillis()))",
        ])
        do {
            try outbox.markFailed(id: entry.id, error: error, nextAttemptAt: nextAttemptAt)
        } catch {
            logger.error("cannot record a failed attempt; retrying in 1 s", metadata: ["id": "\(entry.id)", "error": "\(error)"])
            signal.wait(untilMillis: WallClock.nowMillis() + 1_000)
        }
    }

    private func deadLetter(_ entry: PendingNotification, receiver: Receiver, now: Int64) {
        let reason = "not delivered within max age \(receiver.maxAgeMillis) ms (no attempt made)"
        do {
            let fallback = try outbox.deadLetter(entry, atMillis: now, reason: reason)
            metrics.dead.increment()
            logger.error("notification dead-lettered: not delivered within the receiver's max age", metadata: [
                "id": "\(entry.id)", "attempts": "\(entry.attempts)", "error": "\(entry.lastError ?? reason)",
                "fallback": "\(fallback ?? "none")",
            ])
            if let fallback { wakeReceiver(fallback) }
        } catch {
            logger.error("cannot move a notification to the dead letters; retrying in 1 s", metadata: ["id": "\(entry.id)", "error": "\(error)"])
            signal.wait(untilMillis: now + 1_000)
        }
    }
}
