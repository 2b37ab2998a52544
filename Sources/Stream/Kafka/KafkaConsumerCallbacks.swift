import CRdKafka
import Logging

/// What librdkafka's C callbacks reach through the configuration opaque, and the callbacks
/// themselves. C function pointers cannot capture context, so each callback recovers this object
/// from the opaque pointer; the consumer keeps it alive until after `rd_kafka_destroy`.
///
/// Rebalance, error, statistics and commit callbacks are served from the consumer queue (the
/// main queue is forwarded there by `rd_kafka_poll_set_consumer`), i.e. on the thread that calls
/// `poll` or `close`. Only the log callback runs on librdkafka's own threads; it touches `logger`.
final class KafkaConsumerCallbacks: @unchecked Sendable {
    let monitor = KafkaHealthMonitor()
    let logger: Logger
    /// Poll thread only. Held strongly (a handler passed inline must not vanish) until close().
    var handler: (any KafkaRebalanceHandler)?
    /// Poll thread only. Weak: nil while the consumer is being deinitialised, when the handler is
    /// no longer called.
    weak var consumer: KafkaConsumer?

    init(handler: any KafkaRebalanceHandler, logger: Logger) {
        self.handler = handler
        self.logger = logger
    }

    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, list, opaque in
            guard let rk, let list, let opaque else { return }
            KafkaConsumerCallbacks.from(opaque).rebalance(rk, err, list)
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let callbacks = KafkaConsumerCallbacks.from(opaque)
            let text = reason.map { String(cString: $0) } ?? ""
            callbacks.monitor.recordError(code: err, reason: text)
            callbacks.logger.warning("kafka: \(text)", metadata: ["code": "\(err)"])
        }
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            guard let json, let opaque else { return 0 }
            KafkaConsumerCallbacks.from(opaque).monitor.recordStatistics(UnsafeRawBufferPointer(start: json, count: length))
            return 0  // librdkafka frees the JSON
        }
        rd_kafka_conf_set_offset_commit_cb(conf) { _, err, _, opaque in
            // Asynchronous commits report here; _NO_OFFSET means there was nothing new.
            guard let opaque, err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
            let callbacks = KafkaConsumerCallbacks.from(opaque)
            let error = KafkaError(err, operation: "offset commit")
            callbacks.monitor.recordError(code: err.rawValue, reason: error.message)
            callbacks.logger.warning("kafka: \(error)")
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            KafkaConsumerCallbacks.from(opaque).logger.log(
                level: KafkaConsumerCallbacks.logLevel(syslog: level),
                "kafka: \(text.map { String(cString: $0) } ?? "")",
                metadata: ["facility": "\(facility.map { String(cString: $0) } ?? "")"])
        }
    }

    private static func from(_ opaque: UnsafeMutableRawPointer) -> KafkaConsumerCallbacks {
        Unmanaged<KafkaConsumerCallbacks>.fromOpaque(opaque).takeUnretainedValue()
    }

    /// EAGER protocol: ASSIGN gets the whole new assignment, REVOKE the whole old one.
    private func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: KafkaPartitionList.Pointer) {
        let partitions = KafkaPartitionList.partitions(list)
        consumer?.rebalanceWillChangeAssignment()
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            var starts: [TopicPartition: Int64] = [:]
            if let handler, let consumer {
                starts = handler.partitionsAssigned(partitions, consumer: consumer)
            }
            let elements = KafkaPartitionList.elements(list)
            for (index, tp) in partitions.enumerated() {
                elements[index].offset = starts[tp] ?? KafkaOffset.stored
            }
            logger.info("kafka: assigned \(partitions.map(\.description).joined(separator: ", "))")
            check(rd_kafka_assign(rk, list), "assigning \(partitions.count) partitions")
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            if let handler, let consumer {
                handler.partitionsRevoked(partitions, consumer: consumer)
            }
            logger.info("kafka: revoked \(partitions.map(\.description).joined(separator: ", "))")
            check(rd_kafka_assign(rk, nil), "unassigning after revoke")
        default:
            // librdkafka's advice for a failed rebalance: drop the assignment and rejoin.
            check(err, "rebalance")
            check(rd_kafka_assign(rk, nil), "unassigning after a failed rebalance")
        }
    }

    private func check(_ err: rd_kafka_resp_err_t, _ operation: String) {
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        let error = KafkaError(err, operation: operation)
        monitor.recordError(code: err.rawValue, reason: error.message)
        logger.error("kafka: \(error)")
    }

    private static func logLevel(syslog level: Int32) -> Logger.Level {
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }
}
