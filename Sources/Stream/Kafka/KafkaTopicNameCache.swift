import CRdKafka

/// The topic name of each `rd_kafka_topic_t` seen on the poll path, so that a message's topic
/// `String` is made once per topic, not once per message. librdkafka keeps a topic object alive
/// while its partitions are assigned; the cache is emptied at every rebalance so that a freed
/// and reused address can never map to a stale name.
struct KafkaTopicNameCache {
    private var names: [OpaquePointer: String] = [:]
    // Nearly every message comes from the same topic as the one before: skip the hash lookup.
    private var lastHandle: OpaquePointer?
    private var lastName = ""

    mutating func name(of handle: OpaquePointer) -> String {
        if handle == lastHandle { return lastName }
        let name: String
        if let known = names[handle] {
            name = known
        } else {
            name = String(cString: rd_kafka_topic_name(handle))
            names[handle] = name
        }
        lastHandle = handle
        lastName = name
        return name
    }

    mutating func removeAll() {
        names.removeAll()
        lastHandle = nil
        lastName = ""
    }
}
