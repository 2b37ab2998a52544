/// Told when the consumer group moves partitions to or from this consumer (EAGER protocol:
/// every rebalance first revokes the whole assignment, then assigns the new one).
///
/// Both methods run on the thread that calls `KafkaConsumer.poll` (or `close`), between two
/// messages: the daemon's single consumer thread is therefore the only writer to its shards, and
/// no message of a revoked partition is handed out after `partitionsRevoked` returns.
public protocol KafkaRebalanceHandler: AnyObject {
    /// The partitions are now this consumer's. Return where each one starts: the offset that the
    /// restored snapshot covers (the next offset to read), or `KafkaOffset.beginning`, `.end`,
    /// `.stored`. A partition left out of the answer starts at `KafkaOffset.stored` (the group's
    /// committed offset, else `auto.offset.reset`). The consumer may be queried from here
    /// (`offsetsForTimes`, `watermarks`), e.g. to rebuild a partition by replay.
    func partitionsAssigned(_ partitions: [TopicPartition], consumer: KafkaConsumer) -> [TopicPartition: Int64]

    /// The partitions are about to leave: snapshot them (and commit) now. Once this returns
    /// they are unassigned and another instance may start on them.
    func partitionsRevoked(_ partitions: [TopicPartition], consumer: KafkaConsumer)
}
