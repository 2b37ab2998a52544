/// Applies events to one shard while its lock is held: the per-event hot path.
/// Bytes in, numbers into ring buffers and contributor sketches; a new series, and a resource id
/// the shard's name table has not seen (`ContributorNames`), are the only things that allocate.
public struct ShardWriter: ~Copyable {
    let state: ShardState
    let budget: SeriesBudget
    /// Latest acceptable event time (live mode), or nil when event time is the only clock.
    let latestAcceptedMillis: Int64?
    /// The largest |sum| the shard's rings were restored with (see `apply`).
    let restoredMagnitude: Double

    /// Below this, `restoredMagnitude + appliedMagnitude + |cost|` bounds every bucket a cost can
    /// land in with room to spare (Double.greatestFiniteMagnitude ≈ 2^1024, and rounding cannot
    /// close a factor of 4), so no sum can overflow and no bucket needs to be read first.
    static let safeMagnitude = 0x1p1022

    init(state: ShardState, budget: SeriesBudget, latestAcceptedMillis: Int64?, restoredMagnitude: Double = 0) {
        self.state = state
        self.budget = budget
        self.latestAcceptedMillis = latestAcceptedMillis
        self.restoredMagnitude = restoredMagnitude
    }

    /// Counts the event into every resolution that still holds its bucket.
    /// Returns why it was refused, or nil when it was counted. A refused event changes no ring,
    /// no series and no budget.
    // Exported specializations: a caller in another module (the backtest's evaluation, the
    // benchmarks) otherwise runs the unspecialized generic, every label read an indirect call.
    @_specialize(exported: true, where L == EventParser)
    @inline(__always)
    public func apply<L: LabelSource>(_ labels: L, timestampMillis ts: Int64, cost: Double) -> RejectReason? {
        precondition(labels.labelCount == state.configuration.inputLabelNames.count,
                     "label values do not match the store's labels \(state.configuration.inputLabelNames)")
        if let latest = latestAcceptedMillis, ts > latest { return reject(.futureTimestamp) }
        // How old is too old: each ring's own head for a series it holds; for a series (or ring)
        // without one yet, the newest event time this shard has seen. Event time, not the wall
        // clock, also live: rings advance only with events, so a live daemon fed a backlog or
        // history lays it out exactly as a replay would (the wall clock would refuse the first
        // event of every series in such a feed while accepting the rest of its history).
        let reference = state.watermarkMillis
        let hash = SeriesTable.hash(labels)
        let observer = state.evictionObserver
        let series: Int
        if let id = state.table.find(labels, hash: hash) {
            series = Int(id)
            // Check every ring before touching any: a refused event must leave them all as they were.
            if restoredMagnitude + state.appliedMagnitude + cost.magnitude > Self.safeMagnitude {
                for ring in state.rings
                where ring.wouldOverflow(series: series, bucket: ring.resolution.bucket(containing: ts), amount: cost) {
                    return reject(.costOverflow)
                }
            }
            // Each ring that still holds the bucket counts the event; a ring refuses it without
            // side effects, so "none took it" means too old.
            var taken = false
            for (r, ring) in state.rings.enumerated() {
                taken = add(ring, r, series: series, ts: ts, cost: cost, reference: reference, observer: observer) || taken
            }
            if !taken { return reject(.tooOld) }
        } else {
            // Age first: a too-old event must neither create a series nor use up the budget.
            var kept = false
            for ring in state.rings where ring.keepsFresh(bucket: ring.resolution.bucket(containing: ts), reference: reference) {
                kept = true
                break
            }
            guard kept else { return reject(.tooOld) }
            guard budget.take() else { return reject(.seriesLimit) }
            series = Int(state.table.insert(labels, hash: hash, extra: state.source))
            for (r, ring) in state.rings.enumerated() {
                ring.addSeries()
                _ = add(ring, r, series: series, ts: ts, cost: cost, reference: reference, observer: observer)
            }
        }
        state.contributors.add(series: series, ts: ts, id: labels.contributorId, cost: cost)
        if ts > state.watermarkMillis { state.watermarkMillis = ts }
        state.appliedMagnitude += cost.magnitude
        state.applied &+= 1
        return nil
    }

    @inline(__always)
    private func add(_ ring: BucketRing, _ r: Int, series: Int, ts: Int64, cost: Double, reference: Int64,
                     observer: ShardState.EvictionObserver?) -> Bool {
        let bucket = ring.resolution.bucket(containing: ts)
        guard let observer else { return ring.add(series: series, bucket: bucket, amount: cost, reference: reference) }
        return ring.add(series: series, bucket: bucket, amount: cost, reference: reference) { observer(series, r, $0, $1, $2) }
    }

    /// Cost Explorer: the polled amount for a (series, period) replaces `previous`, the amount
    /// applied for it before, by adding the difference to every ring that still holds the period
    /// (its event count stays); nil `previous` applies it like an event. Restatements move
    /// values up or down and repeated polls never add up.
    public func replace<L: LabelSource>(_ labels: L, timestampMillis ts: Int64, previous: Double?, with value: Double) -> RejectReason? {
        guard let previous else { return apply(labels, timestampMillis: ts, cost: value) }
        let delta = value - previous
        guard delta.isFinite else { return reject(.costOverflow) }
        guard delta != 0 else { return nil }
        // The series went with a reset of the shard (its state too): nothing to replace.
        guard let id = state.table.find(labels, hash: SeriesTable.hash(labels)) else { return apply(labels, timestampMillis: ts, cost: value) }
        let series = Int(id)
        for ring in state.rings where ring.wouldOverflow(series: series, bucket: ring.resolution.bucket(containing: ts), amount: delta) {
            return reject(.costOverflow)
        }
        var taken = false
        for ring in state.rings {
            // Count 0: the bucket keeps one value per polled period, however often it is restated.
            taken = ring.add(series: series, bucket: ring.resolution.bucket(containing: ts), amount: delta, count: 0,
                             reference: state.watermarkMillis) || taken
        }
        guard taken else { return reject(.tooOld) }
        state.appliedMagnitude += delta.magnitude
        return nil
    }

    /// Cost Explorer: the series' amounts from `fromMillis` on are estimates AWS may still
    /// restate (nil: none are); queries over them say so.
    public func markEstimated<L: LabelSource>(_ labels: L, fromMillis: Int64?) {
        guard let id = state.table.find(labels, hash: SeriesTable.hash(labels)) else { return }
        let series = Int(id)
        if state.estimatedFrom.count <= series {
            guard fromMillis != nil else { return }
            state.estimatedFrom.append(contentsOf: repeatElement(Int64.max, count: series + 1 - state.estimatedFrom.count))
        }
        state.estimatedFrom[series] = fromMillis ?? .max
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
