/// The consumer's view of the cluster, for /healthz, /readyz and /metrics. Updated from
/// librdkafka's statistics (every `statistics.interval.ms`) and its error callback; both are
/// served by `poll`, so `updatedAtMillis` going stale means the poll loop has stalled.
public struct KafkaHealth: Sendable, Equatable {
    /// Brokers with an open, usable connection. 0 from an all-brokers-down or transport error
    /// until statistics show a broker up again.
    public var brokersUp: Int
    /// Brokers the client knows of (those learned from metadata, else the bootstrap list).
    public var brokersKnown: Int
    /// The last error reported by librdkafka, e.g. "_TRANSPORT: 127.0.0.1:9092/0: Connection refused".
    public var lastError: String?
    public var lastErrorAtMillis: Int64?
    /// The partitions assigned to this consumer.
    public var partitions: [TopicPartition: PartitionLag]
    /// Wall-clock time of the last statistics, nil before the first.
    public var updatedAtMillis: Int64?

    public init(
        brokersUp: Int = 0, brokersKnown: Int = 0, lastError: String? = nil, lastErrorAtMillis: Int64? = nil,
        partitions: [TopicPartition: PartitionLag] = [:], updatedAtMillis: Int64? = nil
    ) {
        self.brokersUp = brokersUp
        self.brokersKnown = brokersKnown
        self.lastError = lastError
        self.lastErrorAtMillis = lastErrorAtMillis
        self.partitions = partitions
        self.updatedAtMillis = updatedAtMillis
    }
}
