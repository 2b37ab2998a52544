import Logging
import ServiceLifecycle
import Stream

/// Snapshots the HTTP partition every `snapshot.interval`, as soon as its alert state changed,
/// and once more at shutdown (after the
/// HTTP server has stopped: the group shuts services down in reverse order). Kafka partitions
/// are snapshotted by the consumer thread itself, between batches, so their offsets match.
struct PeriodicSnapshotService: Service {
    let engine: PartitionEngine
    let intervalSeconds: Int64
    /// Journaled partitions: their snapshot also truncates the journal it covers.
    let keys: [String]
    let logger: Logger

    func run() async throws {
        var last = WallClock.nowMillis()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Awake a few times a second: alert transitions become durable (and deliverable)
            // with the snapshot, so a partition whose alerts changed is saved without waiting.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
            let due = WallClock.nowMillis() - last >= intervalSeconds * 1000
            if due || Task.isShuttingDownGracefully || Task.isCancelled || keys.contains(where: engine.hasUnsavedChanges) {
                save()
                last = WallClock.nowMillis()
            }
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
