import Alerts
import Foundation
import Hummingbird
import NIOPosix
import Stream

/// GET /v1/alerts: the active (pending and firing) alerts.
/// GET /v1/alerts/history?since=…&limit=…: transitions from `since` (RFC 3339 or epoch ms;
/// default 24 hours ago), oldest first, at most `limit` (1–10,000, default 1,000). Durable
/// transitions carry their `seq`; the few not yet in a snapshot (at most a second old) come
/// last with `seq: null`.
struct AlertsEndpoint {
    let table: AlertTable
    let history: AlertHistory
    let clock: @Sendable () -> Int64

    static let maxLimit = 10_000

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/v1/alerts") { _, context in
            let scope = context.scope
            return JSONResponse.make(Active(alerts: table.active.filter { scope.allows(labels: $0.labels) }.map(Row.init)))
        }
        router.get("/v1/alerts/history") { request, context in
            let scope = context.scope
            let params = request.uri.queryParameters
            let since: Int64
            let limit: Int
            do throws(SeriesEndpoint.BadRequest) { (since, limit) = try Self.sinceAndLimit(since: params["since"], limit: params["limit"], defaultSince: clock() - 86_400_000) } catch {
                return JSONResponse.error(.badRequest, error.message)
            }
            do {
                let durable = try await NIOThreadPool.singleton.runIfActive { 
                    try history.entries(sinceMillis: since, limit: limit, visible: scope.isRestricted ? { scope.allows(labels: $0.labels) } : nil)
                }
                var rows = durable.map { HistoryRow($0.transition, seq: $0.seq) }
                let unsaved = table.unsavedTransitions.filter { $0.at >= since && scope.allows(labels: $0.labels) }
                rows += unsaved.prefix(max(0, limit - rows.count)).map { HistoryRow($0, seq: nil) }
                return JSONResponse.make(History(transitions: rows))
            } catch {
                return JSONResponse.error(.internalServerError, "alert history could not be read: \(error)")
            }
        }
    }

    /// `since` (RFC 3339 or epoch ms; default `defaultSince`) and `limit` (1–`maxLimit`, default
    /// 1,000) of a list query.
    static func sinceAndLimit(since sinceText: Substring?, limit limitText: Substring?, defaultSince: Int64)
        throws(SeriesEndpoint.BadRequest) -> (Int64, Int) {
        let since: Int64
        do { since = try SeriesEndpoint.instant(sinceText.map(String.init), name: "since") ?? defaultSince } catch {
            throw (error as? SeriesEndpoint.BadRequest) ?? SeriesEndpoint.BadRequest(message: "since: \(error)")
        }
        guard let text = limitText else { return (since, 1000) }
        guard let n = Int(text), (1...maxLimit).contains(n) else {
            throw SeriesEndpoint.BadRequest(message: "limit must be a whole number from 1 to \(maxLimit), got \(text)")
        }
        return (since, n)
    }

    struct Active: Encodable { let alerts: [Row] }

    struct Row: Encodable {
        let rule: String
        let fingerprint: String
        let state: String
        let labels: [String: String]
        let annotations: [String: String]
        let value: Double
        let measure: Double
        let activeAt: String
        let firedAt: String?
        let partition: String

        init(_ a: Alert) {
            rule = a.rule
            fingerprint = a.fingerprint
            state = a.state.rawValue
            labels = a.labels
            annotations = a.annotations
            value = a.value
            measure = a.measure
            activeAt = UTCCalendar.iso8601(millis: a.activeAt)
            firedAt = a.firedAt.map(UTCCalendar.iso8601(millis:))
            partition = a.owner
        }
    }

    struct History: Encodable { let transitions: [HistoryRow] }

    /// One transition; also the NDJSON line `ingestd backtest` prints (score-alerts reads
    /// `state`, `startsAt` and `labels.account` / `labels.service`).
    struct HistoryRow: Encodable {
        let seq: Int64?
        let at: String
        let state: String
        let rule: String
        let fingerprint: String
        let labels: [String: String]
        let annotations: [String: String]
        let value: Double
        let measure: Double
        let activeAt: String
        let startsAt: String?

        /// The stream sends this row without a history `seq` (its messages carry their own).
        let includesSeq: Bool

        init(_ t: AlertTransition, seq: Int64?, includesSeq: Bool = true) {
            self.seq = seq
            self.includesSeq = includesSeq
            at = UTCCalendar.iso8601(millis: t.at)
            state = t.state.rawValue
            rule = t.rule
            fingerprint = t.fingerprint
            labels = t.labels
            annotations = t.annotations
            value = t.value
            measure = t.measure
            activeAt = UTCCalendar.iso8601(millis: t.activeAt)
            startsAt = t.firedAt.map(UTCCalendar.iso8601(millis:))
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if includesSeq { try c.encode(seq, forKey: .seq) } // explicit null: "not durable yet"
            try c.encode(at, forKey: .at)
            try c.encode(state, forKey: .state)
            try c.encode(rule, forKey: .rule)
            try c.encode(fingerprint, forKey: .fingerprint)
            try c.encode(labels, forKey: .labels)
            try c.encode(annotations, forKey: .annotations)
            try c.encode(value, forKey: .value)
            try c.encode(measure, forKey: .measure)
            try c.encode(activeAt, forKey: .activeAt)
            try c.encodeIfPresent(startsAt, forKey: .startsAt)
        }

        enum CodingKeys: String, CodingKey { case seq, at, state, rule, fingerprint, labels, annotations, value, measure, activeAt, startsAt }
    }
}
