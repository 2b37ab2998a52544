import CRdKafka
import Logging
import Synchronization

/// A librdkafka producer: fire-and-forget `produce` into librdkafka's queue, `flush` to wait
/// for delivery. Messages that still fail after librdkafka's retries are counted in
/// `deliveryFailures`. All methods may be called from any thread.
public final class KafkaProducer: @unchecked Sendable {
    private let rk: OpaquePointer
    private let reports: KafkaDeliveryReports
    private let producedSincePoll = Atomic<Int>(0)

    /// Delivery reports are served every this many messages (and by `flush`), so that they do
    /// not pile up in memory while the caller only produces.
    private static let pollEvery = 1024

    /// - Parameter properties: librdkafka properties, passed through. Unless given:
    ///   `linger.ms` 20 and up to 10,000 messages per batch (throughput over latency: this is a
    ///   bulk loader), `queue.buffering.max.messages` 200,000, and `partitioner` murmur2_random,
    ///   the Java client's key hashing, so that an account lands on the same partition whichever
    ///   client produced it (a partition must hold whole accounts).
    public init(properties: [String: String], logger: Logger = Logger(label: "ingestd.kafka.producer")) throws(KafkaError) {
        let reports = KafkaDeliveryReports(logger: logger)
        let conf = try KafkaConfiguration.make(properties, defaults: [
            "linger.ms": "20",
            "batch.num.messages": "10000",
            "queue.buffering.max.messages": "200000",
            "partitioner": "murmur2_random",
            "client.id": "ingestd-producer",
        ])
        reports.install(on: conf)
        rk = try KafkaConfiguration.makeClient(RD_KAFKA_PRODUCER, conf: conf)
        self.reports = reports
    }

    /// Messages not flushed are dropped: call `flush` first.
    deinit { rd_kafka_destroy(rk) }

    /// Messages that failed delivery so far, and the last failure.
    public var deliveryFailures: (count: Int, last: KafkaError?) { reports.snapshot }

    /// Messages produced but not yet delivered (or failed).
    public var queuedMessages: Int { Int(rd_kafka_outq_len(rk)) }

    public func produce(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) throws(KafkaError) {
        let err: OpaquePointer? = value.withUnsafeBytes { value in
            guard let key else { return enqueue(topic: topic, key: nil, value: value, partition: partition) }
            return key.withUnsafeBytes { enqueue(topic: topic, key: $0, value: value, partition: partition) }
        }
        if let err { throw KafkaError(consuming: err, operation: "produce to \(topic)") }
    }

    /// Copies `value` (and `key`) into librdkafka's queue (`RD_KAFKA_MSG_F_COPY`): the buffers
    /// may be reused when this returns. When the queue is full it serves delivery reports for up
    /// to 100 ms and tries again, so a slow broker slows the caller instead of failing it — for
    /// at most `queueFullWaitMilliseconds` (then it throws `_QUEUE_FULL`; the default waits as
    /// long as it takes). `partition` nil lets the partitioner choose from the key.
    public func produce(topic: String, key: [UInt8]?, value: UnsafeRawBufferPointer, partition: Int32? = nil,
                        queueFullWaitMilliseconds: Int = .max) throws(KafkaError) {
        let err: OpaquePointer?
        if let key {
            err = key.withUnsafeBytes { enqueue(topic: topic, key: $0, value: value, partition: partition, waitMillis: queueFullWaitMilliseconds) }
        } else {
            err = enqueue(topic: topic, key: nil, value: value, partition: partition, waitMillis: queueFullWaitMilliseconds)
        }
        if let err { throw KafkaError(consuming: err, operation: "produce to \(topic)") }
    }

    /// Waits until every queued message is delivered or failed (see `deliveryFailures`).
    public func flush(timeoutMilliseconds: Int32) throws(KafkaError) {
        let err = rd_kafka_flush(rk, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, operation: "flush", detail: "\(queuedMessages) messages still queued after \(timeoutMilliseconds) ms")
        }
    }

    /// Returns nil when queued, else the `rd_kafka_error_t` (other than queue full) to consume.
    private func enqueue(
        topic: String, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer, partition: Int32?,
        waitMillis: Int = .max
    ) -> OpaquePointer? {
        var waited = 0
        while true {
            let error: OpaquePointer? = topic.withCString { topicName in
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 5) { vus in
                    var count = 0
                    func append(_ vtype: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                        var vu = rd_kafka_vu_t()
                        vu.vtype = vtype
                        fill(&vu)
                        vus[count] = vu
                        count += 1
                    }
                    append(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topicName }
                    append(RD_KAFKA_VTYPE_VALUE) {
                        $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                        $0.u.mem.size = value.count
                    }
                    if let key {
                        append(RD_KAFKA_VTYPE_KEY) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                            $0.u.mem.size = key.count
                        }
                    }
                    if let partition { append(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition } }
                    append(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                    return rd_kafka_produceva(rk, vus.baseAddress, count)
                }
            }
            guard let error else { break }
            guard rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL, waited < waitMillis else { return error }
            rd_kafka_error_destroy(error)
            let slice = Int32(min(100, waitMillis - waited))
            rd_kafka_poll(rk, slice)
            waited += Int(slice)
        }
        if producedSincePoll.wrappingAdd(1, ordering: .relaxed).newValue % Self.pollEvery == 0 {
            rd_kafka_poll(rk, 0)
        }
        return nil
    }
}
