/// What identifies the last message a partition's state covers: its offset, timestamp and size.
///
/// An offset alone means nothing without its log: a broker restarted without its data, a topic
/// deleted and recreated or `kafka.brokers` pointed at another cluster all reuse offsets. On
/// restore the consumer re-reads the message at `offset` and compares: the same timestamp and
/// size is the same log (two cheap fields, kept per message at no cost); anything else means
/// the saved state describes another log and the partition is rebuilt.
public struct MessageFingerprint: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int64
    /// The message's timestamp in milliseconds, or -1 when the broker sent none.
    public var timestampMillis: Int64
    public var bytes: Int64

    public init(offset: Int64, timestampMillis: Int64, bytes: Int64) {
        self.offset = offset
        self.timestampMillis = timestampMillis
        self.bytes = bytes
    }

    public var description: String { "offset \(offset) (timestamp \(timestampMillis), \(bytes) bytes)" }
}

/// Where a partition's saved state stands: the next offset to read, in which log.
public struct SavedPosition: Sendable, Equatable {
    public var nextOffset: Int64?
    /// The cluster the offsets were read from (Kafka's cluster id), when known.
    public var clusterID: String?
    /// The last message applied, when known (snapshots from before it was kept have none).
    public var lastMessage: MessageFingerprint?

    public init(nextOffset: Int64?, clusterID: String? = nil, lastMessage: MessageFingerprint? = nil) {
        self.nextOffset = nextOffset
        self.clusterID = clusterID
        self.lastMessage = lastMessage
    }
}
