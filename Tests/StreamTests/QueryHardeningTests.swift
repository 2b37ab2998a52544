import Foundation
import Testing
@testable import Stream

/// Issue 12 in the query engine: numbers out of range throw (never trap), totals beyond the
/// Double range throw `.overflow`, and the ring is chosen by what it holds, not by `at`.
@Suite struct QueryHardeningTests {
    private static let minute = Resolution(stepSeconds: 60, buckets: 60)   // 1 h
    private static let hour = Resolution(stepSeconds: 3600, buckets: 48)   // 48 h
    private static let base: Int64 = 1_796_000_400_000                    // an hour boundary in 2026

    private func store() -> WindowStore {
        WindowStore(configuration: StoreConfiguration(resolutions: [Self.minute, Self.hour]))
    }

    private func put(_ s: WindowStore, _ account: String, _ ts: Int64, _ cost: Double) {
        #expect(s.shard("t").write { $0.apply(StringLabels([account, "EC2", "r", "USD"]), timestampMillis: ts, cost: cost) } == nil)
    }

    private func query(window: Int64 = 600, offset: Int64 = 0, step: Int64? = nil) -> WindowQuery {
        WindowQuery(by: [], span: .last(seconds: window), offsetSeconds: offset, stepSeconds: step)
    }

    @Test func numbersOutsideTheLimitsThrowInsteadOfTrapping() {
        let s = store()
        put(s, "a", Self.base, 1)
        for (q, at) in [(query(offset: 10_000_000_000_000_000), Self.base), (query(offset: .max), Self.base),
                        (query(window: .max), Self.base), (query(window: 600, step: .max), Self.base),
                        (query(), .max), (query(), .min), (query(), -1)] {
            #expect(throws: QueryError.self) { try s.query(q, atMillis: at) }
        }
        #expect(throws: Never.self) { try s.query(query(), atMillis: QueryLimits.instantMillis.upperBound) }
    }

    @Test func aTotalBeyondTheDoubleRangeIsAnOverflowError() throws {
        let s = store()
        put(s, "a", Self.base, 1e308)
        put(s, "b", Self.base, 1e308)
        let perSeries = try s.query(WindowQuery(by: ["account"], span: .last(seconds: 600)), atMillis: Self.base)
        #expect(perSeries.groups.map(\.sum) == [1e308, 1e308])
        for agg in WindowQuery.Aggregation.allCases where agg != .count {
            do {
                _ = try s.query(WindowQuery(by: [], aggregation: agg, span: .last(seconds: 600)), atMillis: Self.base)
                Issue.record("\(agg): expected an overflow error")
            } catch {
                #expect(error.kind == .overflow)
                #expect(error.message.contains("1.8e308"))
            }
        }
    }

    @Test func aPastInstantUsesTheRingThatStillHoldsIt() throws {
        let s = store()
        let old = Self.base - 3 * 3600_000 + 5_000  // 3 h back: beyond the 1 h minute ring once it moves on
        put(s, "a", old, 5)
        // Only old data: the minute ring's head is at `old`, so it still holds it.
        let early = try s.query(query(window: 3600), atMillis: old)
        #expect(early.resolution == Self.minute && early.groups.first?.sum == 5)
        put(s, "a", Self.base, 1)
        // The minute ring has moved to `base`: reading it at `old` would answer 0.
        let late = try s.query(query(window: 3600), atMillis: old)
        #expect(late.resolution == Self.hour)
        #expect(late.groups.first?.sum == 5)
    }

    @Test func aRingWhoseHeadIsBehindAtStillAnswersAtItsResolution() throws {
        let s = store()
        let old = Self.base - 3 * 3600_000 + 5_000
        put(s, "a", old, 5)
        // `at` is 3 h after the newest event; the window ends at the event: the minute ring holds it.
        let answer = try s.query(query(window: 600, offset: 3 * 3600 - 300), atMillis: Self.base)
        #expect(answer.resolution == Self.minute)
        #expect(answer.groups.first?.sum == 5)
        // A window longer than the minute ring never uses it, however far `at` is from the data.
        #expect(try s.query(query(window: 7200), atMillis: Self.base).resolution == Self.hour)
    }

    @Test func deeplyNestedOrHugeRegexesAreRefusedBeforeCompiling() {
        #expect(throws: LabelMatcher.InvalidRegex.self) { try LabelMatcher("a", .matches, String(repeating: "(", count: 100_000)) }
        #expect(throws: LabelMatcher.InvalidRegex.self) { try LabelMatcher("a", .matches, String(repeating: "a", count: 1025)) }
        #expect(throws: Never.self) { try LabelMatcher("a", .matches, String(repeating: "(", count: 32) + "a" + String(repeating: ")", count: 32)) }
    }
}

@Suite struct IdempotencyKeysTests {
    @Test func aRecordIsStoredWithTheJournalAppendAndExpiresAfter24Hours() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("i.db").path, migrations: StreamSchema.migrations)
        let keys = IdempotencyKeys(database: database)
        let journal = EventJournal(database: database)
        let t0: Int64 = 1_796_000_000_000
        let record = IdempotencyKeys.Record(key: "k", requestHash: [1, 2], status: 200, response: Array("{}".utf8), createdMillis: t0)

        #expect(try journal.append(shard: "http", entries: [(t0, 1.5, [])]) == 1)
        // With entries the seq is still the journal's, not the key row's.
        #expect(try journal.append(shard: "http", entries: [(t0, 2.5, [])], idempotency: record) == 2)
        #expect(try keys.find("k", nowMillis: t0 + 1) == record)
        // Only a record (every event rejected): stored, and no seq.
        var rejected = record
        rejected.key = "r"
        rejected.status = 422
        #expect(try journal.append(shard: "http", entries: [], idempotency: rejected) == 0)
        #expect(try keys.find("r", nowMillis: t0)?.status == 422)

        let day = IdempotencyKeys.retentionMillis
        #expect(try keys.find("k", nowMillis: t0 + day - 1) != nil)
        #expect(try keys.find("k", nowMillis: t0 + day) == nil)
        #expect(try keys.prune(nowMillis: t0 + day - 1) == 0)
        #expect(try keys.prune(nowMillis: t0 + day) == 2)
        // An expired key can be used again.
        var again = record
        again.createdMillis = t0 + day
        try journal.append(shard: "http", entries: [], idempotency: again)
        #expect(try keys.find("k", nowMillis: t0 + day + 1) == again)
    }
}
