import Logging
import ServiceLifecycle
import Stream

/// Keeps the quarantine to `ingest.quarantine_max_rows` rows, once a minute: a flood of bad
/// input is counted and sampled, but must not fill the disk.
struct QuarantineRetentionService: Service {
    let quarantine: Quarantine
    let maxRows: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let deleted = try quarantine.prune(keepingNewest: maxRows)
                if deleted > 0 {
                    logger.notice("quarantine pruned to ingest.quarantine_max_rows", metadata: [
                        "deleted": "\(deleted)", "max_rows": "\(maxRows)",
                    ])
                }
            } catch {
                logger.error("quarantine prune failed; will retry in a minute", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }
}
