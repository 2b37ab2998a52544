import Foundation
import Logging
import Testing
@testable import Stream

/// The Cost Explorer pieces that need no network: the periods a poll asks for, the answer's
/// checks, replace-not-add in the store with its state saved and restored in one cut, the
/// `source` label, and the daily request budget over a simulated day.
@Suite struct CostExplorerTests {
    static let day: Int64 = 86_400_000
    /// 2026-11-30T10:20:00Z
    static let now: Int64 = UTCCalendar.days(year: 2026, month: 11, day: 30) * day + 10 * 3_600_000 + 20 * 60_000
    static let midnight = now - now % day

    func database(_ path: String = FileManager.default.temporaryDirectory.appendingPathComponent("ce-\(UUID()).db").path) throws -> SQLiteDatabase {
        try SQLiteDatabase(path: path, schema: [StreamSchema.module])
    }

    @Test func aPollAsksForWhatCanStillChangeAndNoMore() {
        var c = CostExplorerConfiguration()
        c.lookbackSeconds = 10 * 86_400
        c.settleSeconds = 2 * 86_400
        // First poll: the lookback, through the day in progress.
        let first = CostAndUsageRequest.range(nowMillis: Self.now, fetchedThrough: nil, configuration: c)
        #expect(first.start == Self.midnight - 10 * Self.day && first.end == Self.midnight + Self.day)
        // Later: only the unsettled days.
        let later = CostAndUsageRequest.range(nowMillis: Self.now, fetchedThrough: first.end, configuration: c)
        #expect(later.start == Self.midnight - 2 * Self.day && later.end == first.end)
        // After an outage longer than the settle time: from where the last complete poll ended.
        let gap = CostAndUsageRequest.range(nowMillis: Self.now, fetchedThrough: Self.midnight - 5 * Self.day, configuration: c)
        #expect(gap.start == Self.midnight - 5 * Self.day)
        c.granularity = .hourly
        let hourly = CostAndUsageRequest.range(nowMillis: Self.now, fetchedThrough: Self.now, configuration: c)
        #expect(hourly.start == Self.now - Self.now % 3_600_000 - 2 * Self.day && hourly.end == Self.now - Self.now % 3_600_000 + 3_600_000)
        let body = String(decoding: CostAndUsageRequest(startMillis: hourly.start, endMillis: hourly.end, nextPageToken: "p2").body(c), as: UTF8.self)
        #expect(body.contains(#""Start":"2026-11-28T10:00:00Z""#) && body.contains(#""NextPageToken":"p2""#) && body.contains(#""Granularity":"HOURLY""#))
    }

    @Test func answersAreCheckedValueByValue() throws {
        let c = CostExplorerConfiguration()
        let labels = StoreConfiguration().inputLabelNames
        let body = #"""
        {"ResultsByTime":[{"TimePeriod":{"Start":"2026-11-29","End":"2026-11-30"},"Total":{},"Estimated":true,"Groups":[
          {"Keys":["111","AmazonEC2"],"Metrics":{"UnblendedCost":{"Amount":"12.5","Unit":"USD"}}},
          {"Keys":["111","AmazonS3"],"Metrics":{"UnblendedCost":{"Amount":"1e400","Unit":"USD"}}},
          {"Keys":["111","AmazonRDS"],"Metrics":{"UnblendedCost":{"Amount":"3","Unit":"XYZ"}}},
          {"Keys":["111"],"Metrics":{"UnblendedCost":{"Amount":"3","Unit":"USD"}}},
          {"Keys":["222","AmazonEC2"],"Metrics":{"UnblendedCost":{"Amount":"-2","Unit":"EUR"}}}]}],
         "NextPageToken":"next"}
        """#
        let page = try CostAndUsagePage.decode(Array(body.utf8), configuration: c, inputLabels: labels,
                                               currencies: .init(codes: ["USD", "EUR"], rates: ["EUR": 1.1]))
        #expect(page.nextPageToken == "next" && page.periods == 1)
        #expect(page.rejected == ["bad_amount": 1, "unknown_currency": 1, "bad_group": 1])
        #expect(page.values.map(\.labels) == [["111", "AmazonEC2", "", "USD"], ["222", "AmazonEC2", "", "USD"]])
        #expect(page.values.map(\.amount) == [12.5, -2 * 1.1])
        #expect(page.values.allSatisfy { $0.estimated && $0.periodStartMillis == Self.midnight - Self.day })
        // AWS's own anomalies: the same error, naming its operation.
        do {
            _ = try AWSAnomaly.decode(Array(#"{"Anomalies": "none"}"#.utf8))
            Issue.record("a malformed GetAnomalies answer was accepted")
        } catch {
            #expect(error.description.contains("not a GetAnomalies result"))
        }
        for bad in ["not json", #"{"ResultsByTime": 3}"#, #"{"NextPageToken": "x"}"#,
                    #"{"ResultsByTime":[{"TimePeriod":{"Start":"soon"}}]}"#] {
            #expect(throws: CostAndUsagePage.Malformed.self) {
                try CostAndUsagePage.decode(Array(bad.utf8), configuration: c, inputLabels: labels, currencies: .init(codes: ["USD"]))
            }
        }
    }

    func value(_ account: String, _ dayOffset: Int64, _ amount: Double, estimated: Bool = false) -> CostAndUsagePage.Value {
        .init(labels: [account, "AmazonEC2", "", "USD"], periodStartMillis: Self.midnight + dayOffset * Self.day, amount: amount, estimated: estimated)
    }

    func total(_ store: WindowStore, _ matchers: String = #"{source="cost-explorer"}"#) throws -> (Double, Bool) {
        let answer = try store.query(WindowQuery(matchers: try SeriesSelector.parse(matchers), by: [], span: .last(seconds: 5 * 86_400), stepSeconds: 3600),
                                     atMillis: Self.now)
        return (answer.groups.first?.sum ?? 0, answer.groups.first?.estimated ?? false)
    }

    @Test func restatementsReplaceAndTheStateRestoresWithTheWindowsInOneCut() throws {
        let db = try database()
        let engine = PartitionEngine(store: WindowStore(configuration: StoreConfiguration()), snapshots: SnapshotStore(database: db), logger: Logger(label: "t"))
        let state = CostExplorerState(configuration: CostExplorerConfiguration())
        engine.register(state)
        let key = PartitionKey.costExplorer
        var report = engine.update(key) { state.apply([value("1", -1, 10, estimated: true), value("1", 0, 2, estimated: true)], writer: $0) }
        #expect(report.new == 2)
        #expect(try total(engine.store) == (12, true))
        // The same amounts again change nothing; a restatement replaces, down or up.
        report = engine.update(key) { state.apply([value("1", -1, 10, estimated: true), value("1", 0, 2, estimated: true)], writer: $0) }
        #expect(report.unchanged == 2)
        report = engine.update(key) { state.apply([value("1", -1, 7.5), value("1", 0, 4, estimated: true)], writer: $0) }
        #expect(report.replaced == 2)
        #expect(try total(engine.store) == (11.5, true))
        // Yesterday is final now: a window over it alone is not an estimate.
        let yesterday = try engine.store.query(WindowQuery(by: [], span: .last(seconds: 3600), stepSeconds: 3600), atMillis: Self.midnight - Self.day + 1000)
        #expect(yesterday.groups.first?.sum == 7.5 && yesterday.groups.first?.estimated == false)
        state.completed(through: Self.midnight + Self.day, keepFrom: Self.midnight - 2 * Self.day)
        try engine.save([key], nowMillis: Self.now)

        // A fresh process: windows and state from the same snapshot, and the next restatement
        // still replaces exactly what the windows hold.
        let engine2 = PartitionEngine(store: WindowStore(configuration: StoreConfiguration()), snapshots: SnapshotStore(database: db), logger: Logger(label: "t"))
        let state2 = CostExplorerState(configuration: CostExplorerConfiguration())
        engine2.register(state2)
        guard case .restored = engine2.restore(key) else { Issue.record("not restored"); return }
        engine2.update(key) { state2.markEstimated(writer: $0) }
        #expect(try total(engine2.store) == (11.5, true))
        #expect(state2.fetchedThroughMillis == Self.midnight + Self.day)
        report = engine2.update(key) { state2.apply([value("1", 0, 5)], writer: $0) }
        #expect(report.replaced == 1)
        #expect(try total(engine2.store) == (12.5, false))
        // Amounts of another metric (the config changed) are not restored: the partition starts over.
        var amortized = CostExplorerConfiguration()
        amortized.metric = "AmortizedCost"
        let engine3 = PartitionEngine(store: WindowStore(configuration: StoreConfiguration()), snapshots: SnapshotStore(database: db), logger: Logger(label: "t"))
        let state3 = CostExplorerState(configuration: amortized)
        engine3.register(state3)
        guard case .rebuild(let why) = engine3.restore(key) else { Issue.record("restored amounts of another metric"); return }
        #expect(why.contains("AmortizedCost") && state3.count == 0 && state3.fetchedThroughMillis == nil)
        #expect(try total(engine3.store).0 == 0)
        // Pruning: periods before the last poll's start are never asked again.
        state2.completed(through: Self.midnight + Self.day, keepFrom: Self.midnight)
        #expect(state2.count == 1)
    }

    @Test func everySeriesCarriesItsSourceAndSelectorsMayLeaveCostExplorerOut() throws {
        var configuration = StoreConfiguration()
        let store = WindowStore(configuration: configuration)
        _ = store.shard("kafka/costs/0").write { $0.apply(StringLabels(["1", "EC2", "r", "USD"]), timestampMillis: Self.now, cost: 3) }
        _ = store.shard(PartitionKey.http).write { $0.apply(StringLabels(["1", "EC2", "r", "USD"]), timestampMillis: Self.now, cost: 2) }
        _ = store.shard(PartitionKey.costExplorer).write { $0.apply(StringLabels(["1", "EC2", "", "USD"]), timestampMillis: Self.midnight, cost: 5) }
        let bySource = try store.query(WindowQuery(by: ["source"], span: .last(seconds: 86_400), stepSeconds: 3600), atMillis: Self.now)
        #expect(Dictionary(uniqueKeysWithValues: bySource.groups.map { ($0.labels["source"]!, $0.sum) }) == ["kafka": 3, "http": 2, "cost-explorer": 5])
        #expect(try total(store, "") .0 == 10)
        // Streaming and polling the same spend: an unsourced selector reads the streamed series.
        configuration.sourcesOutsideDefault = [PartitionKey.costExplorer]
        let both = WindowStore(configuration: configuration)
        _ = both.shard("kafka/costs/0").write { $0.apply(StringLabels(["1", "EC2", "r", "USD"]), timestampMillis: Self.now, cost: 3) }
        _ = both.shard(PartitionKey.costExplorer).write { $0.apply(StringLabels(["1", "EC2", "", "USD"]), timestampMillis: Self.midnight, cost: 5) }
        #expect(try total(both, #"{account="1"}"#).0 == 3)
        #expect(try total(both, #"{source=~".+"}"#).0 == 8)
        #expect(try total(both, #"{source="cost-explorer"}"#).0 == 5)
        // The snapshot keeps the input labels; `source` comes back from the shard key.
        let bytes = ShardCodec.encode(both.shard(PartitionKey.costExplorer)).state
        let restored = WindowStore(configuration: configuration)
        try restored.installShard(from: bytes, key: PartitionKey.costExplorer)
        #expect(try total(restored, #"{source="cost-explorer"}"#).0 == 5)
    }

    @Test func theDailyBudgetHoldsOverASimulatedDayAndStartsOverAtMidnightUTC() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ce-budget-\(UUID()).db").path
        let budget = RequestBudget(database: try database(path), perDay: 100)
        // A poll every minute of a whole day, three pages each: 4,320 requests wanted.
        var sent = 0
        for minute in 0..<(24 * 60) {
            for _ in 0..<3 where try budget.take(nowMillis: Self.midnight + Int64(minute) * 60_000) { sent += 1 }
        }
        #expect(sent == 100)
        #expect(try budget.used(nowMillis: Self.midnight + Self.day - 1) == 100)
        // A restart reads the same count: the budget is durable.
        let again = RequestBudget(database: try database(path), perDay: 100)
        #expect(try again.take(nowMillis: Self.midnight + Self.day - 1) == false)
        #expect(try again.take(nowMillis: Self.midnight + Self.day) == true)
    }
}
