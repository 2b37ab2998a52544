import Foundation
import Stream
import Testing
import Logging

/// `ReplayPipeline` parses on a second thread and applies on the caller's: its result must be
/// exactly what `EventIngestor.ingest` gives line after line — the same rejections with the same
/// details in the same order, the same counts and the same buckets — across batch boundaries,
/// escaped labels (decoded into the parser's scratch, which the next line overwrites), labels
/// larger than a batch's arena, field rejections, store rejections
/// and reader errors.
@Suite("ReplayPipeline")
struct ReplayPipelineTests {
    static func event(_ account: String, _ service: String, _ ts: String, _ cost: String, currency: String = "USD") -> String {
        "{\"accountId\":\"\(account)\",\"service\":\"\(service)\",\"region\":\"eu-west-1\",\"cost\":\(cost),\"currency\":\"\(currency)\",\"timestamp\":\"\(ts)\",\"metadata\":{\"team\":\"t\(account.count % 3)\"}}"
    }

    static func lines() -> [String] {
        var out: [String] = []
        for i in 0..<200 {
            let minute = i * 7
            let ts = String(format: "2026-06-01T%02d:%02d:00Z", minute / 60 % 24, minute % 60)
            out.append(event("acct\(i % 5)", i % 3 == 0 ? "Amazon\\u0045C2" : "S3", ts, "\(Double(i) * 0.5 + 0.01)",
                             currency: i % 4 == 0 ? "eur" : "USD"))
            if i % 17 == 0 { out.append("not json \(i)") }
            if i % 23 == 0 { out.append("{\"accountId\":\"1\"}") }
            if i % 29 == 0 { out.append(event("acct1", "S3", "2026-05-01T00:00:00Z", "1")) }  // too old by then
            if i % 31 == 0 { out.append("") }
            if i % 37 == 0 { out.append(event(String(repeating: "long", count: 100), "S3", ts, "2")) }  // > an arena
            // Field checks: the first failing one, in parse's order.
            if i % 41 == 0 { out.append(event("acct2", "S3", "yesterday", "1", currency: "XYZ")) }
            if i % 43 == 0 { out.append(event("acct2", "S3", ts, "-1")) }
            if i % 47 == 0 { out.append(event("acct2", "S3", ts, "\"12,5\"", currency: "XYZ")) }
        }
        return out
    }

    struct Outcome: Equatable {
        var rejections: [String] = []
        var applied: UInt64 = 0
        var rejected: [RejectReason: UInt64] = [:]
        var series = 0
        var buckets: [String] = []
    }

    static func replay(_ path: String, parsesAhead: Bool, batchSize: Int = 1024, depth: Int = 4) throws -> Outcome {
        let options = EventParserOptions(tagKeys: ["team"], currencies: ["USD", "EUR"])
        let store = WindowStore(configuration: StoreConfiguration(
            tagKeys: ["team"], resolutions: [Resolution(stepSeconds: 60, buckets: 30), Resolution(stepSeconds: 3600, buckets: 24)]))
        let shard = store.shard("replay")
        let ingestor = EventIngestor(source: .replay, quarantine: nil, logger: Logger(label: "test"), badEventLogsPerMinute: 0)
        var pipeline = ReplayPipeline(reader: NDJSONReader(path: path), parser: EventParser(options: options))
        pipeline.parsesAhead = parsesAhead
        pipeline.batchSize = batchSize
        pipeline.depth = depth
        var outcome = Outcome()
        try shard.write { writer in
            try pipeline.run(ingestor: ingestor, writer: writer) { rejection in
                outcome.rejections.append(rejection.map { "\($0)" } ?? "ok")
            }
        }
        let statistics = shard.statistics
        outcome.applied = statistics.applied
        outcome.rejected = statistics.rejected
        outcome.series = statistics.series
        for step: Int64 in [60, 3600] {
            shard.forEachBucket(stepSeconds: step) { labels, start, sum, count in
                outcome.buckets.append("\(step) \(labels) \(start) \(sum) \(count)")
            }
        }
        return outcome
    }

    @Test("parsing ahead gives what line-by-line ingest gives, for any batch size", arguments: [1, 2, 3, 64, 1024])
    func sameAsSequential(batchSize: Int) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-pipeline-\(UUID().uuidString).ndjson").path
        try Data((Self.lines().joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let sequential = try Self.replay(path, parsesAhead: false)
        let ahead = try Self.replay(path, parsesAhead: true, batchSize: batchSize, depth: batchSize % 2 + 2)
        // The fixture exercises what it claims to.
        #expect(sequential.rejections.count == Self.lines().filter { !$0.isEmpty }.count)
        #expect(sequential.rejected[.invalidJSON] == 12 && sequential.rejected[.missingField] == 9)
        #expect(sequential.rejected[.tooOld] == 7)
        #expect(sequential.rejected[.invalidTimestamp] == 5 && sequential.rejected[.negativeCost] == 5)
        #expect(sequential.rejected[.invalidCost] == 5 && sequential.rejected[.unknownCurrency] == nil)
        #expect(sequential.applied == 206 && sequential.series == 21)
        #expect(sequential.buckets.contains { $0.contains("AmazonEC2") && $0.contains("EUR") })
        #expect(ahead == sequential)
    }

    @Test("a reader error reaches the caller")
    func readerError() {
        let pipeline = ReplayPipeline(reader: NDJSONReader(path: "/nonexistent/events.ndjson"), parser: EventParser(options: EventParserOptions()))
        let store = WindowStore(configuration: StoreConfiguration())
        let ingestor = EventIngestor(source: .replay, quarantine: nil, logger: Logger(label: "test"), badEventLogsPerMinute: 0)
        var seen = 0
        #expect(throws: NDJSONReader.ReadError.self) {
            try store.shard("replay").write { writer in try pipeline.run(ingestor: ingestor, writer: writer) { _ in seen += 1 } }
        }
        #expect(seen == 0)
    }
}
