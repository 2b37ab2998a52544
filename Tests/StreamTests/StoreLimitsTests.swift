import Testing
@testable import Stream

/// Issue 12, defects 2, 4 and 12 (store side): what the store refuses so that it never holds a
/// wrong number — too-old first events, infinite sums, wrapped counts, a drifting budget.
private let june1 = Int64(1_780_272_000_000)
private let minute = Int64(60_000)
private let hour = Int64(3_600_000)
private let minute5 = Resolution(stepSeconds: 60, buckets: 5)
private let hour3 = Resolution(stepSeconds: 3600, buckets: 3)

private func store(_ resolutions: [Resolution] = [minute5, hour3], maxSeries: Int = 100) -> WindowStore {
    WindowStore(configuration: StoreConfiguration(resolutions: resolutions, maxSeries: maxSeries))
}

@discardableResult
private func put(_ store: WindowStore, _ account: String, _ ts: Int64, _ cost: Double, shard: String = "test",
                 now: Int64? = nil) -> RejectReason? {
    store.shard(shard).write(nowMillis: now) {
        $0.apply(StringLabels([account, "EC2", "r", "USD"]), timestampMillis: ts, cost: cost)
    }
}

/// Every non-empty bucket of one resolution: [account: [(bucket start, sum, count)]].
private func buckets(_ store: WindowStore, step: Int64, shard: String = "test") -> [String: [Int64: Double]] {
    var out: [String: [Int64: Double]] = [:]
    store.shard(shard).forEachBucket(stepSeconds: step) { labels, start, sum, _ in out[labels[0], default: [:]][start] = sum }
    return out
}

@Suite struct TooOldFirstEventTests {
    @Test func aFirstEventFrom1970IsTooOldAndCreatesNoSeries() {
        let s = store(maxSeries: 2)
        #expect(put(s, "a", june1, 1, now: june1) == nil)
        #expect(put(s, "new", 0, 5, now: june1) == .tooOld, "1970 for a new account, live")
        #expect(s.seriesCount == 1)
        #expect(s.shard("test").statistics.series == 1)
        #expect(s.shard("test").statistics.rejected[.tooOld] == 1)
        // The budget (2) was not used up: a real new series still fits.
        #expect(put(s, "real", june1, 5, now: june1) == nil)
        #expect(s.seriesCount == 2)
    }

    @Test func inReplayTheShardsNewestEventIsTheClock() {
        let s = store()
        #expect(put(s, "a", june1, 1) == nil, "the first event of an empty shard sets the clock")
        #expect(put(s, "b", 0, 1) == .tooOld, "1970 behind a June watermark")
        // The 3h ring at a June 1 00:00 head keeps the hours 22:00, 23:00 and 00:00.
        #expect(put(s, "c", june1 - 2 * hour, 1) == nil, "the oldest hour the 3h ring keeps")
        #expect(put(s, "d", june1 - 2 * hour - 1, 1) == .tooOld, "one millisecond before it")
        #expect(s.seriesCount == 2)
    }

    @Test func aNewSeriesOnlyEntersTheRingsThatKeepItsBucket() {
        let s = store()
        put(s, "a", june1, 1)
        // 2h back: outside the 5-minute ring, inside the 3-hour ring.
        #expect(put(s, "b", june1 - 2 * hour, 7) == nil)
        #expect(buckets(s, step: 60)["b"] == nil, "the minute ring would hold a bucket older than it keeps")
        #expect(buckets(s, step: 3600)["b"] == [june1 - 2 * hour: 7])
        // The series exists now, but its minute ring has no head yet: still judged by the clock.
        #expect(put(s, "b", june1 - 2 * hour + minute, 1) == nil)
        #expect(buckets(s, step: 60)["b"] == nil)
        #expect(put(s, "b", june1 - 2 * minute, 2) == nil, "inside the minute ring now")
        #expect(buckets(s, step: 60)["b"] == [june1 - 2 * minute: 2])
    }

    @Test func liveOrNotEventTimeIsTheClockSoHistoryLaysOutAsInReplay() {
        // A live daemon fed a 4-hour-old backlog keeps all of it in the 3h ring's terms: the
        // first event of an empty shard sets the clock, not the wall clock (see ShardWriter).
        let live = store(), replay = store()
        for (i, m) in [0, 30, 60, 200, 230].enumerated() {
            let ts = june1 - 4 * hour + Int64(m) * minute
            #expect(put(live, "a\(i % 2)", ts, 1, now: june1) == put(replay, "a\(i % 2)", ts, 1))
        }
        #expect(buckets(live, step: 3600) == buckets(replay, step: 3600))
        #expect(buckets(live, step: 60) == buckets(replay, step: 60))
    }
}

@Suite struct CostOverflowTests {
    private func sums(_ s: WindowStore) -> ([String: [Int64: Double]], [String: [Int64: Double]]) {
        (buckets(s, step: 60), buckets(s, step: 3600))
    }

    @Test func anEventThatWouldMakeABucketInfiniteIsRefusedAndChangesNothing() throws {
        let s = store()
        #expect(put(s, "a", june1, 1e308) == nil)
        #expect(put(s, "a", june1, 1e308) == .costOverflow)
        #expect(put(s, "a", june1, -1e308) == nil, "a credit back is fine")
        #expect(put(s, "a", june1, -1e308) == nil)
        #expect(put(s, "a", june1, -1e308) == .costOverflow, "-inf is refused too")
        #expect(s.shard("test").statistics.rejected[.costOverflow] == 2)
        let q = WindowQuery(by: [], span: .last(seconds: 60))
        #expect(try s.query(q, atMillis: june1).groups.map(\.sum) == [-1e308])
        #expect(try s.query(q, atMillis: june1).groups.map(\.count) == [3])
    }

    @Test func everyRingIsCheckedBeforeAnyIsTouched() {
        let s = store()
        put(s, "a", june1, 1e308)
        let before = sums(s)
        // Another minute, the same hour: the minute ring would take it, the hour ring would overflow.
        #expect(put(s, "a", june1 + 30 * minute, 1e308) == .costOverflow)
        #expect(sums(s).0 == before.0, "the minute ring is unchanged (and its head did not advance)")
        #expect(sums(s).1 == before.1)
        // The head did not move: an event 4 minutes after the first still lands in the minute ring.
        #expect(put(s, "a", june1 + 4 * minute, 1) == nil)
        #expect(buckets(s, step: 60)["a"] == [june1: 1e308, june1 + 4 * minute: 1])
    }

    @Test func aRestoredHugeBucketIsCheckedToo() throws {
        // The writer skips reading buckets while every |sum| is provably small; a restored
        // bucket near the limit must end that.
        let s = store()
        put(s, "a", june1, 1.7e308)
        let restored = store()
        try restored.installShard(from: ShardCodec.encode(s.shard("test")).state, key: "test")
        // 1e307 alone is far below the bound; only the restored 1.7e308 makes it overflow.
        #expect(put(restored, "a", june1, 1e307) == .costOverflow)
        #expect(buckets(restored, step: 60)["a"] == [june1: 1.7e308])
    }

    @Test func theOverflowBoundTracksAppliedCosts() {
        let s = store()
        for m in 0..<1000 { #expect(put(s, "a", june1 + Int64(m % 5) * minute, 1e6) == nil) }
        s.shard("test").withState { state in
            #expect(state.appliedMagnitude == 1e9)
            #expect(state.restoredMagnitude == 0)
        }
    }
}

@Suite struct SaturatingCountTests {
    @Test func bucketCountsSaturateInsteadOfWrapping() {
        let ring = BucketRing(resolution: minute5)
        ring.addSeries()
        #expect(ring.add(series: 0, bucket: 10, amount: 1, count: UInt32.max - 1))
        #expect(ring.add(series: 0, bucket: 10, amount: 1, count: 5))
        #expect(ring.total(series: 0, from: 10, through: 10).count == UInt64(UInt32.max), "not 3 (wrapped)")
        // A whole ring of saturated buckets still sums exactly in UInt64.
        for b in 11...14 { #expect(ring.add(series: 0, bucket: Int64(b), amount: 1, count: UInt32.max)) }
        #expect(ring.total(series: 0, from: 10, through: 14).count == 5 * UInt64(UInt32.max))
    }

    @Test func queryCountsOfSaturatedBucketsAddUp() throws {
        let s = store([minute5])
        for a in 0..<3 {
            s.shard("test").write { w in
                _ = w.apply(StringLabels(["\(a)", "EC2", "r", "USD"]), timestampMillis: june1, cost: 1)
            }
        }
        s.shard("test").withState { state in
            for series in 0..<3 { _ = state.rings[0].add(series: series, bucket: june1 / minute, amount: 0, count: UInt32.max) }
        }
        let q = WindowQuery(by: [], span: .last(seconds: 60))
        #expect(try s.query(q, atMillis: june1).groups.map(\.count) == [3 * UInt64(UInt32.max)])
    }
}

@Suite struct SeriesBudgetTests {
    @Test func aRestoreAboveALoweredLimitIsCountedExactlyAndReleasedToZero() throws {
        let big = store(maxSeries: 10)
        for a in 0..<5 { #expect(put(big, "\(a)", june1, 1) == nil) }
        let snapshot = ShardCodec.encode(big.shard("test")).state

        // Restart with max_series lowered to 3: all 5 restored series are kept and counted.
        let s = store(maxSeries: 3)
        #expect(try s.installShard(from: snapshot, key: "test").seriesOverLimit == 2, "the overshoot is reported")
        #expect(s.seriesCount == 5)
        #expect(put(s, "new", june1, 1, shard: "other") == .seriesLimit, "over the limit: new series refused")
        #expect(put(s, "0", june1, 1) == nil, "existing series keep working")

        // The partition moves away: the count is back to exactly 0, never negative.
        s.removeShard("test")
        #expect(s.seriesCount == 0)
        for a in 0..<3 { #expect(put(s, "n\(a)", june1, 1, shard: "other") == nil) }
        #expect(put(s, "n3", june1, 1, shard: "other") == .seriesLimit, "the limit holds again at 3")
        #expect(s.seriesCount == 3)
    }

    @Test func reinstallingAShardReplacesItsCount() throws {
        let source = store()
        for a in 0..<4 { put(source, "\(a)", june1, 1) }
        let snapshot = ShardCodec.encode(source.shard("test")).state
        let s = store(maxSeries: 100)
        #expect(try s.installShard(from: snapshot, key: "test").seriesOverLimit == 0)
        #expect(try s.installShard(from: snapshot, key: "test").seriesOverLimit == 0)
        #expect(s.seriesCount == 4)
        s.removeShard("test")
        #expect(s.seriesCount == 0)
    }
}
