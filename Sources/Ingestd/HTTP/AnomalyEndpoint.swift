import Alerts
import Foundation
import Hummingbird
import NIOPosix
import Stream

/// Anomaly detectors from outside (README: Anomaly rules):
/// - POST /v1/alerts/{fingerprint}/feedback `{"verdict": "real"|"not_real"|"planned", "note": …,
///   "rule": …}` (rule only when two rules' alerts share the fingerprint) → the stored record
///   and the detector's state after it. Write role; a scoped token only for its accounts.
/// - GET /v1/alerts/feedback?since=…&limit=… → feedback given, oldest first.
/// - GET /v1/series/baseline?match={…}&rule=… → per matching detector: the last day of judged
///   windows, observed against expected and the band, and its warm-up and feedback state.
struct AnomalyEndpoint {
    let evaluator: RuleEvaluator
    let database: SQLiteDatabase
    let clock: @Sendable () -> Int64

    static let maxBodyBytes = 16 << 10
    static let maxNoteCharacters = 1000

    func register(on router: Router<IngestdRequestContext>) {
        router.post("/v1/alerts/:fingerprint/feedback") { request, context in
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: Self.maxBodyBytes) } catch {
                return JSONResponse.error(.contentTooLarge, "feedback is at most \(Self.maxBodyBytes) bytes of JSON")
            }
            let input: FeedbackInput
            do throws(BadRequest) { input = try Self.feedback(Data(buffer: body)) } catch {
                return JSONResponse.error(.badRequest, error.message)
            }
            let fingerprint = context.parameters.get("fingerprint") ?? ""
            let scope = context.scope
            do throws(AnomalyFeedbackError) {
                let (record, detector) = try evaluator.applyFeedback(
                    fingerprint: fingerprint, rule: input.rule, verdict: input.verdict, note: input.note,
                    by: context.principal?.name, atMillis: clock(), visible: { scope.allows(labels: $0) })
                return JSONResponse.make(Applied(feedback: FeedbackRow(record), detector: DetectorRow(record.rule, record.fingerprint, record.labels, detector)))
            } catch {
                switch error {
                case .noAlert(let f):
                    return JSONResponse.error(.notFound, "no active alert has fingerprint \(f) (feedback applies to pending or firing anomaly alerts; see GET /v1/alerts)")
                case .notAnomaly(let rule):
                    return JSONResponse.error(.conflict, "alert of rule \(rule) is not an anomaly alert: feedback teaches a detector, and threshold, change and budget rules have none")
                case .ambiguous(let rules):
                    return JSONResponse.error(.conflict, "alerts of several rules have this fingerprint: add \"rule\" (one of \(rules.joined(separator: ", ")))")
                case .moved:
                    return JSONResponse.error(.serviceUnavailable, "the alert's partition moved to another instance: send the feedback there")
                }
            }
        }
        router.get("/v1/alerts/feedback") { request, context in
            let scope = context.scope
            let params = request.uri.queryParameters
            let since: Int64
            let limit: Int
            do throws(SeriesEndpoint.BadRequest) { (since, limit) = try AlertsEndpoint.sinceAndLimit(since: params["since"], limit: params["limit"], defaultSince: clock() - 30 * 86_400_000) } catch {
                return JSONResponse.error(.badRequest, error.message)
            }
            do {
                var rows = try await NIOThreadPool.singleton.runIfActive {
                    try AnomalyFeedback.entries(in: database, sinceMillis: since, limit: limit) { scope.allows(labels: $0.labels) }
                }.map { FeedbackRow($0, durable: true) }
                let unsaved = evaluator.detectors.unsavedFeedback.filter { $0.at >= since && scope.allows(labels: $0.labels) }
                rows += unsaved.prefix(max(0, limit - rows.count)).map { FeedbackRow($0, durable: false) }
                return JSONResponse.make(FeedbackList(feedback: rows))
            } catch {
                return JSONResponse.error(.internalServerError, "feedback could not be read: \(error)")
            }
        }
        router.get("/v1/series/baseline") { request, context in
            let scope = context.scope
            let params = request.uri.queryParameters
            var matchers: [LabelMatcher] = []
            if let text = params["match"] {
                do throws(SeriesSelector.SyntaxError) { matchers = try SeriesSelector.parse(String(text)) } catch {
                    return JSONResponse.error(.badRequest, "match: \(error.message) at column \(error.column) of \(text)")
                }
            }
            let compiled = matchers.map { LabelMatcher.Compiled($0, labelNames: []) }
            let rule = params["rule"].map(String.init)
            let rows = evaluator.detectors.all()
                .filter { key, entry in
                    (rule == nil || key.rule == rule) && scope.allows(labels: entry.labels)
                        && compiled.allSatisfy { $0.matches(value: entry.labels[$0.matcher.name] ?? "") }
                }
                .sorted { ($0.key.rule, $0.key.fingerprint) < ($1.key.rule, $1.key.fingerprint) }
                .map { DetectorRow($0.key.rule, $0.key.fingerprint, $0.value.labels, $0.value.detector) }
            return JSONResponse.make(Baselines(detectors: rows))
        }
    }

    struct BadRequest: Error { let message: String }

    struct FeedbackInput {
        var verdict: AnomalyDetector.Feedback
        var note: String?
        var rule: String?
    }

    static func feedback(_ data: Data) throws(BadRequest) -> FeedbackInput {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BadRequest(message: "send a JSON object: {\"verdict\": \"real\" | \"not_real\" | \"planned\", \"note\": \"…\"}")
        }
        let allowed: Set<String> = ["verdict", "note", "rule"]
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw BadRequest(message: "unknown member \"\(unknown)\": feedback has verdict, note and rule")
        }
        let choices = AnomalyDetector.Feedback.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = object["verdict"] as? String, let verdict = AnomalyDetector.Feedback(rawValue: text) else {
            throw BadRequest(message: "verdict must be one of \(choices)")
        }
        var input = FeedbackInput(verdict: verdict)
        if let note = object["note"] {
            guard let note = note as? String, note.count <= Self.maxNoteCharacters else {
                throw BadRequest(message: "note must be text of at most \(Self.maxNoteCharacters) characters")
            }
            input.note = note
        }
        if let rule = object["rule"] {
            guard let rule = rule as? String else { throw BadRequest(message: "rule must be text (group/alertname, as in GET /v1/alerts)") }
            input.rule = rule
        }
        return input
    }

    struct Applied: Encodable {
        let feedback: FeedbackRow
        let detector: DetectorRow
    }

    struct FeedbackList: Encodable { let feedback: [FeedbackRow] }

    struct FeedbackRow: Encodable {
        let rule: String
        let fingerprint: String
        let labels: [String: String]
        let verdict: String
        let at: String
        let note: String?
        let by: String?
        /// False until the next snapshot holds it (with the detector state it changed).
        let durable: Bool

        init(_ f: AnomalyFeedback, durable: Bool = false) {
            rule = f.rule
            fingerprint = f.fingerprint
            labels = f.labels
            verdict = f.verdict.rawValue
            at = UTCCalendar.iso8601(millis: f.at)
            note = f.note
            by = f.by
            self.durable = durable
        }
    }

    struct Baselines: Encodable { let detectors: [DetectorRow] }

    struct DetectorRow: Encodable {
        struct Window: Encodable {
            let start: String
            let observed: Double
            let expected: Double
            let upper: Double
            let anomalous: Bool
        }
        struct Last: Encodable {
            let stepStart: String
            let observed: Double
            let expected: Double
            let lower: Double
            let upper: Double
            let impact: Double
            let reason: String?
        }
        let rule: String
        let fingerprint: String
        let labels: [String: String]
        let resolution: String
        let detector: String
        let warmingUp: Bool
        /// `not_real` feedback so far: by hour of day (UTC), the multiple of the expected value
        /// tolerated before a spike; and the CUSUM limit's multiplier.
        let spikeTolerance: [String: Double]
        let shiftMargin: Double
        let last: Last?
        let windows: [Window]

        init(_ rule: String, _ fingerprint: String, _ labels: [String: String], _ d: AnomalyDetector) {
            self.rule = rule
            self.fingerprint = fingerprint
            self.labels = labels
            resolution = DurationText.format(seconds: d.stepSeconds)
            detector = d.method.rawValue
            warmingUp = d.last?.warmingUp ?? true
            var margins: [String: Double] = [:]
            for (slot, m) in d.spikeTolerance.enumerated() where m > 0 {
                margins[String(format: "%02d:00", slot * 24 / max(1, d.spikeTolerance.count))] = Double(m)
            }
            spikeTolerance = margins
            shiftMargin = d.shiftMargin
            last = d.last.map {
                Last(stepStart: UTCCalendar.iso8601(millis: $0.stepStart), observed: $0.observed, expected: $0.expected,
                     lower: $0.lower, upper: $0.upper, impact: $0.impact, reason: $0.reason?.rawValue)
            }
            windows = d.recentWindows.map {
                Window(start: UTCCalendar.iso8601(millis: $0.start), observed: $0.observed, expected: $0.expected,
                       upper: $0.upper, anomalous: $0.anomalous)
            }
        }
    }
}
