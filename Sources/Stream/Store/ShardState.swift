/// Everything one shard holds. `@unchecked Sendable` because it is only ever touched while its
/// `Shard`'s mutex is held (the mutex is the only path to it).
final class ShardState: @unchecked Sendable {
    let configuration: StoreConfiguration
    /// The `source` label of every series here (`PartitionKey.source(of:)`).
    let source: String
    let table = SeriesTable()
    let rings: [BucketRing]
    /// Top contributors per series, current and previous hour (not saved in snapshots).
    let contributors = ContributorSketches()
    // Unchecked exclusivity on the per-event fields: the shard's mutex already serialises every
    // access, and the runtime's dynamic checks cost a few percent of the hot path.
    /// Newest event time applied (the event-time clock of replay and backtest).
    @exclusivity(unchecked) var watermarkMillis = Int64.min
    /// Kafka: the next offset to read; every message below it is in the windows (or quarantined).
    @exclusivity(unchecked) var nextOffset: Int64?
    /// Kafka: the message at `nextOffset - 1`, to recognise the log on restore.
    @exclusivity(unchecked) var lastMessage: MessageFingerprint?
    @exclusivity(unchecked) var applied: UInt64 = 0
    /// Sum of |cost| of every event applied since this state was created: with the largest
    /// restored bucket it bounds every bucket's |sum|, so the writer knows when no bucket can
    /// overflow without looking at one (see `ShardWriter.apply`).
    @exclusivity(unchecked) var appliedMagnitude = 0.0
    @exclusivity(unchecked) var rejected = [UInt64](repeating: 0, count: RejectReason.allCases.count)
    /// Per series, the first period whose amount is an estimate (Cost Explorer); Int64.max or
    /// beyond the end: none. Empty for other sources. Not saved: the poller's state re-marks it.
    var estimatedFrom: [Int64] = []
    /// Sees buckets the rings reuse (`replay --dump-hourly`); nil in the daemon. Read per event.
    @exclusivity(unchecked) var evictionObserver: EvictionObserver?
    typealias EvictionObserver = (_ series: Int, _ resolution: Int, _ bucket: Int64, _ sum: Double, _ count: UInt32) -> Void

    init(configuration: StoreConfiguration, source: String) {
        self.configuration = configuration
        self.source = source
        rings = configuration.resolutions.map { BucketRing(resolution: $0) }
    }

    var seriesCount: Int { table.count }

    var allocatedBytes: Int { rings.reduce(table.indexBytes + contributors.allocatedBytes) { $0 + $1.allocatedBytes } }

    /// The largest |sum| any ring was restored with (0 for a state that was not restored).
    var restoredMagnitude: Double { rings.reduce(0) { max($0, $1.restoredMagnitude) } }
}

extension RejectReason {
    var index: Int { RejectReason.allCases.firstIndex(of: self)! }
}
