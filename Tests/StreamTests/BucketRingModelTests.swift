@testable import Stream
import Testing

/// `BucketRing.add` against a plain model (a dictionary of the buckets a ring keeps), over
/// random walks that advance by less than, exactly, and more than the ring, wrap its slots and
/// go back in time: the clearing of reused slots (done per range, not per slot) must leave
/// exactly the model's buckets, and the eviction callback must see exactly the model's evictions.
@Suite("BucketRing against a model")
struct BucketRingModelTests {
    struct Model {
        let capacity: Int64
        var head: Int64?
        var buckets: [Int64: (sum: Double, count: UInt32)] = [:]
        var evicted: [[Double]] = []

        mutating func add(bucket: Int64, amount: Double) -> Bool {
            if let h = head {
                if bucket <= h - capacity { return false }
                if bucket > h {
                    for b in buckets.keys.sorted() where b <= bucket - capacity {
                        let v = buckets.removeValue(forKey: b)!
                        evicted.append([Double(b), v.sum, Double(v.count)])
                    }
                    head = bucket
                }
            } else {
                head = bucket
            }
            let v = buckets[bucket] ?? (0, 0)
            buckets[bucket] = (v.sum + amount, v.count + 1)
            return true
        }
    }

    @Test("random walks, with and without the eviction callback", arguments: [1, 2, 5, 7, 64])
    func randomWalks(capacity: Int) {
        for seed in UInt64(1)...40 {
            var random = SplitMix64(seed: seed &* 7919 &+ UInt64(capacity))
            let observed = seed % 2 == 0
            let ring = BucketRing(resolution: Resolution(stepSeconds: 60, buckets: capacity))
            ring.addSeries()
            ring.addSeries()  // a neighbour whose slots must stay untouched
            var model = Model(capacity: Int64(capacity))
            var evicted: [[Double]] = []
            var bucket = Int64.random(in: -1000...1000, using: &random)
            for step in 0..<300 {
                // Mostly forward by 0…capacity+2, sometimes far ahead, sometimes back.
                switch Int.random(in: 0..<10, using: &random) {
                case 0: bucket -= Int64.random(in: 0...Int64(capacity) + 2, using: &random)
                case 1: bucket += Int64.random(in: 0...Int64(capacity) * 5, using: &random)
                default: bucket += Int64.random(in: 0...Int64(capacity) + 2, using: &random)
                }
                let amount = Double(step % 13) + 0.25
                let expected = model.add(bucket: bucket, amount: amount)
                let took = observed
                    ? ring.add(series: 0, bucket: bucket, amount: amount) { evicted.append([Double($0), $1, Double($2)]) }
                    : ring.add(series: 0, bucket: bucket, amount: amount)
                #expect(took == expected, "seed \(seed), step \(step): bucket \(bucket)")
                if step % 50 == 0 { _ = ring.add(series: 1, bucket: 0, amount: 1) }
            }
            var held: [Int64: (Double, UInt32)] = [:]
            ring.forEachBucket(series: 0, from: .min / 2, through: .max / 2) { held[$0] = ($1, $2) }
            #expect(held.count == model.buckets.count, "seed \(seed)")
            for (b, v) in model.buckets {
                #expect(held[b]?.0 == v.sum && held[b]?.1 == v.count, "seed \(seed): bucket \(b)")
            }
            if observed { #expect(evicted == model.evicted, "seed \(seed)") }
            var neighbour: [Int64: Double] = [:]
            ring.forEachBucket(series: 1, from: .min / 2, through: .max / 2) { b, sum, _ in neighbour[b] = sum }
            #expect(neighbour == [0: 6], "seed \(seed)")
        }
    }
}
