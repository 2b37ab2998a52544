import Synchronization

/// The windows fed by one input partition (`kafka/<topic>/<partition>`), or by the HTTP
/// endpoint (`http`), or by a replay (`replay`).
///
/// Why shards follow input partitions: a consumer-group rebalance moves whole partitions
/// between instances, so the state of a partition must be separable — snapshotted on revoke,
/// restored or rebuilt on assign — and it carries the one Kafka offset it covers.
///
/// Concurrency: one mutex per shard. The writer takes it per message (the Kafka consumer
/// thread, which interleaves partitions) or per batch (an HTTP request, a replay); readers take
/// it per chunk of `BucketRing.seriesPerChunk` series, so a query over 100,000 series never
/// holds a writer back for more than one chunk's reading (microseconds), and a writer holds
/// readers back for at most one message or batch. Every read and write
/// of ring memory happens under the lock, which is what makes the unsafe pointers safe.
public final class Shard: Sendable {
    public let key: String
    private let state: Mutex<ShardState>
    private let budget: SeriesBudget

    init(key: String, configuration: StoreConfiguration, budget: SeriesBudget) {
        self.key = key
        self.budget = budget
        self.state = Mutex(ShardState(configuration: configuration, source: PartitionKey.source(of: key)))
    }

    init(key: String, restoring state: sending ShardState, budget: SeriesBudget) {
        self.key = key
        self.budget = budget
        self.state = Mutex(state)
    }

    /// Runs a batch of writes under the shard lock. `nowMillis` (live mode) makes events further
    /// ahead than the configured skew count as `future_timestamp`.
    public func write<R>(nowMillis: Int64? = nil, _ body: (borrowing ShardWriter) throws -> R) rethrows -> R {
        try state.withLock { s -> R in
            let latest = nowMillis.map { $0 + s.configuration.maxFutureSkewSeconds * 1000 }
            let writer = ShardWriter(state: s, budget: budget, latestAcceptedMillis: latest,
                                     restoredMagnitude: s.restoredMagnitude)
            return try body(writer)
        }
    }

    func withState<R>(_ body: (ShardState) throws -> R) rethrows -> R {
        try state.withLock { s -> R in try body(s) }
    }

    public var statistics: ShardStatistics {
        withState { s in
            var rejected: [RejectReason: UInt64] = [:]
            for (i, reason) in RejectReason.allCases.enumerated() where s.rejected[i] > 0 { rejected[reason] = s.rejected[i] }
            return ShardStatistics(key: key, series: s.seriesCount, applied: s.applied, rejected: rejected,
                                   watermarkMillis: s.watermarkMillis == .min ? nil : s.watermarkMillis,
                                   nextOffset: s.nextOffset, allocatedBytes: s.allocatedBytes)
        }
    }

    /// Installs a callback for buckets the rings reuse (replay's hourly dump).
    public func observeEvictions(_ observer: @escaping (_ labels: [String], _ resolution: Resolution,
                                                        _ bucketStartMillis: Int64, _ sum: Double, _ count: UInt32) -> Void) {
        withState { s in
            s.evictionObserver = { [unowned s] series, r, bucket, sum, count in
                let resolution = s.rings[r].resolution
                observer(s.table.labels[series], resolution, bucket * resolution.stepMillis, sum, count)
            }
        }
    }

    /// Every non-empty bucket of one resolution, series by series (dumps and tests).
    public func forEachBucket(stepSeconds: Int64,
                              _ body: (_ labels: [String], _ bucketStartMillis: Int64, _ sum: Double, _ count: UInt32) -> Void) {
        withState { s in
            guard let ring = s.rings.first(where: { $0.resolution.stepSeconds == stepSeconds }) else { return }
            for series in 0..<s.seriesCount {
                let labels = s.table.labels[series]
                ring.forEachBucket(series: series, from: .min / 2, through: .max / 2) { b, sum, count in
                    body(labels, b * ring.resolution.stepMillis, sum, count)
                }
            }
        }
    }

    func releaseBudget() { budget.release(withState { $0.seriesCount }) }
}

public struct ShardStatistics: Sendable {
    public var key: String
    public var series: Int
    public var applied: UInt64
    public var rejected: [RejectReason: UInt64]
    public var watermarkMillis: Int64?
    public var nextOffset: Int64?
    public var allocatedBytes: Int
}
