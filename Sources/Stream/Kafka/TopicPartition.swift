/// One partition of one topic: the unit that the consumer group moves between instances and
/// that a shard's state and committed offset belong to.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic[partition]`, as librdkafka writes it in its logs.
    public var description: String { "\(topic)[\(partition)]" }
}
