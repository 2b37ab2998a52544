import Foundation
import Logging
import Stream
import Synchronization

/// Sends what the outbox holds: one worker per configured receiver (a dedicated thread with its
/// own libcurl handle and kept-alive connection), so a slow, failing or hanging receiver delays
/// only its own notifications. A housekeeping thread prunes old receipts, updates the queued
/// gauges, and handles entries whose receiver is not configured (they wait with `last_error`
/// saying so, and dead-letter after the default max age of 1 hour).
///
/// Semantics (README "Notifications: delivery"): 2xx delivers; anything else is a failed
/// attempt retried after a backoff doubling from the receiver's initial to its max backoff
/// with jitter, or after exactly `Retry-After` on a 429 or 503; an entry not delivered within
/// the receiver's max age goes to the dead letters and, if its route names one, to the fallback.
public final class NotificationDelivery: Sendable {
    private struct State {
        var workers: [String: ReceiverWorker] = [:]
        /// Workers of receivers removed by a reload: stopped, joined at shutdown.
        var retired: [ReceiverWorker] = []
        var housekeeping: Housekeeping?
        var stopped = false
    }

    public let outbox: Outbox
    private let logger: Logger
    private let userAgent: String
    private let state = Mutex(State())

    public init(outbox: Outbox, logger: Logger, userAgent: String) {
        self.outbox = outbox
        self.logger = logger
        self.userAgent = userAgent
    }

    /// At start and after every successful reload: starts workers for new receivers, passes
    /// changed settings to running ones (from their next attempt), stops removed ones (their
    /// entries stay queued).
    public func configure(receivers: [Receiver]) {
        var started: [ReceiverWorker] = []
        let housekeeping: Housekeeping? = state.withLock { state in
            guard !state.stopped else { return nil }
            var byName: [String: Receiver] = [:]
            for receiver in receivers { byName[receiver.name] = receiver }
            for (name, worker) in state.workers where byName[name] == nil {
                worker.stop()
                state.retired.append(worker)
                state.workers[name] = nil
            }
            for (name, receiver) in byName {
                if let worker = state.workers[name] {
                    worker.update(receiver)
                    continue
                }
                do {
                    let worker = try ReceiverWorker(receiver: receiver, outbox: outbox, logger: logger, userAgent: userAgent,
                                                    wakeReceiver: { [weak self] in self?.wake(receiver: $0) })
                    state.workers[name] = worker
                    started.append(worker)
                } catch {
                    logger.error("cannot start the delivery worker; its notifications stay queued",
                                 metadata: ["receiver": "\(name)", "error": "\(error)"])
                }
            }
            if state.housekeeping == nil {
                state.housekeeping = Housekeeping(outbox: outbox, logger: logger) { [weak self] in self?.wake(receiver: $0) }
                state.housekeeping?.start()
            }
            state.housekeeping?.configure(receivers: Set(state.workers.keys))
            return state.housekeeping
        }
        for worker in started { worker.start() }
        housekeeping?.wake()
    }

    /// Right after a commit that queued for `receiver`.
    public func wake(receiver: String) {
        let worker = state.withLock { $0.workers[receiver] }
        worker?.wake()
    }

    /// Stops every worker, aborting requests in flight at once (an aborted request is not an
    /// attempt: its entry is sent again, same key, after the next start), and returns when all
    /// threads have left. Later calls to `configure` and `wake` do nothing.
    public func shutdown() {
        let (workers, housekeeping) = state.withLock { state in
            state.stopped = true
            let all = Array(state.workers.values) + state.retired
            state.workers = [:]
            state.retired = []
            defer { state.housekeeping = nil }
            return (all, state.housekeeping)
        }
        for worker in workers { worker.stop() }
        housekeeping?.stop()
        for worker in workers { worker.join() }
        housekeeping?.join()
    }
}
