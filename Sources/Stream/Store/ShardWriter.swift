/// Applies events to one shard while its lock is held: the per-event hot path.
/// Bytes in, numbers into ring buffers; a new series is the only thing that allocates.
public struct ShardWriter: ~Copyable {
    let state: ShardState
    let budget: SeriesBudget
    /// Latest acceptable event time (live mode), or nil when event time is the only clock.
    let latestAcceptedMillis: Int64?

    /// Counts the event into every resolution that still holds its bucket.
    /// Returns why it was refused, or nil when it was counted.
    @inline(__always)
    public func apply<L: LabelSource>(_ labels: L, timestampMillis ts: Int64, cost: Double) -> RejectReason? {
        if let latest = latestAcceptedMillis, ts > latest { return reject(.futureTimestamp) }
        let hash = SeriesTable.hash(labels)
        let observer = state.evictionObserver
        if let id = state.table.find(labels, hash: hash) {
            // A known series: each ring that still holds the bucket counts the event; a ring
            // refuses it without side effects, so "none took it" means too old.
            var taken = false
            for (r, ring) in state.rings.enumerated() {
                taken = add(ring, r, series: Int(id), ts: ts, cost: cost, observer: observer) || taken
            }
            if !taken { return reject(.tooOld) }
        } else {
            guard budget.take() else { return reject(.seriesLimit) }
            let series = Int(state.table.insert(labels, hash: hash))
            for (r, ring) in state.rings.enumerated() {
                ring.addSeries()
                _ = add(ring, r, series: series, ts: ts, cost: cost, observer: observer)
            }
        }
        if ts > state.watermarkMillis { state.watermarkMillis = ts }
        state.applied &+= 1
        return nil
    }

    @inline(__always)
    private func add(_ ring: BucketRing, _ r: Int, series: Int, ts: Int64, cost: Double,
                     observer: ShardState.EvictionObserver?) -> Bool {
        let bucket = ring.resolution.bucket(containing: ts)
        guard let observer else { return ring.add(series: series, bucket: bucket, amount: cost) }
        return ring.add(series: series, bucket: bucket, amount: cost) { observer(series, r, $0, $1, $2) }
    }

    /// Counts a rejection decided outside the store (the parser's), so the shard's
    /// counters cover every message of its source.
    public func countRejected(_ reason: RejectReason) { state.rejected[reason.index] &+= 1 }

    /// Kafka: everything below `offset` has been applied or quarantined.
    public func advance(nextOffset offset: Int64) { state.nextOffset = offset }

    /// Kafka: everything up to and including `message` has been applied or quarantined.
    @inline(__always)
    public func advance(past message: MessageFingerprint) {
        state.nextOffset = message.offset + 1
        state.lastMessage = message
    }

    public var nextOffset: Int64? { state.nextOffset }

    /// The message the shard's position ends with, when known.
    public var lastMessage: MessageFingerprint? { state.lastMessage }

    /// After a restore: the fingerprint saved beside the snapshot (the blob predates it).
    func restorePosition(lastMessage: MessageFingerprint?) {
        if let lastMessage, state.nextOffset == lastMessage.offset + 1 { state.lastMessage = lastMessage }
    }

    @inline(__always)
    private func reject(_ reason: RejectReason) -> RejectReason {
        state.rejected[reason.index] &+= 1
        return reason
    }
}
