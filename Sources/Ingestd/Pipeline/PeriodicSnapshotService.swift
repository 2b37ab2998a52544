import Logging
import ServiceLifecycle
import Stream

/// Snapshots the HTTP shard every `snapshot.interval` and once more at shutdown (after the HTTP
/// server has stopped: the group shuts services down in reverse order). Kafka shards are
/// snapshotted by the consumer thread itself, between batches, so their offsets always match.
struct PeriodicSnapshotService: Service {
    let snapshotter: ShardSnapshotter
    let intervalSeconds: Int64
    let shardKeys: [String]
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
            save()
        }
    }

    private func save() {
        let shards = shardKeys.compactMap { snapshotter.store.existingShard($0) }
        guard !shards.isEmpty else { return }
        do {
            try snapshotter.save(shards, nowMillis: WallClock.nowMillis())
        } catch {
            logger.error("snapshot failed; will retry at the next interval", metadata: ["error": "\(error)"])
        }
    }
}
