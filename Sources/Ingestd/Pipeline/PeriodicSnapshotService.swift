import Logging
import ServiceLifecycle
import Stream

/// Snapshots the HTTP partition every `snapshot.interval` and once more at shutdown (after the
/// HTTP server has stopped: the group shuts services down in reverse order). Kafka partitions
/// are snapshotted by the consumer thread itself, between batches, so their offsets match.
struct PeriodicSnapshotService: Service {
    let engine: PartitionEngine
    let intervalSeconds: Int64
    /// Journaled partitions: their snapshot also truncates the journal it covers.
    let keys: [String]
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
            save()
        }
    }

    private func save() {
        do {
            try engine.save(keys, journaled: Set(keys), nowMillis: WallClock.nowMillis())
        } catch {
            logger.error("snapshot failed; will retry at the next interval", metadata: ["error": "\(error)"])
        }
    }
}
