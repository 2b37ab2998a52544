import CRdKafka

/// Conversions between `rd_kafka_topic_partition_list_t` and Swift collections. Lists made here
/// are owned by the caller: pair `make` with `rd_kafka_topic_partition_list_destroy`.
enum KafkaPartitionList {
    typealias Pointer = UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// A list holding each partition with its offset (or timestamp, for offsets-for-times).
    static func make(_ offsets: [TopicPartition: Int64]) -> Pointer {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for (tp, offset) in offsets {
            rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition).pointee.offset = offset
        }
        return list
    }

    /// A list of partitions without offsets (`RD_KAFKA_PARTITION_UA` for a subscription).
    static func make(topics: [String]) -> Pointer {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        for topic in topics {
            rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        }
        return list
    }

    static func elements(_ list: Pointer) -> UnsafeMutableBufferPointer<rd_kafka_topic_partition_t> {
        UnsafeMutableBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
    }

    static func partitions(_ list: Pointer) -> [TopicPartition] {
        elements(list).map { TopicPartition(topic: String(cString: $0.topic), partition: $0.partition) }
    }

    /// Each partition's offset, or the first per-partition error.
    static func offsets(_ list: Pointer, operation: String) throws(KafkaError) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for element in elements(list) {
            let tp = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
            guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(element.err, operation: "\(operation) for \(tp)")
            }
            result[tp] = element.offset
        }
        return result
    }
}
