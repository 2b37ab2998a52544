import DevTools
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Stream
import Synchronization

/// Kafka → windows on a dedicated consumer thread. The partition life cycle (restore, apply,
/// snapshot, revoke, rebuild when the log changed) is `KafkaPartitionSource` over the
/// `PartitionEngine`; this service owns the thread, the consumer, the optional embedded broker,
/// the dead-letter producer and what /readyz and /metrics say about Kafka.
final class KafkaIngestService: Service, @unchecked Sendable {
    private let config: IngestdConfig
    private let engine: PartitionEngine
    private let quarantine: Quarantine
    private let readiness: Readiness
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    /// Latest consumer health for /metrics and /readyz (written by the consumer thread).
    private let published = Mutex<PublishedState>(PublishedState())

    // Consumer-thread state: touched only by the consumer thread (poll and its callbacks).
    private var source: KafkaPartitionSource!
    private var deadLetters: KafkaProducer?
    /// Between a revoke and the next assignment the windows of the moved partitions are gone:
    /// nothing may pass for complete until the assignment is restored.
    private var rebalancing = false

    struct PublishedState: Sendable {
        var health = KafkaHealth()
        var assignment: [TopicPartition: Int64] = [:]
        var assignedOnce = false
    }

    init(config: IngestdConfig, engine: PartitionEngine, quarantine: Quarantine, readiness: Readiness, logger: Logger) {
        self.config = config
        self.engine = engine
        self.quarantine = quarantine
        self.readiness = readiness
        self.logger = logger
    }

    func run() async throws {
        readiness.block("kafka", "connecting to the brokers")
        var embedded: EmbeddedKafka?
        var brokers = config.kafka.brokers
        if config.kafka.embeddedBroker {
            var settings = EmbeddedKafka.Configuration(
                tansuPath: config.kafka.tansuPath.isEmpty ? nil : config.kafka.tansuPath, dataDirectory: config.dataDir,
                topics: config.kafka.topics.map { TansuBroker.Topic(name: $0.name, partitions: $0.partitions) })
            settings.bootstrapPort = config.kafka.embeddedPort
            let kafka = try await EmbeddedKafka.start(settings, logger: logger)
            embedded = kafka
            brokers = kafka.bootstrapServers
            logger.notice("kafka.embedded_broker: using an embedded, in-memory Tansu broker (demo mode, never for production)",
                          metadata: ["bootstrap": "\(brokers)", "topics": "\(config.kafka.topics.map(\.name))"])
        }

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
        do {
            if !config.kafka.deadLetterTopic.isEmpty {
                var producerProps = config.kafka.properties
                producerProps["bootstrap.servers"] = brokers
                deadLetters = try KafkaProducer(properties: producerProps.filter { !$0.key.hasPrefix("group.") && $0.key != "session.timeout.ms" })
            }
            let consumer = try KafkaConsumer(properties: properties, rebalance: self, logger: Logger(label: "ingestd.kafka"))
            try consumer.subscribe(config.kafka.topics.map(\.name))
            let ingestor = EventIngestor(source: .kafka, quarantine: quarantine, logger: logger,
                                         badEventLogsPerMinute: config.ingest.badEventLogsPerMinute)
            var parsers: [String: EventParser] = [:]
            for topic in config.kafka.topics { parsers[topic.name] = EventParser(options: config.parserOptions(format: topic.format)) }
            source = KafkaPartitionSource(engine: engine, ingestor: ingestor, parsers: parsers,
                                          fallbackParser: EventParser(options: config.parserOptions(format: .coststream)), logger: logger)
            source.collectsDeadLetters = deadLetters != nil

            // The consumer loop blocks in librdkafka: it gets its own thread, not a task's. It
            // stops on graceful shutdown and on cancellation (another service failed).
            await withTaskCancellationHandler {
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
            } onCancel: { [self] in
                stopRequested.store(true, ordering: .relaxed)
            }
        } catch {
            if let embedded { await embedded.shutdown() }
            throw error
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
                source.consume(message, nowMillis: now, consumer: consumer)
            }
            produceDeadLetters()
            // A snapshot must not cover bad messages whose quarantine rows are not written yet.
            if source.flushQuarantine() && WallClock.nowMillis() - lastSnapshot >= intervalMillis {
                source.snapshot(source.assignedPartitions, consumer: consumer, nowMillis: WallClock.nowMillis())
                lastSnapshot = WallClock.nowMillis()
            } else if WallClock.nowMillis() - lastPublish >= 250 {
                // Alert transitions become durable (and deliverable) with their partition's
                // snapshot: save a partition whose alerts changed without waiting for the interval.
                let changed = source.assignedPartitions.filter { engine.hasUnsavedChanges(PartitionKey.kafka($0)) }
                if !changed.isEmpty && source.flushQuarantine() {
                    source.snapshot(changed, consumer: consumer, nowMillis: WallClock.nowMillis())
                }
            }
            // Health and positions for /metrics and /readyz: a few times a second, not per poll
            // (at low rates a poll returns a single message).
            if WallClock.nowMillis() - lastPublish >= 250 {
                publish(consumer)
                lastPublish = WallClock.nowMillis()
            }
        }
        // Shutdown: the revoke callback inside close() snapshots and commits every partition.
        source.flushQuarantine()
        consumer.close()
        produceDeadLetters()
        try? deadLetters?.flush(timeoutMilliseconds: 5000)
        logger.info("kafka consumer stopped")
    }

    /// Copies bad messages to `kafka.dead_letter_topic`, outside every shard lock and without
    /// waiting long for a full queue: the quarantine table already holds each of them, so a
    /// dead-letter copy that cannot be queued is dropped (and logged), never retried for ever.
    private func produceDeadLetters() {
        guard let deadLetters else { return }
        var dropped = 0
        var lastError: (any Error)?
        for letter in source.takeDeadLetters() {
            do {
                try letter.payload.withUnsafeBytes {
                    try deadLetters.produce(topic: config.kafka.deadLetterTopic, key: letter.key, value: $0, queueFullWaitMilliseconds: 100)
                }
            } catch {
                dropped += 1
                lastError = error
            }
        }
        if dropped > 0 {
            Counter(label: "ingestd_dead_letters_dropped_total").increment(by: dropped)
            logger.error("dead-letter copies dropped (the messages are in the quarantine table)",
                         metadata: ["dropped": "\(dropped)", "error": "\(lastError.map { "\($0)" } ?? "")"])
        }
    }

    private func publish(_ consumer: KafkaConsumer) {
        let health = consumer.health
        let positions = source.positions
        let assignedOnce = published.withLock { state in
            state.health = health
            state.assignment = positions
            return state.assignedOnce
        }
        if rebalancing {
            readiness.block("kafka", "rebalancing: partitions were revoked and the new assignment is not restored yet")
        } else if health.brokersKnown > 0 && health.brokersUp == 0 {
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
        readiness.block("kafka", "restoring \(partitions.count) assigned partitions")
        let starts = source.assign(partitions, consumer: consumer)
        rebalancing = false
        published.withLock { $0.assignedOnce = true }
        publish(consumer)
        return starts
    }

    func partitionsRevoked(_ partitions: [TopicPartition], consumer: KafkaConsumer) {
        // Before the shards go: a query from now until the next assignment sees partial data.
        rebalancing = true
        readiness.block("kafka", "rebalancing: partitions were revoked and the new assignment is not restored yet")
        source.revoke(partitions, consumer: consumer, nowMillis: WallClock.nowMillis())
    }
}
