import CRdKafka
import Foundation
import Logging
import Synchronization

/// A librdkafka high-level consumer in a consumer group, for the daemon's consumer thread.
///
/// Offsets belong to the daemon: they are stored with its snapshot and committed by `commit`,
/// never automatically (`enable.auto.commit` and `enable.auto.offset.store` are forced off).
///
/// Threads: `poll`, `commit`, `close` and the queries are meant for one thread, the daemon's
/// consumer thread. The rebalance handler runs on it too, inside `poll` or `close`, between two
/// messages — so that thread is the only writer to its shards. `health` may be read from any
/// thread. `close()` must not run while another thread is inside a call on this consumer.
/// (`@unchecked Sendable` so that the consumer can be moved onto that thread.)
public final class KafkaConsumer: @unchecked Sendable {
    private let rk: OpaquePointer
    private let callbacks: KafkaConsumerCallbacks
    /// 0 open, 1 closing (leaving the group: the revoke handler may still commit), 2 closed.
    private let state = Atomic<UInt8>(0)
    private var topicNames = KafkaTopicNameCache()

    /// - Parameters:
    ///   - properties: librdkafka properties, passed through (bootstrap.servers, group.id,
    ///     security.protocol, sasl.*, ssl.*, …). `group.id` is required.
    ///     `statistics.interval.ms` defaults to 1000 (it feeds `health`);
    ///     `partition.assignment.strategy` defaults to "range,roundrobin" and must stay EAGER.
    ///   - rebalance: told of assignments and revocations; held until `close()`.
    ///   - logger: receives librdkafka's log lines and errors.
    public init(
        properties: [String: String], rebalance: any KafkaRebalanceHandler,
        logger: Logger = Logger(label: "ingestd.kafka.consumer")
    ) throws(KafkaError) {
        guard let group = properties["group.id"], !group.isEmpty else {
            throw KafkaError.configuration(property: "group.id", reason: "is required: the consumer joins a consumer group")
        }
        if let strategy = properties["partition.assignment.strategy"], strategy.contains("cooperative") {
            throw KafkaError.configuration(
                property: "partition.assignment.strategy",
                reason: "\"\(strategy)\" is COOPERATIVE; ingestd snapshots the whole assignment on revoke and needs an EAGER strategy: range or roundrobin")
        }
        let callbacks = KafkaConsumerCallbacks(handler: rebalance, logger: logger)
        let conf = try KafkaConfiguration.make(
            properties,
            defaults: [
                "statistics.interval.ms": "1000",
                "partition.assignment.strategy": "range,roundrobin",
                "client.id": "ingestd",
            ],
            forced: ["enable.auto.commit": "false", "enable.auto.offset.store": "false"])
        callbacks.install(on: conf)
        rk = try KafkaConfiguration.makeClient(RD_KAFKA_CONSUMER, conf: conf)
        self.callbacks = callbacks
        // Serve the main queue (errors, statistics) from the consumer queue, i.e. from poll().
        rd_kafka_poll_set_consumer(rk)
        callbacks.consumer = self
    }

    deinit { close() }

    /// The latest health, safe from any thread.
    public var health: KafkaHealth { callbacks.monitor.health }

    public func subscribe(_ topics: [String]) throws(KafkaError) {
        try checkOpen("subscribe")
        let list = KafkaPartitionList.make(topics: topics)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_subscribe(rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, operation: "subscribe to \(topics.joined(separator: ", "))")
        }
    }

    /// Hands up to `maxMessages` messages to `body`, waiting at most `timeoutMilliseconds` for
    /// the first one and not at all after it. Returns how many messages `body` received. Serves
    /// rebalance, error and statistics callbacks on this thread. Must be called more often than
    /// `max.poll.interval.ms` or the group evicts this consumer.
    ///
    /// Error events are not handed to `body`: partition EOF is ignored, other errors go to
    /// `health.lastError`. If `body` throws, polling stops at that message and the error
    /// propagates; librdkafka's position is already past it, so it is not handed out again
    /// (the caller restarts from its own offsets, e.g. the last snapshot's).
    ///
    /// One `rd_kafka_consumer_poll` per message, not `rd_kafka_consume_batch_queue`: in
    /// librdkafka 2.0.x a batch collected across a rebalance can still hold messages fetched for
    /// the previous assignment (fixed in 2.1.0), which would count events twice; a single poll
    /// serves the rebalance first and drops the outdated messages.
    @discardableResult
    public func poll<E: Error>(
        maxMessages: Int, timeoutMilliseconds: Int32, _ body: (KafkaMessageView) throws(E) -> Void
    ) throws(E) -> Int {
        guard state.load(ordering: .relaxed) == 0 else { return 0 }
        var received = 0
        var served = 0
        var timeout = timeoutMilliseconds
        while served < maxMessages, let message = rd_kafka_consumer_poll(rk, timeout) {
            defer { rd_kafka_message_destroy(message) }
            served += 1
            timeout = 0
            let m = message.pointee
            guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                recordEventError(message)
                continue
            }
            guard let rkt = m.rkt else { continue }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &timestampType)
            try body(KafkaMessageView(
                topic: topicNames.name(of: rkt),
                partition: m.partition,
                offset: m.offset,
                payload: UnsafeRawBufferPointer(start: m.payload, count: m.payload == nil ? 0 : m.len),
                key: UnsafeRawBufferPointer(start: m.key, count: m.key == nil ? 0 : m.key_len),
                timestampMillis: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
            received += 1
        }
        return received
    }

    /// Commits `offsets` (for each partition, the next offset to read) for the group.
    /// Asynchronous commits report failures to `health.lastError`, served by `poll`.
    public func commit(_ offsets: [TopicPartition: Int64], asynchronous: Bool) throws(KafkaError) {
        try checkOpen("commit")
        guard !offsets.isEmpty else { return }  // an empty list would mean "the current positions"
        let list = KafkaPartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(rk, list, asynchronous ? 1 : 0)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, operation: "commit offsets of \(offsets.count) partitions")
        }
        if !asynchronous { _ = try KafkaPartitionList.offsets(list, operation: "commit") }
    }

    /// The low and high watermarks asked from the partition leader (ListOffsets). Some brokers
    /// (Tansu) under-report the high watermark there; `cachedWatermarks` comes from Fetch.
    public func watermarks(_ tp: TopicPartition, timeoutMilliseconds: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        try checkOpen("watermarks")
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "query watermarks of \(tp)") }
        return (low, high)
    }

    /// The watermarks from the last Fetch response for the partition (no request), or nil when
    /// the partition has not been fetched yet.
    public func cachedWatermarks(_ tp: TopicPartition) -> (low: Int64, high: Int64)? {
        guard state.load(ordering: .relaxed) < 2 else { return nil }
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(rk, tp.topic, tp.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// For each partition, the first offset whose message timestamp is at or after the given
    /// time (epoch milliseconds). A partition with no such message gets its end offset: the
    /// broker answers -1 there, which is replaced by the high watermark — the larger of the
    /// cached Fetch one and a ListOffsets query, because ListOffsets alone under-reports on
    /// some brokers. (Assigning `KafkaOffset.end` instead would be resolved later, by then
    /// possibly past messages that arrived in between.)
    public func offsetsForTimes(
        _ times: [TopicPartition: Int64], timeoutMilliseconds: Int32
    ) throws(KafkaError) -> [TopicPartition: Int64] {
        try checkOpen("offsetsForTimes")
        guard !times.isEmpty else { return [:] }
        let list = KafkaPartitionList.make(times)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_for_times(rk, list, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, operation: "offsets for times of \(times.count) partitions")
        }
        var offsets = try KafkaPartitionList.offsets(list, operation: "offsets for times")
        for (tp, offset) in offsets where offset < 0 {
            let queried = try watermarks(tp, timeoutMilliseconds: timeoutMilliseconds).high
            offsets[tp] = max(queried, cachedWatermarks(tp)?.high ?? -1)
        }
        return offsets
    }

    /// Moves an assigned partition's fetch position (e.g. to rebuild it after its log changed).
    /// Messages already fetched for the old position are discarded by librdkafka (op versions),
    /// so the next message of this partition handed out by `poll` is at `offset` or later.
    public func seek(_ tp: TopicPartition, to offset: Int64, timeoutMilliseconds: Int32) throws(KafkaError) {
        try checkOpen("seek")
        let list = KafkaPartitionList.make([tp: offset])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_seek_partitions(rk, list, timeoutMilliseconds) {
            let code = rd_kafka_error_code(error)
            rd_kafka_error_destroy(error)
            throw KafkaError(code, operation: "seek \(tp) to \(offset)")
        }
        _ = try KafkaPartitionList.offsets(list, operation: "seek")
    }

    /// The cluster id the brokers report (Metadata), or nil when unknown within the timeout.
    /// Snapshots record it: an offset means something only in the log it was read from.
    public func clusterID(timeoutMilliseconds: Int32) -> String? {
        guard state.load(ordering: .relaxed) == 0, let id = rd_kafka_clusterid(rk, timeoutMilliseconds) else { return nil }
        defer { rd_kafka_mem_free(rk, id) }
        return String(cString: id)
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        try checkOpen("assignment")
        var list: KafkaPartitionList.Pointer?
        let err = rd_kafka_assignment(rk, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(err, operation: "assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return KafkaPartitionList.partitions(list)
    }

    /// Leaves the group cleanly (the handler's `partitionsRevoked` runs on this thread first, so
    /// the revoked partitions can be snapshotted and committed), then frees the client.
    /// Idempotent; later calls on this consumer fail with `_STATE`, `poll` returns 0.
    ///
    /// Freeing waits at most `destroyTimeoutMilliseconds`: librdkafka 2.0.2 can hang for ever in
    /// `rd_kafka_destroy` (a broker handle reference leak, e.g. after an assigned topic vanished),
    /// and a shutdown must not. By then the group has been left, so nothing is lost by leaving
    /// the handle behind.
    public func close(destroyTimeoutMilliseconds: Int = 10_000) {
        guard state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged else { return }
        let err = rd_kafka_consumer_close(rk)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let error = KafkaError(err, operation: "leave the consumer group")
            callbacks.monitor.recordError(code: err.rawValue, reason: error.message)
            callbacks.logger.warning("kafka: \(error)")
        }
        callbacks.handler = nil
        state.store(2, ordering: .releasing)
        Self.destroy(rk, keepingAlive: callbacks, timeoutMilliseconds: destroyTimeoutMilliseconds)
    }

    private static func destroy(_ rk: OpaquePointer, keepingAlive callbacks: KafkaConsumerCallbacks, timeoutMilliseconds: Int) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let handle = rk
        Thread.detachNewThread {
            rd_kafka_destroy(handle)
            withExtendedLifetime(callbacks) {}  // librdkafka's threads may log until destroy returns
            done.signal()
        }
        if done.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .timedOut {
            callbacks.logger.error("kafka: librdkafka did not free the consumer within \(timeoutMilliseconds) ms (a known librdkafka 2.0 hang); the group was left, the handle is abandoned")
        }
    }

    /// Called by the rebalance callback, on the poll thread, before the assignment changes.
    func rebalanceWillChangeAssignment() {
        topicNames.removeAll()
    }

    private func recordEventError(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        guard m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF else { return }
        var detail = String(cString: rd_kafka_message_errstr(message))
        if let rkt = m.rkt {
            detail += " (\(String(cString: rd_kafka_topic_name(rkt)))[\(m.partition)] at offset \(m.offset))"
        }
        let error = KafkaError(m.err, operation: "consume", detail: detail)
        callbacks.monitor.recordError(code: m.err.rawValue, reason: error.message)
        callbacks.logger.warning("kafka: \(error)")
    }

    private func checkOpen(_ operation: String) throws(KafkaError) {
        guard state.load(ordering: .relaxed) == 2 else { return }
        throw KafkaError.state("\(operation) after close()", remedy: "create a new KafkaConsumer")
    }
}
