/// Per series, the top contributors (resource ids) by cost of the current clock hour and the
/// previous one: what an anomaly alert names as "behind the excess".
///
/// Each (series, hour) keeps a weighted Space-Saving sketch of `k` entries (Metwally et al.
/// 2005): an id already tracked adds its cost; a new id takes a free entry, or else replaces the
/// entry with the smallest cost and inherits that cost as its possible overestimate. So with at
/// most `k` distinct ids in the hour every cost is exact; with more, every id whose true cost
/// exceeds `total / k` is tracked, and each entry's cost is at most `overestimate` above its
/// true cost.
///
/// Event time decides the hour: an event counts into the sketch of its own clock hour when
/// that is the series' newest sketched hour or the one before it (starting a newer hour drops
/// the sketch two hours back); an event for an older hour leaves the sketches alone (the
/// windows still count it). Only positive costs count (credits and refunds have no
/// contributor ranking). Sources that do not carry resource ids (`contributorId == nil`: the
/// HTTP journal replayed at start, restores) skip the sketches; an event with an empty id counts
/// as `ContributorNames.noResource`.
///
/// Memory: `bytesPerSeries` (416 B at k = 8), allocated in chunks of `BucketRing.seriesPerChunk`
/// series as series are added, never reallocated; plus the shard's name table
/// (`ContributorNames`, bounded). Not saved in snapshots: after a restart or a rebalance the
/// sketches fill again from new events (the hour's windows are restored; its contributors cover
/// only what arrived since, which `total` shows).
///
/// The hot path (`add`) allocates nothing for a known series and a tracked or named id: the
/// sketch holds 64-bit hashes of the ids, and a name is interned only when its hash enters a
/// sketch and the name table does not have it yet.
final class ContributorSketches {
    static let k = 8
    static let hourMillis: Int64 = 3_600_000
    static let noHour = Int64.min
    /// Two hours per series, each a `Slot` and `k` entries.
    static let bytesPerSeries = 2 * (MemoryLayout<Slot>.stride + k * MemoryLayout<Entry>.stride)

    struct Slot {
        /// Clock hour index (epoch ms / 3,600,000, floored) or `noHour`.
        var hour: Int64
        /// Sum of the costs this sketch took (the share of the hour it covers).
        var total: Double
    }

    /// An id's hash and its (over)estimated cost; `cost == 0` marks a free entry (only positive
    /// costs are added, and entries are filled in order).
    struct Entry {
        var id: UInt64
        var cost: Double
        var overestimate: Double
    }

    // Unchecked exclusivity: used only under the shard's mutex, like the rings.
    @exclusivity(unchecked) private var slotChunks: [UnsafeMutablePointer<Slot>] = []
    @exclusivity(unchecked) private var entryChunks: [UnsafeMutablePointer<Entry>] = []
    let names = ContributorNames()

    init() {}

    deinit {
        for p in slotChunks { p.deallocate() }
        for p in entryChunks { p.deallocate() }
    }

    /// Series the sketches have room for (whole chunks).
    var seriesCapacity: Int { slotChunks.count * BucketRing.seriesPerChunk }

    var allocatedBytes: Int { seriesCapacity * Self.bytesPerSeries + names.allocatedBytes }

    private static let hours = FloorDivisor(hourMillis)

    /// The clock hour of an epoch-ms time, floored (also before 1970), without overflow; by a
    /// reciprocal, like the rings' bucket numbers (a hardware division per event otherwise).
    @inline(__always)
    static func hour(containing millis: Int64) -> Int64 { hours.quotient(millis) }

    /// Counts `cost` for the id `bytes` (nil: the source has no ids) into `series`' sketch of
    /// the hour of `ts`, when that hour is still sketched. Out of line, so the writer's inlined
    /// loop stays small (a call per event; in alternating benchmark runs no slower than inlined).
    @inline(never)
    func add(series: Int, ts: Int64, id bytes: UnsafeRawBufferPointer?, cost: Double) {
        guard cost > 0, let bytes else { return }
        if series >= seriesCapacity { grow(toHold: series) }
        let h = Self.hour(containing: ts)
        let slots = slotChunks[series / BucketRing.seriesPerChunk] + (series % BucketRing.seriesPerChunk) * 2
        let s = Int(h & 1)
        if slots[s].hour != h {
            // The slot holds an hour of the same parity (h ± 2n) or none. Take it over only for a
            // newer hour, and only if the other slot is not more than one hour ahead of `h`.
            let other = slots[1 - s].hour
            guard slots[s].hour < h, other == Self.noHour || other <= h + 1 else { return }
            slots[s] = Slot(hour: h, total: 0)
            entries(series, s).update(repeating: Entry(id: 0, cost: 0, overestimate: 0), count: Self.k)
        }
        let total = slots[s].total + cost
        slots[s].total = total.isFinite ? total : .greatestFiniteMagnitude
        let id = ContributorNames.hash(bytes)
        let e = entries(series, s)
        var smallest = 0
        var smallestCost = Double.infinity
        for i in 0..<Self.k {
            let c = e[i].cost
            if c == 0 {
                e[i] = Entry(id: id, cost: cost, overestimate: 0)
                names.intern(id, bytes, hour: h, sketches: self)
                return
            }
            if e[i].id == id {
                let sum = c + cost
                e[i].cost = sum.isFinite ? sum : .greatestFiniteMagnitude
                return
            }
            if c < smallestCost {
                smallestCost = c
                smallest = i
            }
        }
        let sum = smallestCost + cost
        e[smallest] = Entry(id: id, cost: sum.isFinite ? sum : .greatestFiniteMagnitude, overestimate: smallestCost)
        names.intern(id, bytes, hour: h, sketches: self)
    }

    @inline(__always)
    private func entries(_ series: Int, _ slot: Int) -> UnsafeMutablePointer<Entry> {
        entryChunks[series / BucketRing.seriesPerChunk] + ((series % BucketRing.seriesPerChunk) * 2 + slot) * Self.k
    }

    /// A new series beyond the allocated chunks (cold: once per `seriesPerChunk` series).
    private func grow(toHold series: Int) {
        let n = BucketRing.seriesPerChunk
        while series >= seriesCapacity {
            let slots = UnsafeMutablePointer<Slot>.allocate(capacity: n * 2)
            slots.initialize(repeating: Slot(hour: Self.noHour, total: 0), count: n * 2)
            let entries = UnsafeMutablePointer<Entry>.allocate(capacity: n * 2 * Self.k)
            entries.initialize(repeating: Entry(id: 0, cost: 0, overestimate: 0), count: n * 2 * Self.k)
            slotChunks.append(slots)
            entryChunks.append(entries)
        }
    }

    /// The sketch of the clock hour containing `millis` for `series`, if it has one: total and
    /// entries by cost, largest first (ties by name, so the order is stable).
    func sketch(series: Int, hourContaining millis: Int64) -> (total: Double, top: [Contributor])? {
        guard series >= 0, series < seriesCapacity else { return nil }
        let h = Self.hour(containing: millis)
        let s = Int(h & 1)
        let slot = (slotChunks[series / BucketRing.seriesPerChunk] + (series % BucketRing.seriesPerChunk) * 2)[s]
        guard slot.hour == h else { return nil }
        let e = entries(series, s)
        var top: [Contributor] = []
        for i in 0..<Self.k where e[i].cost > 0 {
            top.append(Contributor(name: names.name(e[i].id), cost: e[i].cost, overestimate: e[i].overestimate))
        }
        top.sort { $0.cost != $1.cost ? $0.cost > $1.cost : $0.name < $1.name }
        return (slot.total, top)
    }

    /// Every id hash some sketch holds (the name table's sweep).
    func forEachTrackedId(_ body: (UInt64) -> Void) {
        let perChunk = BucketRing.seriesPerChunk * 2 * Self.k
        for chunk in entryChunks {
            for i in 0..<perChunk where chunk[i].cost > 0 { body(chunk[i].id) }
        }
    }
}

/// One of the top contributors of a series' hour.
public struct Contributor: Sendable, Equatable {
    /// The event's resource id; `ContributorNames.noResource` for events without one; the id's
    /// hash (`ContributorNames.hashedNamePrefix` + 16 hex digits) when the shard's name table had
    /// no room for it.
    public var name: String
    /// Cost counted for it in the hour (USD or the store's first currency, as the windows).
    /// An upper bound: the true cost is at least `cost - overestimate`.
    public var cost: Double
    /// 0 when exact (at most `k` ids in the hour, or the id was tracked from its first event).
    public var overestimate: Double

    public init(name: String, cost: Double, overestimate: Double) {
        self.name = name
        self.cost = cost
        self.overestimate = overestimate
    }
}
