/// The shard key of one input partition: `kafka/<topic>/<partition>`, `http`, `replay`.
public enum PartitionKey {
    public static let http = "http"
    public static let replay = "replay"
    /// The series polled from AWS Cost Explorer.
    public static let costExplorer = "cost-explorer"

    /// The `source` label of a partition's series: `kafka`, `http`, `replay`, `cost-explorer`.
    public static func source(of key: String) -> String {
        key.hasPrefix("kafka/") ? "kafka" : key
    }

    public static func kafka(_ tp: TopicPartition) -> String { "kafka/\(tp.topic)/\(tp.partition)" }

    /// The topic and partition of a `kafka/…` key, or nil for any other key.
    public static func kafkaPartition(of key: String) -> TopicPartition? {
        guard key.hasPrefix("kafka/"), let slash = key.lastIndex(of: "/"), let p = Int32(key[key.index(after: slash)...]) else { return nil }
        let topicStart = key.index(key.startIndex, offsetBy: 6)
        guard topicStart < slash else { return nil }
        return TopicPartition(topic: String(key[topicStart..<slash]), partition: p)
    }
}
