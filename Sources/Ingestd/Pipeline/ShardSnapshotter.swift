import Logging
import Stream

/// Captures shards and saves them with the positions they cover, in one SQLite transaction.
/// Each shard is encoded under its own lock, so its state and its position always agree.
struct ShardSnapshotter: Sendable {
    let store: WindowStore
    let snapshots: SnapshotStore
    let logger: Logger

    /// Snapshots the given shards (Kafka shards carry topic/partition; the HTTP shard truncates
    /// its journal through the seq it covers) and deletes `removed` shards' rows.
    @discardableResult
    func save(_ shards: [Shard], removed: [String] = [], nowMillis: Int64) throws -> Int {
        var rows: [ShardSnapshot] = []
        var journalThrough: [String: Int64] = [:]
        var bytes = 0
        for shard in shards {
            let (state, next) = ShardCodec.encode(shard)
            let kafka = KafkaShardKey(shard.key)
            rows.append(ShardSnapshot(shard: shard.key, topic: kafka?.topic, partition: kafka?.partition, nextOffset: next,
                                      takenAt: nowMillis, format: ShardCodec.formatVersion, state: state))
            if kafka == nil, let next { journalThrough[shard.key] = next - 1 }
            bytes += state.count
        }
        try snapshots.save(rows, deleting: removed, journalThrough: journalThrough)
        logger.debug("snapshot saved", metadata: ["shards": "\(rows.count)", "bytes": "\(bytes)"])
        return bytes
    }
}

/// `kafka/<topic>/<partition>`: the shard of one Kafka partition.
struct KafkaShardKey: Hashable, Sendable {
    let topic: String
    let partition: Int32

    init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    init?(_ key: String) {
        guard key.hasPrefix("kafka/"), let slash = key.lastIndex(of: "/"), let p = Int32(key[key.index(after: slash)...]) else { return nil }
        let topicStart = key.index(key.startIndex, offsetBy: 6)
        guard topicStart < slash else { return nil }
        topic = String(key[topicStart..<slash])
        partition = p
    }

    var key: String { "kafka/\(topic)/\(partition)" }
}
