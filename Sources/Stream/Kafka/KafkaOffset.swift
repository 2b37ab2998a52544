import CRdKafka

/// Logical start offsets for `KafkaRebalanceHandler.partitionsAssigned` and `KafkaConsumer.commit`
/// (librdkafka's `RD_KAFKA_OFFSET_*`). Any value >= 0 is a real offset: the next message to read.
public enum KafkaOffset {
    /// The oldest message still on the broker.
    public static let beginning = Int64(RD_KAFKA_OFFSET_BEGINNING)
    /// The end of the log: only messages produced from now on.
    public static let end = Int64(RD_KAFKA_OFFSET_END)
    /// The group's committed offset, or `auto.offset.reset` when the group has none.
    public static let stored = Int64(RD_KAFKA_OFFSET_STORED)
    /// No offset (librdkafka's answer when it does not know one yet).
    public static let invalid = Int64(RD_KAFKA_OFFSET_INVALID)
}
