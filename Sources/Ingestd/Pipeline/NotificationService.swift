import Alerts
import Logging
import ServiceLifecycle
import Stream

/// Flushes aggregation groups when their `group_wait` / `group_interval` comes due, prunes
/// expired silences, and at shutdown stops the delivery workers (queued notifications stay in
/// the outbox and go out after the next start).
struct NotificationService: Service {
    let notifier: Notifier
    let silences: SilenceStore
    let logger: Logger

    func run() async throws {
        var lastPrune: Int64 = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = WallClock.nowMillis()
            notifier.flush(now: now)
            if now - lastPrune > 3_600_000 {
                do { try silences.prune(now: now) } catch { logger.warning("expired silences could not be pruned", metadata: ["error": "\(error)"]) }
                lastPrune = now
            }
            // A group's deadline is met within 50 ms; rounds flush their own due groups at once.
            let next = notifier.dispatcher.nextDeadline.map { max($0 - WallClock.nowMillis(), 0) } ?? 1000
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(min(max(next, 50), 1000))) }
        }
        notifier.delivery.shutdown()
    }
}
