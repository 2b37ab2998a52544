import Foundation
import Logging
import Testing
@testable import Stream

/// The per-series top contributors (`ContributorSketches`, read with
/// `ScannedSeries.contributors(hourStartMillis:)`): fed through the real parser and shard writer.
@Suite("Contributors")
struct ContributorSketchTests {
    /// 2026-06-01T00:00:00Z
    static let june1: Int64 = 1_780_272_000_000
    static let hour: Int64 = 3_600_000

    static func line(_ resource: String?, _ cost: Double, at millis: Int64, service: String = "EC2") -> String {
        let id = resource.map { ",\"resourceId\":\"\($0)\"" } ?? ""
        return "{\"accountId\":\"111\",\"service\":\"\(service)\",\"region\":\"us-east-1\"\(id),\"cost\":\(cost),"
            + "\"currency\":\"USD\",\"timestamp\":\(millis),\"metadata\":{\"usageType\":\"u\"}}"
    }

    /// A store with the default resolutions and one shard.
    final class Fixture {
        let store = WindowStore(configuration: StoreConfiguration())
        let parser = EventParser(options: EventParserOptions())
        var shard: Shard { store.shard("t") }

        @discardableResult
        func send(_ resource: String?, _ cost: Double, at millis: Int64, service: String = "EC2",
                  applying applied: Double? = nil) -> RejectReason? {
            let text = ContributorSketchTests.line(resource, cost, at: millis, service: service)
            return Array(text.utf8).withUnsafeBytes { bytes in
                if let bad = parser.parse(bytes) { Issue.record("\(bad)"); return nil }
                return shard.write { $0.apply(parser, timestampMillis: parser.timestampMillis, cost: applied ?? parser.cost) }
            }
        }

        /// Contributors and sketched cost of the one series with `service`.
        func contributors(_ hourStart: Int64, service: String = "EC2") -> (top: [Contributor], total: Double?) {
            var out: ([Contributor], Double?) = ([], nil)
            store.scan { s in
                if s.labels[1] == service { out = (s.contributors(hourStartMillis: hourStart), s.contributedCost(hourStartMillis: hourStart)) }
            }
            return out
        }

        func windowTotal(_ hourStart: Int64) -> Double {
            var total = 0.0
            shard.forEachBucket(stepSeconds: 3600) { _, start, sum, _ in if start == hourStart { total += sum } }
            return total
        }
    }

    @Test func atMostKIdsAreExactLargestFirstAndEventsWithoutAnIdAreNone() {
        let f = Fixture()
        let h = Self.june1 + 5 * Self.hour
        var truth: [String: Double] = [:]
        // 7 ids plus events without one = 8 names: exact. Costs in cents so sums are exact.
        for i in 0..<400 {
            let id: String? = i % 8 == 7 ? nil : "i-\(i % 8)"
            let cost = Double((i % 8 + 1) * (i % 3 + 1)) / 100
            truth[id ?? ContributorNames.noResource, default: 0] += cost
            f.send(id, cost, at: h + Int64(i) * 9_000)
        }
        let (top, total) = f.contributors(h + 59 * 60_000)  // any millisecond of the hour selects it
        #expect(top.count == 8)
        for c in top {
            #expect(c.overestimate == 0)
            #expect(abs(c.cost - truth[c.name]!) < 1e-9, "\(c.name)")
        }
        #expect(top.map(\.name) == truth.sorted { $0.value > $1.value }.map(\.key))
        #expect(Set(top.map(\.name)).contains("(none)"))
        #expect(abs(total! - truth.values.reduce(0, +)) < 1e-9)
        #expect(abs(total! - f.windowTotal(h)) < 1e-9)
    }

    @Test func manyIdsKeepSpaceSavingGuarantees() {
        let f = Fixture()
        let h = Self.june1 + 7 * Self.hour
        var truth: [String: Double] = [:]
        var rng: UInt64 = 42
        func next() -> UInt64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return rng >> 33
        }
        // 3 heavy ids (together ~60% of the cost) among 2,000 light ones, interleaved at random.
        for i in 0..<20_000 {
            let r = next()
            let (id, cost): (String, Double) = r % 10 < 6 ? ("heavy-\(r % 3)", 1 + Double(r % 5)) : ("light-\(next() % 2000)", Double(1 + r % 4))
            truth[id, default: 0] += cost
            f.send(id, cost, at: h + Int64(i) * 150)
        }
        let total = truth.values.reduce(0, +)
        let (top, sketched) = f.contributors(h)
        #expect(top.count == ContributorSketches.k)
        #expect(abs(sketched! - total) < 1e-6 * total)
        // Space-Saving: entry costs sum to the total; each is an upper bound, at most its
        // overestimate too high; every id above total / k is tracked; the heavy ones lead.
        #expect(abs(top.reduce(0) { $0 + $1.cost } - total) < 1e-6 * total)
        for c in top {
            let exact = truth[c.name] ?? 0
            #expect(c.cost >= exact - 1e-9 && c.cost - c.overestimate <= exact + 1e-9, "\(c.name): \(c.cost) vs \(exact)")
            #expect(c.overestimate <= total / Double(ContributorSketches.k))
        }
        for (id, cost) in truth where cost > total / Double(ContributorSketches.k) {
            #expect(top.contains(where: { $0.name == id }), "\(id) (\(cost) of \(total)) is not tracked")
        }
        #expect(Set(top.prefix(3).map(\.name)) == ["heavy-0", "heavy-1", "heavy-2"])
    }

    @Test func hoursRollOverByEventTimeAndOlderHoursLeaveTheSketchesAlone() {
        let f = Fixture()
        let h0 = Self.june1 + 10 * Self.hour
        f.send("a", 1, at: h0 + 1000)
        f.send("b", 2, at: h0 + Self.hour + 1000)        // a new hour: h0 stays as the previous one
        f.send("c", 4, at: h0 + 2000)                    // late for h0, still sketched
        #expect(f.contributors(h0).top.map(\.name) == ["c", "a"])
        #expect(f.contributors(h0 + Self.hour).top.map(\.name) == ["b"])
        f.send("d", 8, at: h0 + 2 * Self.hour + 1000)    // h0 + 2 drops h0
        #expect(f.contributors(h0).top.isEmpty)
        #expect(f.contributors(h0).total == nil)
        #expect(f.contributors(h0 + Self.hour).top.map(\.name) == ["b"])
        #expect(f.contributors(h0 + 2 * Self.hour).top.map(\.name) == ["d"])
        // An event for h0 now: counted in the windows as before, ignored by the sketches.
        #expect(f.send("e", 16, at: h0 + 3000) == nil)
        #expect(f.windowTotal(h0) == 1 + 4 + 16)
        #expect(f.contributors(h0).top.isEmpty)
        #expect(f.contributors(h0 + Self.hour).top.map(\.name) == ["b"])
        // A jump of several hours leaves nothing of the old ones to read as current.
        f.send("g", 1, at: h0 + 9 * Self.hour)
        #expect(f.contributors(h0 + 8 * Self.hour).top.isEmpty)
        #expect(f.contributors(h0 + 9 * Self.hour).top.map(\.name) == ["g"])
        // h0 + 4 shares its slot with the stale h0 + 2, but is five hours behind the newest.
        f.send("f", 1, at: h0 + 4 * Self.hour)
        #expect(f.contributors(h0 + 4 * Self.hour).top.isEmpty)
        f.send("h", 1, at: h0 + 8 * Self.hour)           // the hour before the newest: sketched
        #expect(f.contributors(h0 + 8 * Self.hour).top.map(\.name) == ["h"])
        f.send("i", 1, at: h0 + 7 * Self.hour)           // two before: not
        #expect(f.contributors(h0 + 7 * Self.hour).top.isEmpty)
        // Before 1970 the hour is floored like the buckets.
        #expect(ContributorSketches.hour(containing: -1) == -1)
        #expect(ContributorSketches.hour(containing: -Self.hour) == -1)
        #expect(ContributorSketches.hour(containing: -Self.hour - 1) == -2)
        #expect(ContributorSketches.hour(containing: .min) < 0)
    }

    @Test func seriesAreSketchedApartAndCreditsAndIdlessSourcesDoNotCount() {
        let f = Fixture()
        let h = Self.june1 + 3 * Self.hour
        f.send("x", 5, at: h, service: "EC2")
        f.send("y", 7, at: h, service: "S3")
        f.send("x", 0, at: h + 1, service: "EC2")       // zero: nothing to rank
        #expect(f.contributors(h, service: "EC2").top == [Contributor(name: "x", cost: 5, overestimate: 0)])
        #expect(f.contributors(h, service: "S3").top == [Contributor(name: "y", cost: 7, overestimate: 0)])
        // A source without resource ids (the HTTP journal, tests): windows yes, sketches no.
        _ = f.shard.write { $0.apply(StringLabels(["111", "EC2", "us-east-1", "USD"]), timestampMillis: h + 5, cost: 3) }
        #expect(f.windowTotal(h) == 5 + 7 + 3)
        #expect(f.contributors(h, service: "EC2").total == 5)
        // A credit (negative, with the marker) lowers the window, not a contributor.
        f.send("x", 1, at: h + 6, applying: -2)
        #expect(f.contributors(h, service: "EC2").top.map(\.cost) == [5])
    }

    @Test func replayCarriesResourceIdsAcrossThreads() throws {
        let h = Self.june1 + 2 * Self.hour
        var lines: [String] = []
        for i in 0..<3000 { lines.append(Self.line("r-\(i % 5)-" + String(repeating: "x", count: i % 40), Double(i % 5 + 1), at: h + Int64(i) * 1000)) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("contributors-\(UUID()).jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        func run(parsesAhead: Bool) throws -> [Contributor] {
            let store = WindowStore(configuration: StoreConfiguration())
            let ingestor = EventIngestor(source: .replay, quarantine: nil, logger: Logger(label: "test"), badEventLogsPerMinute: 0)
            var pipeline = ReplayPipeline(reader: NDJSONReader(path: path), parser: EventParser(options: EventParserOptions()))
            pipeline.parsesAhead = parsesAhead
            pipeline.batchSize = 100  // many batches, so arenas are reused
            try store.shard("replay").write { w in try pipeline.run(ingestor: ingestor, writer: w) { #expect($0 == nil) } }
            var top: [Contributor] = []
            store.scan { top = $0.contributors(hourStartMillis: h) }
            return top
        }
        let inline = try run(parsesAhead: false)
        #expect(inline.count == 8)  // 40 distinct ids: the sketch is full
        #expect(try run(parsesAhead: true) == inline)
    }

    @Test func memoryPerSeriesIsBounded() {
        #expect(ContributorSketches.bytesPerSeries == 416)
        let f = Fixture()
        let h = Self.june1 + 20 * Self.hour
        for s in 0..<300 { f.send("i-1", 1, at: h, service: "svc\(s)") }
        let sketches = f.shard.withState { $0.contributors }
        // Two chunks of 256 series, each series 2 hours × (16 B + 8 × 24 B).
        #expect(sketches.seriesCapacity == 512)
        #expect(f.shard.withState { $0.contributors.allocatedBytes } - sketches.names.allocatedBytes == 512 * 416)
        // The name table: one id per series, bounded by max(4096, 8 per series).
        #expect(sketches.names.count == 1)
        #expect(ContributorNames.capacity(series: 512) == 4096)
        #expect(ContributorNames.capacity(series: 100_000) == 800_000)
    }

    @Test func aFullNameTableShowsHashesThenSweepsDeadNamesHourly() {
        let f = Fixture()
        let h = Self.june1 + 30 * Self.hour
        // 10,000 distinct ids in one series' hour: every one enters the sketch (each replaces the
        // smallest entry). The table fills to its bound (4,096), sweeps (keeping the ≤ 16 names
        // sketches hold), fills again and, swept once this hour, names the rest by their hashes.
        for i in 0..<10_000 { f.send("id-\(i)", 1 + Double(i) / 1000, at: h + Int64(i)) }
        let names = f.shard.withState { $0.contributors.names }
        #expect(names.count == ContributorNames.capacity(series: 256))
        let late = f.contributors(h).top
        #expect(late.contains(where: { $0.name.hasPrefix(ContributorNames.hashedNamePrefix) && $0.name.count == 14 + 16 }))
        // No second sweep within the hour.
        f.send("id-late", 100, at: h + 10_000)
        #expect(f.contributors(h).top.first!.name.hasPrefix(ContributorNames.hashedNamePrefix))
        // The next hour sweeps: only names some sketch holds stay, and new ids are named again.
        f.send("next", 50, at: h + Self.hour)
        #expect(names.count <= 2 * ContributorSketches.k + 1)
        #expect(f.contributors(h + Self.hour).top.map(\.name) == ["next"])
        // Long ids are named by their first 128 bytes; the hash covers them all.
        let long = String(repeating: "z", count: 300)
        f.send(long + "1", 1, at: h + Self.hour + 1)
        f.send(long + "2", 2, at: h + Self.hour + 2)
        let named = f.contributors(h + Self.hour).top.map(\.name)
        #expect(named.filter { $0 == String(repeating: "z", count: 128) + "…" }.count == 2)
    }

    /// The name table's own probing: ids that share their low bits (one probe chain), the id 0
    /// that marks free slots, growth past the first 64 slots, and a sweep that keeps live names.
    @Test func theNameTableFindsEveryIdItKept() {
        let sketches = ContributorSketches()
        let names = sketches.names
        let ids: [UInt64] = [0] + (1...300).map { UInt64($0) << 40 } + (1...300).map { UInt64($0) }
        for id in ids {
            Array("r\(id)".utf8).withUnsafeBytes { names.intern(id, $0, hour: 0, sketches: sketches) }
        }
        #expect(names.count == ids.count)
        for id in ids { #expect(names.name(id) == "r\(id)") }
        #expect(names.name(12_345).hasPrefix(ContributorNames.hashedNamePrefix), "an id it never saw")
        // Interning a known id again changes nothing.
        Array("other".utf8).withUnsafeBytes { names.intern(1 << 40, $0, hour: 0, sketches: sketches) }
        #expect(names.count == ids.count && names.name(1 << 40) == "r\(UInt64(1) << 40)")
    }
}
