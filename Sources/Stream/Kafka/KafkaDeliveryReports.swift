import CRdKafka
import Logging
import Synchronization

/// Counts messages the producer could not deliver and keeps the last failure. Reached from
/// librdkafka's C delivery-report callback through the configuration opaque; the callback runs
/// on whichever thread calls `rd_kafka_poll`/`rd_kafka_flush`, hence the mutex. Also routes the
/// producer's errors and log lines to `logger` (the log callback runs on librdkafka's threads).
final class KafkaDeliveryReports: Sendable {
    private let failures = Mutex<(count: Int, last: KafkaError?)>((0, nil))
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    var snapshot: (count: Int, last: KafkaError?) { failures.withLock { $0 } }

    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque, message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
            let reports = Unmanaged<KafkaDeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
            let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            reports.recordFailure(KafkaError(message.pointee.err, operation: "deliver a message to \(topic)"))
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let reports = Unmanaged<KafkaDeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
            reports.logger.warning("kafka producer: \(reason.map { String(cString: $0) } ?? "")", metadata: ["code": "\(err)"])
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, _, text in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let reports = Unmanaged<KafkaDeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
            reports.logger.log(level: level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug,
                               "kafka producer: \(text.map { String(cString: $0) } ?? "")")
        }
    }

    private func recordFailure(_ error: KafkaError) {
        let isFirstOfItsKind = failures.withLock { state in
            defer { state = (state.count + 1, error) }
            return state.last?.code != error.code
        }
        // One line per change of cause, not one per message (a dead broker fails them all).
        if isFirstOfItsKind { logger.error("kafka producer: \(error)") }
    }
}
