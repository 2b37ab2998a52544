import Foundation
import Hummingbird
import HummingbirdCore
import NIOPosix
import Stream

/// GET /v1/series?match={service="AmazonEC2"}&window=1h&offset=7d&by=account&agg=sum
/// `window` is a duration or `mtd` (month to date); `by` absent gives one row per series,
/// `by=` (empty) one total; `step` picks a resolution; `at` (RFC 3339 or epoch ms) sets the
/// instant, which is otherwise the wall clock (or the watermark when the daemon replays);
/// `points=true` adds every bucket's value (a range query).
struct SeriesEndpoint {
    let store: WindowStore
    let clock: @Sendable () -> Int64
    /// While the daemon is not ready (restoring, rebalancing, catching up) answers are partial.
    let readiness: Readiness

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/v1/series") { request, context in
            let params = request.uri.queryParameters
            do {
                var parsed = try Self.parse(params)
                // A scoped token's query only ever reaches its accounts' series.
                if let scoped = try context.scope.seriesMatcher() { parsed.matchers.append(scoped) }
                let query = parsed
                let at = try Self.instant(params["at"].map(String.init)) ?? clock()
                // Off the event loop: a query over many series is milliseconds of CPU, and it can
                // wait on a shard lock held through the HTTP journal's fsync.
                let before = readiness.partialReasons
                let answer = try await NIOThreadPool.singleton.runIfActive { try store.query(query, atMillis: at) }
                // Not ready at either end of the query: some partition may have been missing.
                let partial = before.merging(readiness.partialReasons) { first, _ in first }
                return JSONResponse.make(Answer(answer, query: query, at: at, partial: partial))
            } catch let error as BadRequest {
                return JSONResponse.error(.badRequest, error.message)
            } catch let error as QueryError where error.kind == .overflow {
                return JSONResponse.error(.unprocessableContent, error.message)
            } catch {
                return JSONResponse.error(.badRequest, "\(error)")
            }
        }
    }

    struct BadRequest: Error { let message: String }

    /// Longest `match` accepted: selectors are a few matchers, not documents.
    static let maxSelectorBytes = 8192

    static func parse(_ params: FlatDictionary<Substring, Substring>) throws -> WindowQuery {
        let matchers: [LabelMatcher]
        if let text = params["match"] {
            guard text.utf8.count <= maxSelectorBytes else {
                throw BadRequest(message: "match is \(text.utf8.count) bytes; at most \(maxSelectorBytes) are allowed")
            }
            matchers = try SeriesSelector.parse(String(text))
        } else {
            matchers = []
        }
        guard let windowText = params["window"].map(String.init) else {
            throw BadRequest(message: "window is required, e.g. window=1h or window=mtd")
        }
        let span: WindowQuery.Span = windowText == "mtd"
            ? .monthToDate : .last(seconds: try duration(windowText, "window", QueryLimits.windowSeconds))
        let offset = try params["offset"].map { try duration(String($0), "offset", QueryLimits.offsetSeconds) } ?? 0
        let step = try params["step"].map { try duration(String($0), "step", QueryLimits.stepSeconds) }
        let by = params["by"].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        let aggText = params["agg"].map(String.init) ?? "sum"
        guard let agg = WindowQuery.Aggregation(rawValue: aggText) else {
            throw BadRequest(message: "agg must be one of \(WindowQuery.Aggregation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let points = params["points"].map { $0 == "true" || $0 == "1" } ?? false
        return WindowQuery(matchers: matchers, by: by, aggregation: agg, span: span, offsetSeconds: offset,
                           stepSeconds: step, includeBuckets: points)
    }

    /// A duration parameter within `range`; the error names the range either way (a number too
    /// large for Int64 is out of range too, not a different kind of mistake).
    static func duration(_ text: String, _ name: String, _ range: ClosedRange<Int64>) throws -> Int64 {
        let allowed = "\(DurationText.format(seconds: range.lowerBound)) to \(DurationText.format(seconds: range.upperBound)) (100 years)"
        let seconds: Int64
        do { seconds = try DurationText.seconds(text) } catch {
            throw BadRequest(message: "\(name): \(error); allowed: \(allowed)")
        }
        guard range.contains(seconds) else {
            throw BadRequest(message: "\(name) must be from \(allowed), got \(text)")
        }
        return seconds
    }

    /// `at` as RFC 3339 or epoch milliseconds, between 1970 and the end of 9999.
    static func instant(_ text: String?, name: String = "at") throws -> Int64? {
        guard let text else { return nil }
        let range = "between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (epoch ms 0 to \(QueryLimits.instantMillis.upperBound))"
        let millis: Int64
        if text.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), text.utf8.contains(where: { $0 != UInt8(ascii: "-") }) {
            guard let ms = Int64(text) else { throw BadRequest(message: "\(name) must be \(range), got \(text)") }
            millis = ms
        } else {
            let parsed: Int64? = Array(text.utf8).withUnsafeBytes { Timestamp.parseISO8601($0) }
            guard let parsed else { throw BadRequest(message: "\(name) must be RFC 3339 (2026-06-01T00:00:00Z) or epoch milliseconds, \(range)") }
            millis = parsed
        }
        guard QueryLimits.instantMillis.contains(millis) else { throw BadRequest(message: "\(name) must be \(range), got \(text)") }
        return millis
    }

    struct Answer: Encodable {
        struct Row: Encodable {
            let labels: [String: String]
            let value: Double
            let sum: Double
            let count: UInt64
            /// With points=true: the value of every bucket, oldest first (from `start`, one per resolution step).
            let points: [Double]?
            /// Present (true) when some amounts are Cost Explorer estimates that AWS may still restate.
            let estimated: Bool?
        }

        let at: String
        let start: String
        let end: String
        let resolution: String
        let buckets: Int
        let aggregation: String
        let series: [Row]
        /// True when some input was not restored, caught up or assigned while answering: the
        /// numbers may be too low. `partial_reasons` says why (the same reasons as /readyz).
        let partial: Bool
        let partialReasons: [String: String]?

        enum CodingKeys: String, CodingKey {
            case at, start, end, resolution, buckets, aggregation, series, partial
            case partialReasons = "partial_reasons"
        }

        init(_ a: WindowAnswer, query: WindowQuery, at: Int64, partial: [String: String]) {
            self.partial = !partial.isEmpty
            partialReasons = partial.isEmpty ? nil : partial
            self.at = UTCCalendar.iso8601(millis: at)
            start = UTCCalendar.iso8601(millis: a.startMillis)
            end = UTCCalendar.iso8601(millis: a.endMillis)
            resolution = DurationText.format(seconds: a.resolution.stepSeconds)
            buckets = a.buckets
            aggregation = query.aggregation.rawValue
            series = a.groups.map { Row(labels: $0.labels, value: $0.value, sum: $0.sum, count: $0.count, points: $0.buckets, estimated: $0.estimated ? true : nil) }
        }
    }
}
