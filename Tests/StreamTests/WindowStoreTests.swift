import Testing
@testable import Stream

/// Instants as `t(day:hour:minute:second:)` in June 2026 UTC, so expectations read like the clock.
private func t(month: Int64 = 6, day: Int64 = 1, _ hour: Int64 = 0, _ minute: Int64 = 0, _ second: Int64 = 0, ms: Int64 = 0) -> Int64 {
    (UTCCalendar.days(year: 2026, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + ms
}

private let minute5 = Resolution(stepSeconds: 60, buckets: 5)
private let hour3 = Resolution(stepSeconds: 3600, buckets: 3)

private func store(_ resolutions: [Resolution] = [minute5, hour3], maxSeries: Int = 100, tags: [String] = []) -> WindowStore {
    WindowStore(configuration: StoreConfiguration(tagKeys: tags, resolutions: resolutions, maxSeries: maxSeries))
}

/// `labels` without a currency (account, service, region, tags…) are in USD.
@discardableResult
private func put(_ store: WindowStore, _ labels: [String], _ ts: Int64, _ cost: Double, shard: String = "test", now: Int64? = nil) -> RejectReason? {
    var labels = labels
    if labels.count == store.configuration.inputLabelNames.count - 1 { labels.insert("USD", at: StoreConfiguration.currencyLabelIndex) }
    return store.shard(shard).write(nowMillis: now) { $0.apply(StringLabels(labels), timestampMillis: ts, cost: cost) }
}

private func sum(_ store: WindowStore, _ matchers: String = "", window: Int64, offset: Int64 = 0, at: Int64, step: Int64? = nil,
                 by: [String]? = [], agg: WindowQuery.Aggregation = .sum) throws -> Double {
    let q = WindowQuery(matchers: try SeriesSelector.parse(matchers), by: by, aggregation: agg,
                        span: .last(seconds: window), offsetSeconds: offset, stepSeconds: step)
    return try store.query(q, atMillis: at).groups.first?.value ?? 0
}

@Suite struct BucketBoundaryTests {
    @Test func anEventOnABoundaryBelongsToTheBucketItStarts() throws {
        let s = store()
        put(s, ["a", "EC2", "us-east-1"], t(0, 1, 0), 1)          // 00:01:00.000 → bucket 00:01
        put(s, ["a", "EC2", "us-east-1"], t(0, 0, 59, ms: 999), 2) // 00:00:59.999 → bucket 00:00
        #expect(try sum(s, window: 60, at: t(0, 1, 30), step: 60) == 1)
        #expect(try sum(s, window: 60, offset: 60, at: t(0, 1, 30), step: 60) == 2)
        #expect(try sum(s, window: 120, at: t(0, 1, 30), step: 60) == 3)
    }

    @Test func eventsBeforeTheEpochUseFloorDivision() {
        #expect(minute5.bucket(containing: -1) == -1)
        #expect(minute5.bucket(containing: -60_000) == -1)
        #expect(minute5.bucket(containing: -60_001) == -2)
        #expect(minute5.bucket(containing: 59_999) == 0)
    }
}

@Suite struct RingTests {
    @Test func wrapAroundClearsReusedBucketsExactlyOnce() throws {
        let s = store([minute5])
        let labels = ["a", "EC2", "r"]
        for m in 0..<5 { put(s, labels, t(0, Int64(m)), Double(m + 1)) } // buckets 00:00…00:04 = 1…5
        #expect(try sum(s, window: 300, at: t(0, 4)) == 15)
        put(s, labels, t(0, 6), 10) // reuses the slots of 00:00 and 00:01 (00:05 is empty)
        #expect(try sum(s, window: 300, at: t(0, 6)) == 3 + 4 + 5 + 10)
        #expect(try sum(s, window: 60, offset: 60, at: t(0, 6)) == 0) // 00:05: cleared, not the old 00:00
        // A jump longer than the ring clears everything once.
        put(s, labels, t(1, 0), 7)
        #expect(try sum(s, window: 300, at: t(1, 0)) == 7)
    }

    @Test func everyEvictedBucketIsReportedOnceWithItsFinalValue() {
        let s = store([minute5])
        var evicted: [Int64: Double] = [:]
        s.shard("test").observeEvictions { _, _, start, sum, _ in
            #expect(evicted[start] == nil, "bucket \(start) evicted twice")
            evicted[start] = sum
        }
        for m in 0..<12 { put(s, ["a", "b", "c"], t(0, Int64(m)), Double(m)) }
        // 12 buckets written into a 5-bucket ring: the first 7 were reused.
        #expect(evicted.count == 7)
        for m in 0..<7 { #expect(evicted[t(0, Int64(m))] == Double(m)) }
    }
}

@Suite struct LateAndOldEventTests {
    @Test func lateEventsInsideRetentionLandInTheirBucket() throws {
        let s = store([minute5])
        put(s, ["a", "b", "c"], t(0, 4), 1)
        #expect(put(s, ["a", "b", "c"], t(0, 1, 30), 2) == nil)
        #expect(try sum(s, window: 60, offset: 180, at: t(0, 4)) == 2)
    }

    @Test func eventsOlderThanEveryRingAreCountedAndDropped() throws {
        let s = store([minute5, hour3])
        put(s, ["a", "b", "c"], t(5, 0), 1)
        // 00:00 is outside the 5-minute ring but inside the 3-hour ring: counted there only.
        #expect(put(s, ["a", "b", "c"], t(3, 0), 2) == nil)
        #expect(try sum(s, window: 3 * 3600, at: t(5, 0)) == 3)
        #expect(try sum(s, window: 300, at: t(5, 0)) == 1)
        // Older than both rings: refused as too old, and nothing changes.
        #expect(put(s, ["a", "b", "c"], t(2, 59), 4) == .tooOld)
        #expect(try sum(s, window: 3 * 3600, at: t(5, 0)) == 3)
        #expect(s.shard("test").statistics.rejected[.tooOld] == 1)
        #expect(s.shard("test").statistics.applied == 2)
    }

    @Test func eventsFromTheFutureAreRefusedInLiveMode() {
        let s = store()
        let now = t(10, 0)
        #expect(put(s, ["a", "b", "c"], now + 599_000, 1, now: now) == nil)
        #expect(put(s, ["a", "b", "c"], now + 601_000, 1, now: now) == .futureTimestamp)
        #expect(put(s, ["a", "b", "c"], now + 86_400_000, 1) == nil) // replay: event time is the clock
    }
}

@Suite struct QueryTests {
    private func filled() -> WindowStore {
        let s = store([Resolution(stepSeconds: 60, buckets: 60 * 24 * 8), Resolution(stepSeconds: 3600, buckets: 24 * 40)], tags: ["team"])
        put(s, ["111", "AmazonEC2", "us-east-1", "web"], t(10, 15), 5)
        put(s, ["111", "AmazonEC2", "eu-west-1", "web"], t(10, 20), 7)
        put(s, ["111", "AmazonS3", "us-east-1", "data"], t(10, 25), 1)
        put(s, ["222", "AmazonEC2", "us-east-1", "data"], t(10, 30), 100)
        put(s, ["222", "AmazonEC2", "us-east-1", "data"], t(10, 31), 50)
        // The same hour a week earlier (day 1 + 7 = day 8 is "now").
        return s
    }

    @Test func matchersSelectSeries() throws {
        let s = filled()
        let at = t(10, 45)
        #expect(try sum(s, #"{service="AmazonEC2"}"#, window: 3600, at: at) == 162)
        #expect(try sum(s, #"{service!="AmazonEC2"}"#, window: 3600, at: at) == 1)
        #expect(try sum(s, #"{region=~"us-.*"}"#, window: 3600, at: at) == 156)
        #expect(try sum(s, #"{region!~"us-.*", account="111"}"#, window: 3600, at: at) == 7)
        #expect(try sum(s, #"region=~"east""#, window: 3600, at: at) == 0) // regexes match whole values
        #expect(try sum(s, #"{team="data"}"#, window: 3600, at: at) == 151)
        #expect(try sum(s, #"{nolabel=""}"#, window: 3600, at: at) == 163) // missing label reads as ""
    }

    @Test func byGroupsAndAggregations() throws {
        let s = filled()
        let at = t(10, 45)
        let q = WindowQuery(matchers: [], by: ["account"], span: .last(seconds: 3600))
        let groups = try s.query(q, atMillis: at).groups
        #expect(groups.map(\.labels) == [["account": "111", "currency": "USD"], ["account": "222", "currency": "USD"]])
        #expect(groups.map(\.value) == [13, 150])
        #expect(groups.map(\.count) == [3, 2])
        #expect(try sum(s, #"{account="222"}"#, window: 3600, at: at, agg: .max) == 100)
        #expect(try sum(s, #"{account="222"}"#, window: 3600, at: at, agg: .min) == 0)
        #expect(try sum(s, #"{account="222"}"#, window: 3600, at: at, agg: .avg) == 150.0 / 60)
        #expect(try sum(s, #"{account="222"}"#, window: 3600, at: at, agg: .count) == 2)
        // Per series (by: nil): one group per label set, all labels present, `source` from the shard.
        let perSeries = try s.query(WindowQuery(span: .last(seconds: 3600)), atMillis: at).groups
        #expect(perSeries.count == 4)
        #expect(perSeries.allSatisfy { $0.labels.count == 6 && $0.labels["source"] == "test" })
    }

    @Test func offsetsCompareWithThePast() throws {
        let s = filled()
        put(s, ["111", "AmazonEC2", "us-east-1", "web"], t(day: 3, 10, 15), 2) // a week before day 10
        let now = t(day: 10, 10, 45)
        put(s, ["111", "AmazonEC2", "us-east-1", "web"], now - 60_000, 3)
        #expect(try sum(s, #"{account="111",region="us-east-1",service="AmazonEC2"}"#, window: 3600, at: now) == 3)
        #expect(try sum(s, #"{account="111",region="us-east-1",service="AmazonEC2"}"#, window: 3600, offset: 7 * 86_400, at: now) == 2)
        // The 1-minute ring holds 8 days: a 1h window 7d back is read there; 9d back needs the hourly ring.
        let q = WindowQuery(span: .last(seconds: 3600), offsetSeconds: 9 * 86_400)
        #expect(try s.query(q, atMillis: now).resolution.stepSeconds == 3600)
    }

    @Test func spansNoResolutionCoversAreErrors() {
        let s = store([minute5])
        #expect(throws: QueryError.self) { try sum(s, window: 90, at: t(1, 0)) }
        #expect(throws: QueryError.self) { try sum(s, window: 600, at: t(1, 0)) }
        #expect(throws: QueryError.self) { try sum(s, window: 60, at: t(1, 0), step: 3600) }
        #expect(throws: QueryError.self) { try sum(s, window: 60, at: t(1, 0), by: ["nosuchlabel"]) }
    }

    @Test func monthToDateStartsAtTheFirstAcrossAMonthBoundary() throws {
        let s = store([Resolution(stepSeconds: 60, buckets: 120), Resolution(stepSeconds: 3600, buckets: 24 * 35)])
        let labels = ["a", "b", "c"]
        put(s, labels, t(month: 7, day: 31, 23, 59, 59), 40)
        put(s, labels, t(month: 7, day: 15, 12), 2)
        put(s, labels, t(month: 8, day: 1, 0, 0, 0), 1)
        put(s, labels, t(month: 8, day: 1, 0, 30), 3)
        let mtd = WindowQuery(by: [], span: .monthToDate)
        let aug = try s.query(mtd, atMillis: t(month: 8, day: 1, 0, 45))
        #expect(aug.groups.first?.value == 4)
        #expect(aug.startMillis == t(month: 8, day: 1))
        let july = try s.query(mtd, atMillis: t(month: 7, day: 31, 23, 59, 59, ms: 999))
        #expect(july.groups.first?.value == 42)
        #expect(july.resolution.stepSeconds == 3600) // the 2h minute ring does not reach back to July 1
        // Last month's MTD through an offset ending in July.
        let offsetJuly = WindowQuery(by: [], span: .monthToDate, offsetSeconds: 3600)
        #expect(try s.query(offsetJuly, atMillis: t(month: 8, day: 1, 0, 45)).groups.first?.value == 42)
    }
}

@Suite struct CardinalityTests {
    @Test func newSeriesBeyondTheLimitAreRefusedAndExistingOnesKeepWorking() throws {
        let s = store(maxSeries: 3)
        for i in 0..<3 { #expect(put(s, ["\(i)", "s", "r"], t(0, 1), 1) == nil) }
        #expect(put(s, ["4", "s", "r"], t(0, 1), 1) == .seriesLimit)
        #expect(put(s, ["5", "s", "r"], t(0, 1), 1, shard: "other") == .seriesLimit) // the limit is store-wide
        #expect(put(s, ["0", "s", "r"], t(0, 2), 1) == nil)
        #expect(s.seriesCount == 3)
        #expect(try sum(s, window: 300, at: t(0, 2)) == 4)
        s.removeShard("test")
        #expect(s.seriesCount == 0)
        #expect(put(s, ["5", "s", "r"], t(0, 1), 1, shard: "other") == nil)
    }
}

@Suite struct SnapshotCodecTests {
    @Test func aDecodedShardAnswersExactlyLikeTheOriginal() throws {
        let s = store([minute5, hour3], tags: ["team"])
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let acct = "\(Int.random(in: 0..<20, using: &rng))"
            put(s, [acct, ["EC2", "S3"].randomElement()!, "r", ["x", ""].randomElement()!], t(0, 0) + Int64.random(in: 0..<4 * 3_600_000), Double.random(in: 0..<5))
        }
        s.shard("test").write { $0.advance(nextOffset: 1234) }
        let (blob, offset) = ShardCodec.encode(s.shard("test"))
        #expect(offset == 1234)
        let restored = store([minute5, hour3], tags: ["team"])
        try restored.installShard(from: blob, key: "test")
        #expect(restored.seriesCount == s.seriesCount)
        #expect(restored.shard("test").statistics.nextOffset == 1234)
        let at = t(4, 0)
        let windows: [Int64] = [60, 300, 3600, 3 * 3600]
        for window in windows {
            let q = WindowQuery(by: ["account", "service", "team"], span: .last(seconds: window))
            let a: [WindowAnswer.Group] = try s.query(q, atMillis: at).groups
            let b: [WindowAnswer.Group] = try restored.query(q, atMillis: at).groups
            #expect(a.map(\.labels) == b.map(\.labels))
            #expect(a.map(\.sum) == b.map(\.sum))
            #expect(a.map(\.count) == b.map(\.count))
        }
        // Writes after a restore continue the same rings.
        put(s, ["1", "EC2", "r", "x"], at, 1)
        put(restored, ["1", "EC2", "r", "x"], at, 1)
        #expect(try sum(s, window: 300, at: at) == sum(restored, window: 300, at: at))
    }

    @Test func aSnapshotFromAnotherLayoutOrACorruptOneIsRefused() throws {
        let s = store([minute5])
        put(s, ["a", "b", "c"], t(0, 1), 1)
        let (blob, _) = ShardCodec.encode(s.shard("test"))
        #expect(throws: ShardCodec.DecodeError.self) { try store([hour3]).installShard(from: blob, key: "x") }
        #expect(throws: ShardCodec.DecodeError.self) { try store([minute5], tags: ["team"]).installShard(from: blob, key: "x") }
        #expect(throws: ShardCodec.DecodeError.self) { try store([minute5]).installShard(from: Array(blob.dropLast()), key: "x") }
        #expect(throws: ShardCodec.DecodeError.self) { try store([minute5]).installShard(from: [1, 2, 3], key: "x") }
    }
}

@Suite struct SelectorTests {
    @Test func parsesPromQLStyleSelectors() throws {
        let m = try SeriesSelector.parse(#"{account="1\"2", service!~"Amazon(S3|EC2)" , region=~"us-\d"}"#)
        #expect(m.map(\.description) == [#"account="1"2""#, #"service!~"Amazon(S3|EC2)""#, #"region=~"us-\d""#])
        #expect(try SeriesSelector.parse("").isEmpty)
        #expect(try SeriesSelector.parse("{}").isEmpty)
        for bad in [#"{account}"#, #"{account="x""#, #"{account=="x"}"#, #"{a="x" b="y"}"#, #"{a=~"("}"#, #"{a="x"} junk"#] {
            #expect(throws: SeriesSelector.SyntaxError.self, "\(bad)") { try SeriesSelector.parse(bad) }
        }
    }

    @Test func durations() throws {
        #expect(try DurationText.seconds("90s") == 90)
        #expect(try DurationText.seconds("1h30m") == 5400)
        #expect(try DurationText.seconds("7d") == 604_800)
        for bad in ["", "5", "h", "1x", "-1h", "1h5"] { #expect(throws: DurationText.Invalid.self) { try DurationText.seconds(bad) } }
        #expect(DurationText.format(seconds: 172_800) == "2d")
    }
}
