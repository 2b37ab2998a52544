/// The buckets of one resolution for every series of a shard.
///
/// Per series a fixed ring of `resolution.buckets` buckets (a Double sum and a UInt32 count), and
/// a head: the newest bucket index the series has seen. A slot holds bucket `b` when
/// `head - buckets < b <= head`; advancing the head clears exactly the slots it reuses, once.
/// A series without a head yet judges age against the shard's watermark (`reference`) instead, so
/// its first event cannot plant a bucket older than the ring keeps. Counts saturate at
/// UInt32.max; sums are kept finite by the writer (`wouldOverflow` before any ring is touched).
/// Storage grows in chunks of `seriesPerChunk` series, so memory per series is fixed by the
/// configuration and nothing is reallocated or copied when series are added.
final class BucketRing {
    static let seriesPerChunk = 256
    static let noHead = Int64.min

    let resolution: Resolution
    let capacity: Int
    private let slots: FloorDivisor
    // Unchecked exclusivity: these are touched only while the shard's mutex is held, so the
    // runtime's dynamic access checks (≈ 4% of a replay in perf) guard nothing.
    @exclusivity(unchecked) private var sumChunks: [UnsafeMutablePointer<Double>] = []
    @exclusivity(unchecked) private var countChunks: [UnsafeMutablePointer<UInt32>] = []
    @exclusivity(unchecked) private(set) var heads: [Int64] = []
    /// The largest |sum| `set` stored (a restore), for the writer's overflow bound.
    private(set) var restoredMagnitude = 0.0

    init(resolution: Resolution) {
        self.resolution = resolution
        self.capacity = resolution.buckets
        slots = FloorDivisor(Int64(resolution.buckets))
    }

    deinit {
        for p in sumChunks { p.deallocate() }
        for p in countChunks { p.deallocate() }
    }

    var seriesCount: Int { heads.count }
    var allocatedBytes: Int { sumChunks.count * Self.seriesPerChunk * capacity * 12 + heads.capacity * 8 }

    func addSeries() {
        if heads.count == sumChunks.count * Self.seriesPerChunk {
            let n = Self.seriesPerChunk * capacity
            let sums = UnsafeMutablePointer<Double>.allocate(capacity: n)
            sums.initialize(repeating: 0, count: n)
            let counts = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
            counts.initialize(repeating: 0, count: n)
            sumChunks.append(sums)
            countChunks.append(counts)
        }
        heads.append(Self.noHead)
    }

    @inline(__always)
    private func base(_ series: Int) -> (UnsafeMutablePointer<Double>, UnsafeMutablePointer<UInt32>) {
        let chunk = series / Self.seriesPerChunk
        let offset = (series % Self.seriesPerChunk) * capacity
        return (sumChunks[chunk] + offset, countChunks[chunk] + offset)
    }

    @inline(__always)
    private func slot(_ bucket: Int64) -> Int {
        Int(slots.remainder(bucket))
    }

    /// Whether a series with no head in this ring would keep `bucket`, judged against the
    /// shard's watermark `reference` (epoch ms; Int64.min when there is none yet: everything is kept).
    @inline(__always)
    func keepsFresh(bucket: Int64, reference: Int64) -> Bool {
        reference == Int64.min || bucket > resolution.bucket(containing: reference) - Int64(capacity)
    }

    /// Whether adding `amount` to `bucket` would make its sum non-finite. Only a bucket the ring
    /// already holds can: a fresh or reused one starts from 0 and `amount` is finite.
    @inline(__always)
    func wouldOverflow(series: Int, bucket: Int64, amount: Double) -> Bool {
        let head = heads[series]
        guard head != Self.noHead, bucket <= head, bucket > head - Int64(capacity) else { return false }
        return !(base(series).0[slot(bucket)] + amount).isFinite
    }

    /// Adds an amount to the bucket; false when the bucket is older than this ring keeps (for a
    /// series without a head: older than `reference` allows, see `keepsFresh`).
    /// `evicted` sees every non-empty bucket the ring reuses (bucket index, sum, count).
    @inline(__always)
    func add(series: Int, bucket: Int64, amount: Double, count: UInt32 = 1, reference: Int64 = Int64.min,
             evicted: ((Int64, Double, UInt32) -> Void)? = nil) -> Bool {
        let (sums, counts) = base(series)
        let head = heads[series]
        if head == Self.noHead {
            guard keepsFresh(bucket: bucket, reference: reference) else { return false }
            heads[series] = bucket
        } else if bucket > head {
            // The reused slots are consecutive (wrapping once at most): one division for the
            // first, then plain stores (a division per slot was most of this loop's cost).
            let advance = Int(min(bucket - head, Int64(capacity)))
            let first = slot(bucket - Int64(advance) + 1)
            if let evicted {
                // The reused slots hold the ring's `advance` oldest buckets, oldest first. (Not
                // `b - capacity` for the slot of `b`: after a jump longer than the ring, a slot
                // holds a bucket several ring lengths back.)
                var old = head - Int64(capacity) + 1
                var s = slot(old)
                for _ in 0..<advance {
                    if counts[s] != 0 { evicted(old, sums[s], counts[s]) }
                    old += 1
                    s += 1
                    if s == capacity { s = 0 }
                }
            }
            let straight = min(advance, capacity - first)
            (sums + first).update(repeating: 0, count: straight)
            (counts + first).update(repeating: 0, count: straight)
            if advance > straight {
                sums.update(repeating: 0, count: advance - straight)
                counts.update(repeating: 0, count: advance - straight)
            }
            heads[series] = bucket
            let s = first + advance - 1
            return addAt(s < capacity ? s : s - capacity, sums, counts, amount, count)
        } else if bucket <= head - Int64(capacity) {
            return false
        }
        return addAt(slot(bucket), sums, counts, amount, count)
    }

    @inline(__always)
    private func addAt(_ s: Int, _ sums: UnsafeMutablePointer<Double>, _ counts: UnsafeMutablePointer<UInt32>,
                       _ amount: Double, _ count: UInt32) -> Bool {
        sums[s] += amount
        let (c, overflow) = counts[s].addingReportingOverflow(count)
        counts[s] = overflow ? .max : c
        return true
    }

    /// Calls `body(bucket, sum, count)` for each bucket in `first...last` that this series holds
    /// (buckets outside its live range read as empty and are skipped).
    @inline(__always)
    func forEachBucket(series: Int, from first: Int64, through last: Int64,
                       _ body: (Int64, Double, UInt32) -> Void) {
        let head = heads[series]
        guard head != Self.noHead else { return }
        let lo = max(first, head - Int64(capacity) + 1)
        let hi = min(last, head)
        guard lo <= hi else { return }
        let (sums, counts) = base(series)
        var b = lo
        while b <= hi {
            let s = slot(b)
            if counts[s] != 0 || sums[s] != 0 { body(b, sums[s], counts[s]) }
            b += 1
        }
    }

    /// Sum and count over `first...last` without a closure: the query fast path. The count
    /// cannot overflow: fewer than 2^32 buckets (a longer ring would take 48 GB per series, and
    /// the snapshot format stores the bucket count as UInt32) of at most 2^32 - 1 each.
    @inline(__always)
    func total(series: Int, from first: Int64, through last: Int64) -> (sum: Double, count: UInt64) {
        let head = heads[series]
        guard head != Self.noHead else { return (0, 0) }
        let lo = max(first, head - Int64(capacity) + 1)
        let hi = min(last, head)
        guard lo <= hi else { return (0, 0) }
        let (sums, counts) = base(series)
        var sum = 0.0
        var count: UInt64 = 0
        var s = slot(lo)
        var n = hi - lo + 1
        while n > 0 {
            sum += sums[s]
            count += UInt64(counts[s])
            s += 1
            if s == capacity { s = 0 }
            n -= 1
        }
        return (sum, count)
    }

    /// `total` plus the sum of the span's newest bucket (`last`), in one pass: the evaluator
    /// judges late data on the span without it.
    @inline(__always)
    func totalAndNewest(series: Int, from first: Int64, through last: Int64) -> (sum: Double, count: UInt64, newest: Double) {
        let head = heads[series]
        guard head != Self.noHead else { return (0, 0, 0) }
        let lo = max(first, head - Int64(capacity) + 1)
        let hi = min(last, head)
        guard lo <= hi else { return (0, 0, 0) }
        let (sums, counts) = base(series)
        var sum = 0.0
        var count: UInt64 = 0
        // The same order of additions as `total` (so a rule and a query agree to the last bit),
        // in at most two runs without a wrap test per bucket.
        let start = slot(lo)
        let n = Int(hi - lo + 1)
        let firstRun = min(n, capacity - start)
        for s in start..<(start + firstRun) {
            sum += sums[s]
            count += UInt64(counts[s])
        }
        for s in 0..<(n - firstRun) {
            sum += sums[s]
            count += UInt64(counts[s])
        }
        return (sum, count, hi == last ? sums[slot(hi)] : 0)
    }

    /// Restores a series' head (snapshot load); buckets are then added with `set`.
    func restore(series: Int, head: Int64) { heads[series] = head }

    func set(series: Int, bucket: Int64, sum: Double, count: UInt32) {
        let (sums, counts) = base(series)
        let s = slot(bucket)
        sums[s] = sum
        counts[s] = count
        restoredMagnitude = max(restoredMagnitude, sum.magnitude)
    }
}
