/// One consumed message, lent to the body of `KafkaConsumer.poll`.
///
/// `payload` and `key` point into librdkafka's buffer, which is freed when the body returns:
/// copy what must outlive the call. Empty buffers stand for a null key or a null payload.
public struct KafkaMessageView {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let payload: UnsafeRawBufferPointer
    public let key: UnsafeRawBufferPointer
    /// The message's timestamp (CreateTime or LogAppendTime, as the topic is configured), or nil
    /// when the broker sent none.
    public let timestampMillis: Int64?

    init(
        topic: String, partition: Int32, offset: Int64,
        payload: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, timestampMillis: Int64?
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.payload = payload
        self.key = key
        self.timestampMillis = timestampMillis
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
