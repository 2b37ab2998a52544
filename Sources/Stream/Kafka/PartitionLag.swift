/// Where one assigned partition stands, from the client's statistics.
public struct PartitionLag: Sendable, Equatable {
    /// The log end offset from the broker's Fetch responses (`hi_offset`). Not from ListOffsets,
    /// which under-reports on some brokers (Tansu); -1 until the first fetch answers.
    public var highWatermark: Int64
    /// Messages between this consumer's position (the last message handed to `poll` + 1, or the
    /// fetch position while nothing is queued) and the high watermark; -1 while unknown.
    public var consumerLag: Int64
    /// librdkafka's fetch state: "active" when fetching; "offset-query"/"offset-wait" while
    /// looking up a start offset; "none"/"stopped" when idle.
    public var fetchState: String

    public init(highWatermark: Int64, consumerLag: Int64, fetchState: String) {
        self.highWatermark = highWatermark
        self.consumerLag = consumerLag
        self.fetchState = fetchState
    }
}
