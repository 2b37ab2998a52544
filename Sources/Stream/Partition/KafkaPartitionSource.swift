import Logging

/// Kafka partitions through the `PartitionEngine`, exactly once across restarts, crashes,
/// rebalances and log changes. Everything here runs on the consumer thread (poll, and the
/// rebalance callbacks inside it).
///
/// - Assign: restore each partition from its snapshot when it belongs to this log (same cluster
///   id; the broker still holds everything after it) and resume by re-reading the last message
///   the snapshot covers, which must be the same message (`MessageFingerprint`); otherwise
///   rebuild from the broker, from the offset for (now − longest retention).
/// - Consume: a message below the covered offset, or a re-read message that differs, means the
///   log was reset or replaced (broker restarted empty, topic recreated, another cluster): the
///   partition is emptied and rebuilt, never fed on the word of an offset from another log.
/// - Snapshot (interval, revoke, shutdown): windows + offset + registered state in one
///   transaction, then the offsets are committed to the group (for lag tools only).
public final class KafkaPartitionSource {
    public let engine: PartitionEngine
    private let ingestor: EventIngestor
    private let parsers: [String: EventParser]
    private let fallbackParser: EventParser
    private let logger: Logger
    private var assigned: [TopicPartition: Cursor] = [:]
    /// The position each partition's saved snapshot covers: an unchanged shard is not rewritten.
    private var savedOffsets: [TopicPartition: Int64] = [:]
    private var clusterID: String?
    /// Bad messages to copy to the dead-letter topic, outside the shard lock.
    private var deadLetters: [(key: [UInt8], payload: [UInt8])] = []
    public var collectsDeadLetters = false

    final class Cursor {
        let key: String
        let shard: Shard
        let parser: EventParser
        /// After a restore: the message the snapshot ends with, re-read first to prove the log.
        var verify: MessageFingerprint?

        init(key: String, shard: Shard, parser: EventParser, verify: MessageFingerprint?) {
            self.key = key
            self.shard = shard
            self.parser = parser
            self.verify = verify
        }
    }

    public init(engine: PartitionEngine, ingestor: EventIngestor, parsers: [String: EventParser], fallbackParser: EventParser, logger: Logger) {
        self.engine = engine
        self.ingestor = ingestor
        self.parsers = parsers
        self.fallbackParser = fallbackParser
        self.logger = logger
    }

    public var assignedPartitions: [TopicPartition] { Array(assigned.keys) }

    /// Positions for health and metrics: partition → next offset (-1 before the first message).
    public var positions: [TopicPartition: Int64] {
        assigned.mapValues { $0.shard.statistics.nextOffset ?? -1 }
    }

    // MARK: Consume

    public enum Outcome {
        case applied
        case rejected(EventRejection)
        /// Already in the windows (the re-read last message of a restored snapshot).
        case skipped
        /// Not for this instance (a partition it does not own).
        case notAssigned
        case logChanged(String)
    }

    /// Applies one message; on a log change the partition is emptied and `consumer` seeks to
    /// the rebuild start.
    @inline(__always)
    @discardableResult
    public func consume(_ message: KafkaMessageView, nowMillis: Int64, consumer: KafkaConsumer) -> Outcome {
        guard let cursor = assigned[message.topicPartition] else { return .notAssigned }
        let outcome = apply(message, cursor: cursor, nowMillis: nowMillis)
        switch outcome {
        case .logChanged(let why):
            rebuild(message.topicPartition, cursor: cursor, reason: why, consumer: consumer)
        case .rejected(let rejection) where collectsDeadLetters:
            let key = "\(message.topic)/\(message.partition)@\(message.offset) \(rejection.reason.rawValue)"
            deadLetters.append((Array(key.utf8), Array(message.payload)))
        default:
            break
        }
        return outcome
    }

    @inline(__always)
    private func apply(_ message: KafkaMessageView, cursor: Cursor, nowMillis: Int64) -> Outcome {
        let fingerprint = MessageFingerprint(offset: message.offset, timestampMillis: message.timestampMillis ?? -1,
                                             bytes: Int64(message.payload.count))
        if let expected = cursor.verify {
            cursor.verify = nil
            if fingerprint == expected { return .skipped }
            return .logChanged("the snapshot ends with \(expected) but the broker has \(fingerprint) there: another log")
        }
        return cursor.shard.write(nowMillis: nowMillis) { writer -> Outcome in
            if let next = writer.nextOffset, message.offset < next {
                return .logChanged("offset \(message.offset) arrived after the snapshot covered up to \(next): the log was reset or replaced")
            }
            let rejection = ingestor.ingest(message.payload, parser: cursor.parser, writer: writer,
                                            position: .kafka(topic: message.topic, partition: message.partition, offset: message.offset),
                                            nowMillis: nowMillis)
            writer.advance(past: fingerprint)
            return rejection.map { .rejected($0) } ?? .applied
        }
    }

    private func rebuild(_ tp: TopicPartition, cursor: Cursor, reason: String, consumer: KafkaConsumer) {
        logger.warning("partition log changed; rebuilding it from the broker", metadata: [
            "partition": "\(tp.topic)/\(tp.partition)", "reason": "\(reason)",
        ])
        engine.reset(cursor.key)
        savedOffsets[tp] = nil
        assigned[tp] = Cursor(key: cursor.key, shard: engine.store.shard(cursor.key), parser: cursor.parser, verify: nil)
        let start = rebuildStarts([tp], consumer: consumer)[tp] ?? KafkaOffset.beginning
        do { try consumer.seek(tp, to: start, timeoutMilliseconds: 10_000) } catch {
            logger.error("seek for the rebuild failed; the partition restarts from the messages that follow",
                         metadata: ["partition": "\(tp.topic)/\(tp.partition)", "error": "\(error)"])
        }
    }

    // MARK: Snapshots

    /// Writes queued quarantine rows; false when the write failed (then no snapshot may cover them).
    @discardableResult
    public func flushQuarantine() -> Bool {
        do {
            try ingestor.flush()
            return true
        } catch {
            logger.error("quarantine write failed; will retry", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Snapshots the partitions that changed since their last snapshot and commits their offsets.
    public func snapshot(_ partitions: [TopicPartition], consumer: KafkaConsumer, nowMillis: Int64, synchronousCommit: Bool = false) {
        var keys: [String] = []
        for tp in partitions {
            guard let cursor = assigned[tp], let next = cursor.shard.statistics.nextOffset,
                  savedOffsets[tp] != next || engine.hasUnsavedChanges(cursor.key) else { continue }
            keys.append(cursor.key)
        }
        guard !keys.isEmpty else { return }
        let saved: PartitionEngine.Saved
        do {
            saved = try engine.save(keys, clusterID: clusterID, nowMillis: nowMillis)
        } catch {
            logger.error("snapshot failed; the previous one stays valid", metadata: ["error": "\(error)"])
            return
        }
        var offsets: [TopicPartition: Int64] = [:]
        for (key, position) in saved {
            guard let tp = PartitionKey.kafkaPartition(of: key), let next = position.nextOffset else { continue }
            savedOffsets[tp] = next
            offsets[tp] = next
        }
        do { try consumer.commit(offsets, asynchronous: !synchronousCommit) } catch {
            logger.warning("offset commit failed (lag tools only; snapshots are the truth)", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Rebalance

    /// Restores or rebuilds each newly assigned partition; returns where to start reading.
    public func assign(_ partitions: [TopicPartition], consumer: KafkaConsumer) -> [TopicPartition: Int64] {
        clusterID = consumer.clusterID(timeoutMilliseconds: 5000) ?? clusterID
        var starts: [TopicPartition: Int64] = [:]
        var rebuild: [TopicPartition] = []
        for tp in partitions {
            let key = PartitionKey.kafka(tp)
            var verify: MessageFingerprint?
            switch engine.restore(key, check: { check($0, tp, consumer: consumer) }) {
            case .restored(let position, let layout):
                if let layout { logger.notice("partition snapshot converted to the new store layout", metadata: ["partition": "\(key)", "conversion": "\(layout)"]) }
                let next = position.nextOffset ?? KafkaOffset.beginning
                if let last = position.lastMessage, last.offset + 1 == next {
                    verify = last
                    starts[tp] = last.offset
                } else {
                    starts[tp] = next
                }
                savedOffsets[tp] = position.nextOffset
            case .rebuild(let reason), .incompatible(let reason):
                logger.info("partition not restored; rebuilding it from the broker", metadata: ["partition": "\(key)", "reason": "\(reason)"])
                rebuild.append(tp)
                savedOffsets[tp] = nil
            }
            assigned[tp] = Cursor(key: key, shard: engine.store.shard(key), parser: parsers[tp.topic] ?? fallbackParser, verify: verify)
        }
        starts.merge(rebuildStarts(rebuild, consumer: consumer)) { $1 }
        logger.info("partitions assigned", metadata: [
            "partitions": "\(starts.map { "\($0.key.topic)/\($0.key.partition)@\($0.value)" }.sorted())",
            "cluster_id": "\(clusterID ?? "unknown")",
        ])
        return starts
    }

    /// Why a saved position cannot be resumed here, or nil.
    private func check(_ position: SavedPosition, _ tp: TopicPartition, consumer: KafkaConsumer) -> String? {
        guard let next = position.nextOffset else { return "the snapshot has no offset" }
        if let saved = position.clusterID, let current = clusterID, saved != current {
            return "the snapshot is of cluster \(saved), the brokers are cluster \(current)"
        }
        if let low = try? consumer.watermarks(tp, timeoutMilliseconds: 5000).low, next < low {
            return "the snapshot (offset \(next)) is older than the broker's log start (\(low))"
        }
        return nil
    }

    private func rebuildStarts(_ partitions: [TopicPartition], consumer: KafkaConsumer) -> [TopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let since = WallClock.nowMillis() - engine.store.configuration.longestRetentionSeconds * 1000
        let offsets = (try? consumer.offsetsForTimes(Dictionary(uniqueKeysWithValues: partitions.map { ($0, since) }), timeoutMilliseconds: 10_000)) ?? [:]
        return Dictionary(uniqueKeysWithValues: partitions.map { ($0, offsets[$0] ?? KafkaOffset.beginning) })
    }

    /// Snapshots and releases revoked partitions (another instance may own them next).
    public func revoke(_ partitions: [TopicPartition], consumer: KafkaConsumer, nowMillis: Int64) {
        flushQuarantine()
        snapshot(partitions, consumer: consumer, nowMillis: nowMillis, synchronousCommit: true)
        engine.release(partitions.compactMap { assigned[$0]?.key })
        for tp in partitions {
            assigned[tp] = nil
            savedOffsets[tp] = nil
        }
        logger.info("partitions revoked", metadata: ["partitions": "\(partitions.map { "\($0.topic)/\($0.partition)" })"])
    }

    /// Dead-letter copies collected since the last call.
    public func takeDeadLetters() -> [(key: [UInt8], payload: [UInt8])] {
        defer { deadLetters.removeAll(keepingCapacity: true) }
        return deadLetters
    }
}
