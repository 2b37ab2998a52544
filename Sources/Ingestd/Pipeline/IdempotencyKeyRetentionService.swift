import Logging
import ServiceLifecycle
import Stream

/// Deletes idempotency keys older than 24 h, every ten minutes: lookups already ignore them,
/// this keeps the table from growing with every keyed request ever made.
struct IdempotencyKeyRetentionService: Service {
    let keys: IdempotencyKeys
    let clock: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let deleted = try keys.prune(nowMillis: clock())
                if deleted > 0 { logger.debug("expired idempotency keys deleted", metadata: ["deleted": "\(deleted)"]) }
            } catch {
                logger.error("idempotency key prune failed; will retry in ten minutes", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(600)) }
        }
    }
}
