import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Stream
import Synchronization

/// Kafka → windows, exactly once across restarts, crashes and rebalances.
///
/// One dedicated consumer thread polls, parses and applies each message to the shard of its
/// partition, advancing that shard's `nextOffset` under the same lock: a shard's state and the
/// offset it covers can never disagree. Between polls the same thread writes quarantine rows,
/// and every `snapshot.interval` it snapshots the assigned shards (state + offset in one SQLite
/// transaction) and commits those offsets to the group. After kill -9, the next start restores
/// each partition's snapshot and seeks to its offset: nothing is lost and nothing counted twice.
/// Committed group offsets are informational (lag tools); the snapshot is the truth.
final class KafkaIngestService: Service, @unchecked Sendable {
    private let config: IngestdConfig
    private let store: WindowStore
    private let snapshotter: ShardSnapshotter
    private let quarantine: Quarantine
    private let readiness: Readiness
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    /// Latest consumer health for /metrics and /readyz (written by the consumer thread).
    private let published = Mutex<PublishedState>(PublishedState())

    // Consumer-thread state: touched only by the consumer thread (poll and its callbacks).
    private var assigned: [TopicPartition: Partition] = [:]
    private var ingestor: EventIngestor!
    private var parsers: [String: EventParser] = [:]
    private var deadLetters: KafkaProducer?
    /// The offset each partition's saved snapshot covers: an unchanged shard is not rewritten.
    private var savedOffsets: [TopicPartition: Int64] = [:]

    private struct Partition {
        let shard: Shard
        let parser: EventParser
        let position: (String, Int32)
    }

    struct PublishedState: Sendable {
        var health = KafkaHealth()
        var assignment: [TopicPartition: Int64] = [:]
        var assignedOnce = false
    }

    init(config: IngestdConfig, store: WindowStore, snapshotter: ShardSnapshotter, quarantine: Quarantine,
         readiness: Readiness, logger: Logger) {
        self.config = config
        self.store = store
        self.snapshotter = snapshotter
        self.quarantine = quarantine
        self.readiness = readiness
        self.logger = logger
    }

    func run() async throws {
        readiness.block("kafka", "connecting to the brokers")
        var embedded: EmbeddedKafka?
        var brokers = config.kafka.brokers
        if brokers.isEmpty {
            var settings = EmbeddedKafka.Configuration(
                tansuPath: config.kafka.tansuPath.isEmpty ? nil : config.kafka.tansuPath, dataDirectory: config.dataDir,
                topics: config.kafka.topics.map { TansuBroker.Topic(name: $0.name, partitions: $0.partitions) })
            settings.bootstrapPort = config.kafka.embeddedPort
            let kafka = try await EmbeddedKafka.start(settings, logger: logger)
            embedded = kafka
            brokers = kafka.bootstrapServers
            logger.notice("no kafka.brokers configured: using an embedded Tansu broker (demo mode)",
                          metadata: ["bootstrap": "\(brokers)", "topics": "\(config.kafka.topics.map(\.name))"])
        }
        defer { if let embedded { Task { await embedded.shutdown() } } }

        var properties = [
            "bootstrap.servers": brokers,
            "group.id": config.kafka.groupID,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": "10000",
            // librdkafka waits up to 500 ms for a fetch to fill; alerts want the event sooner
            // (bench-e2e: p99 produce-to-visible 266 ms at the default, 41 ms at 10 ms, 1k events/s).
            "fetch.wait.max.ms": "50",
        ]
        properties.merge(config.kafka.properties) { _, configured in configured }
        properties["bootstrap.servers"] = brokers
        if !config.kafka.deadLetterTopic.isEmpty {
            var producerProps = config.kafka.properties
            producerProps["bootstrap.servers"] = brokers
            deadLetters = try KafkaProducer(properties: producerProps.filter { !$0.key.hasPrefix("group.") && $0.key != "session.timeout.ms" })
        }
        let consumer = try KafkaConsumer(properties: properties, rebalance: self,
                                         logger: Logger(label: "ingestd.kafka"))
        try consumer.subscribe(config.kafka.topics.map(\.name))
        ingestor = EventIngestor(source: .kafka, quarantine: quarantine, logger: logger,
                                 badEventLogsPerMinute: config.ingest.badEventLogsPerMinute)
        for topic in config.kafka.topics { parsers[topic.name] = EventParser(options: config.parserOptions(format: topic.format)) }

        // The consumer loop blocks in librdkafka: it gets its own thread, not a task's.
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    consumeLoop(consumer)
                    done.resume()
                }
                thread.name = "ingestd-kafka"
                thread.start()
            }
        } onGracefulShutdown: { [self] in
            stopRequested.store(true, ordering: .relaxed)
        }
        if let embedded { await embedded.shutdown() }
    }

    private func consumeLoop(_ consumer: KafkaConsumer) {
        var lastSnapshot = WallClock.nowMillis()
        var lastPublish: Int64 = 0
        let intervalMillis = config.snapshotIntervalSeconds * 1000
        while !stopRequested.load(ordering: .relaxed) {
            let now = WallClock.nowMillis()
            consumer.poll(maxMessages: config.kafka.pollBatch, timeoutMilliseconds: 100) { message in
                ingest(message, nowMillis: now)
            }
            // A snapshot must not cover bad messages whose quarantine rows are not written yet.
            if flushQuarantine() && WallClock.nowMillis() - lastSnapshot >= intervalMillis {
                snapshotAndCommit(consumer, Array(assigned.keys))
                lastSnapshot = WallClock.nowMillis()
            }
            // Health and positions for /metrics and /readyz: a few times a second, not per poll
            // (at low rates a poll returns a single message).
            if WallClock.nowMillis() - lastPublish >= 250 {
                publish(consumer)
                lastPublish = WallClock.nowMillis()
            }
        }
        // Shutdown: the revoke callback inside close() snapshots and commits every partition.
        flushQuarantine()
        consumer.close()
        try? deadLetters?.flush(timeoutMilliseconds: 5000)
        logger.info("kafka consumer stopped")
    }

    @inline(__always)
    private func ingest(_ message: KafkaMessageView, nowMillis: Int64) {
        guard let partition = assigned[message.topicPartition] else { return }
        partition.shard.write(nowMillis: nowMillis) { writer in
            // A message below the covered offset is already in the windows (a redelivery).
            if let next = writer.nextOffset, message.offset < next { return }
            let rejection = ingestor.ingest(message.payload, parser: partition.parser, writer: writer,
                                            position: .kafka(topic: partition.position.0, partition: partition.position.1, offset: message.offset),
                                            nowMillis: nowMillis)
            writer.advance(nextOffset: message.offset + 1)
            if let rejection, let deadLetters {
                let key = "\(message.topic)/\(message.partition)@\(message.offset) \(rejection.reason.rawValue)"
                do { try deadLetters.produce(topic: config.kafka.deadLetterTopic, key: Array(key.utf8), value: message.payload) } catch {
                    logger.error("dead-letter produce failed (the message is in the quarantine table)", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    @discardableResult
    private func flushQuarantine() -> Bool {
        do {
            try ingestor.flush()
            return true
        } catch {
            // The rows stay queued in the ingestor and are retried on the next flush.
            logger.error("quarantine write failed; will retry", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func snapshotAndCommit(_ consumer: KafkaConsumer, _ partitions: [TopicPartition], removing: Bool = false) {
        // Only shards that consumed something since their last snapshot: the row of an unchanged
        // one already holds exactly this state.
        var offsets: [TopicPartition: Int64] = [:]
        var shards: [Shard] = []
        for tp in partitions {
            guard let shard = assigned[tp]?.shard, let next = shard.statistics.nextOffset, savedOffsets[tp] != next else { continue }
            offsets[tp] = next
            shards.append(shard)
        }
        guard !shards.isEmpty else { return }
        do {
            // Each shard is encoded under its lock; only this thread writes it, so `offsets` match.
            try snapshotter.save(shards, nowMillis: WallClock.nowMillis())
        } catch {
            logger.error("snapshot failed; the previous one stays valid", metadata: ["error": "\(error)"])
            return
        }
        savedOffsets.merge(offsets) { _, new in new }
        do { try consumer.commit(offsets, asynchronous: !removing) } catch {
            logger.warning("offset commit failed (snapshots hold the offsets; this only affects lag tools)", metadata: ["error": "\(error)"])
        }
    }

    private func publish(_ consumer: KafkaConsumer) {
        let health = consumer.health
        var positions: [TopicPartition: Int64] = [:]
        for (tp, p) in assigned { positions[tp] = p.shard.statistics.nextOffset ?? -1 }
        let assignedOnce = published.withLock { state in
            state.health = health
            state.assignment = positions
            return state.assignedOnce
        }
        if health.brokersKnown > 0 && health.brokersUp == 0 {
            readiness.block("kafka", "no broker reachable: \(health.lastError ?? "connection lost")")
        } else if !assignedOnce {
            readiness.block("kafka", "waiting for a partition assignment from group \(config.kafka.groupID)")
        } else if let behind = positions.first(where: { tp, next in
            guard let lag = health.partitions[tp] else { return false }
            return lag.highWatermark >= 0 && lag.highWatermark - max(next, 0) > Int64(config.kafka.pollBatch)
        }) {
            readiness.block("kafka", "catching up on \(behind.key.topic)/\(behind.key.partition)")
        } else {
            readiness.clear("kafka")
        }
    }

    /// For /metrics: the consumer's lag and broker state.
    func refreshGauges() {
        let state = published.withLock { $0 }
        Gauge(label: "ingestd_kafka_brokers_up").record(state.health.brokersUp)
        Gauge(label: "ingestd_kafka_assigned_partitions").record(state.assignment.count)
        for (tp, next) in state.assignment {
            let dims = [("topic", tp.topic), ("partition", "\(tp.partition)")]
            // -1: nothing consumed from this partition yet (it may be empty).
            Gauge(label: "ingestd_kafka_next_offset", dimensions: dims).record(next)
            if let lag = state.health.partitions[tp], lag.highWatermark >= 0 {
                Gauge(label: "ingestd_kafka_consumer_lag", dimensions: dims).record(max(0, lag.highWatermark - max(next, 0)))
            }
        }
    }
}

extension KafkaIngestService: KafkaRebalanceHandler {
    func partitionsAssigned(_ partitions: [TopicPartition], consumer: KafkaConsumer) -> [TopicPartition: Int64] {
        var starts: [TopicPartition: Int64] = [:]
        var rebuild: [TopicPartition] = []
        for tp in partitions {
            let key = KafkaShardKey(topic: tp.topic, partition: tp.partition).key
            if let start = restore(tp, key: key, consumer: consumer) {
                starts[tp] = start
                savedOffsets[tp] = start
            } else {
                store.removeShard(key)
                rebuild.append(tp)
            }
            let parser = parsers[tp.topic] ?? EventParser(options: config.parserOptions(format: .coststream))
            assigned[tp] = Partition(shard: store.shard(key), parser: parser, position: (tp.topic, tp.partition))
        }
        if !rebuild.isEmpty {
            // No usable local snapshot: rebuild from the broker, from the longest retention back.
            let since = WallClock.nowMillis() - store.configuration.longestRetentionSeconds * 1000
            let offsets = (try? consumer.offsetsForTimes(Dictionary(uniqueKeysWithValues: rebuild.map { ($0, since) }), timeoutMilliseconds: 10_000)) ?? [:]
            for tp in rebuild { starts[tp] = offsets[tp] ?? KafkaOffset.beginning }
            logger.info("rebuilding partitions from the broker", metadata: ["partitions": "\(rebuild.map { "\($0.topic)/\($0.partition)" })"])
        }
        published.withLock { $0.assignedOnce = true }
        logger.info("partitions assigned", metadata: [
            "partitions": "\(starts.map { "\($0.key.topic)/\($0.key.partition)@\($0.value)" }.sorted())",
        ])
        return starts
    }

    /// Restores a partition from its local snapshot when the broker still has every message
    /// after it; returns the offset to resume from, or nil to rebuild.
    private func restore(_ tp: TopicPartition, key: String, consumer: KafkaConsumer) -> Int64? {
        let snapshot: ShardSnapshot?
        do { snapshot = try snapshotter.snapshots.load(shard: key) } catch {
            logger.error("cannot read snapshot; rebuilding", metadata: ["shard": "\(key)", "error": "\(error)"])
            return nil
        }
        guard let snapshot, let next = snapshot.nextOffset else { return nil }
        if let low = try? consumer.watermarks(tp, timeoutMilliseconds: 5000).low, next < low {
            logger.warning("snapshot is older than the broker's log start; rebuilding",
                           metadata: ["shard": "\(key)", "snapshot_offset": "\(next)", "log_start": "\(low)"])
            return nil
        }
        do {
            try store.installShard(from: snapshot.state, key: key)
        } catch {
            logger.warning("snapshot unusable; rebuilding", metadata: ["shard": "\(key)", "error": "\(error)"])
            return nil
        }
        return next
    }

    func partitionsRevoked(_ partitions: [TopicPartition], consumer: KafkaConsumer) {
        flushQuarantine()
        snapshotAndCommit(consumer, partitions, removing: true)
        for tp in partitions {
            assigned[tp] = nil
            savedOffsets[tp] = nil
            store.removeShard(KafkaShardKey(topic: tp.topic, partition: tp.partition).key)
        }
        logger.info("partitions revoked", metadata: ["partitions": "\(partitions.map { "\($0.topic)/\($0.partition)" })"])
    }
}
