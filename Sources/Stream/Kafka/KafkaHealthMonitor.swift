import CRdKafka
import Foundation
import Synchronization

/// Turns librdkafka's statistics JSON and error callbacks into a `KafkaHealth` that any thread
/// may read. Statistics come once per `statistics.interval.ms`, so JSONSerialization is fine here.
final class KafkaHealthMonitor: Sendable {
    private let state = Mutex(KafkaHealth())

    var health: KafkaHealth { state.withLock { $0 } }

    func recordError(code: Int32, reason: String) {
        let name = String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: code)))
        let now = Self.nowMillis()
        let brokersLost = code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue
            || code == RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
        state.withLock {
            $0.lastError = "\(name): \(reason)"
            $0.lastErrorAtMillis = now
            // Statistics lag by up to one interval: do not wait for them to report the loss.
            if brokersLost { $0.brokersUp = 0 }
        }
    }

    func recordStatistics(_ json: UnsafeRawBufferPointer) {
        guard let base = json.baseAddress,
              let root = try? JSONSerialization.jsonObject(with: Data(bytes: base, count: json.count)) as? [String: Any]
        else { return }
        let (up, known) = Self.brokerCounts(root["brokers"] as? [String: Any] ?? [:])
        let partitions = Self.assignedPartitions(root["topics"] as? [String: Any] ?? [:])
        let now = Self.nowMillis()
        state.withLock {
            $0.brokersUp = up
            $0.brokersKnown = known
            $0.partitions = partitions
            $0.updatedAtMillis = now
        }
    }

    /// Counts brokers learned from metadata when there are any, else the bootstrap entries (a
    /// bootstrap address and the broker learned behind it are the same machine). Logical and
    /// internal entries (the group coordinator handle) are not brokers.
    private static func brokerCounts(_ brokers: [String: Any]) -> (up: Int, known: Int) {
        var learned: (up: Int, known: Int) = (0, 0)
        var configured: (up: Int, known: Int) = (0, 0)
        for case let broker as [String: Any] in brokers.values {
            let isUp = ["UP", "UPDATE"].contains(broker["state"] as? String ?? "")
            switch broker["source"] as? String {
            case "learned":
                learned.known += 1
                if isUp { learned.up += 1 }
            case "configured":
                configured.known += 1
                if isUp { configured.up += 1 }
            default:
                continue
            }
        }
        return learned.known > 0 ? learned : configured
    }

    private static func assignedPartitions(_ topics: [String: Any]) -> [TopicPartition: PartitionLag] {
        var result: [TopicPartition: PartitionLag] = [:]
        for case let (topic, value as [String: Any]) in topics {
            for case let (key, p as [String: Any]) in value["partitions"] as? [String: Any] ?? [:] {
                // "-1" is librdkafka's internal unassigned partition; "desired" marks ours.
                guard let partition = Int32(key), partition >= 0, p["desired"] as? Bool == true else { continue }
                let high = int64(p["hi_offset"]) ?? -1
                result[TopicPartition(topic: topic, partition: partition)] = PartitionLag(
                    highWatermark: high,
                    consumerLag: lag(high: high, partition: p),
                    fetchState: p["fetch_state"] as? String ?? "unknown")
            }
        }
        return result
    }

    /// librdkafka's own `consumer_lag` is measured from the committed offset, which the daemon
    /// commits only with a snapshot; the position handed to the application is what "caught up"
    /// means. With nothing handed out yet, the fetch position counts once the queue is empty.
    private static func lag(high: Int64, partition p: [String: Any]) -> Int64 {
        guard high >= 0 else { return -1 }
        var position = int64(p["app_offset"]) ?? -1
        if position < 0, int64(p["fetchq_cnt"]) == 0 { position = int64(p["next_offset"]) ?? -1 }
        guard position >= 0 else { return -1 }
        return max(0, high - position)
    }

    private static func int64(_ value: Any?) -> Int64? { (value as? NSNumber)?.int64Value }

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
