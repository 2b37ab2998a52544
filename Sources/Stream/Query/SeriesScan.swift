/// One series as a scan sees it: its labels and totals over planned spans. Valid only inside
/// the scan's closure (it reads ring memory under the shard lock).
public struct ScannedSeries: ~Copyable {
    let state: ShardState
    let series: Int
    public let shard: String

    /// The series' number within its shard (stable while the shard is not reset or restored).
    public var index: Int { series }

    /// Label values in `StoreConfiguration.labelNames` order.
    public var labels: [String] { state.table.labels[series] }

    /// Sum and event count over the span.
    @inline(__always)
    public func total(_ span: PlannedSpan) -> (sum: Double, count: UInt64) {
        state.rings[span.ring].total(series: series, from: span.first, through: span.last)
    }

    /// Sum and event count over the span, and the sum of its newest bucket alone.
    @inline(__always)
    public func totalAndNewest(_ span: PlannedSpan) -> (sum: Double, count: UInt64, newest: Double) {
        state.rings[span.ring].totalAndNewest(series: series, from: span.first, through: span.last)
    }

    /// Adds the series' sum per bucket of the span into `buckets` (oldest first, `span.buckets` long).
    public func addBuckets(_ span: PlannedSpan, into buckets: inout [Double]) {
        state.rings[span.ring].forEachBucket(series: series, from: span.first, through: span.last) { b, sum, _ in
            buckets[Int(b - span.first)] += sum
        }
    }
}

/// What one scan cost the writers.
public struct ScanStatistics: Sendable {
    public var series = 0
    /// The longest any shard lock was held at once (one chunk of series).
    public var longestLockHold: Duration = .zero
    public var lockHolds = 0
    public init() {}
}

extension WindowStore {
    /// Visits every series of every shard once, chunk by chunk under each shard's lock (a writer
    /// waits at most one chunk), so that many readers of the same round share one pass.
    @discardableResult
    public func scan(_ visit: (borrowing ScannedSeries) -> Void) -> ScanStatistics {
        var stats = ScanStatistics()
        let clock = ContinuousClock()
        for shard in allShards {
            var start = 0
            while true {
                let began = clock.now
                let done: Bool = shard.withState { s in
                    let end = min(start + BucketRing.seriesPerChunk, s.seriesCount)
                    var series = start
                    while series < end {
                        visit(ScannedSeries(state: s, series: series, shard: shard.key))
                        series += 1
                    }
                    stats.series += end - start
                    start = end
                    return end >= s.seriesCount
                }
                stats.longestLockHold = max(stats.longestLockHold, clock.now - began)
                stats.lockHolds += 1
                if done { break }
            }
        }
        return stats
    }
}
