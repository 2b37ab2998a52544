import Alerts
import Foundation
import Hummingbird
import Stream

/// GET /v1/rules: every group and rule in force with its health (last evaluation, its duration,
/// the last error) and how the last reload went. POST /v1/reload: reload the rule files now
/// (200 when they were valid and are in force; 422 with every error when the old rules stay).
struct RulesEndpoint {
    let registry: RuleRegistry
    let evaluator: RuleEvaluator
    let reloader: RuleReloader
    /// Tokens and TLS certificate, reloaded with the rules.
    var access: AccessReloader?

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/v1/rules") { _, _ in
            JSONResponse.make(Self.answer(registry, evaluator))
        }
        router.post("/v1/reload") { _, _ in
            let status = reloader.reload(reason: "POST /v1/reload")
            var answer = Reload(status)
            if let outcome = access?.reload(reason: "POST /v1/reload") {
                answer.access = .init(successful: outcome.successful, errors: outcome.errors)
            }
            let ok = status.successful && answer.access?.successful != false
            return JSONResponse.make(answer, status: ok ? .ok : .unprocessableContent)
        }
    }

    struct Reload: Encodable {
        let successful: Bool
        let at: String
        let errors: [String]
        /// The tokens and TLS certificate (absent without a config file to reread).
        var access: Access?
        struct Access: Encodable { let successful: Bool; let errors: [String] }
        init(_ s: RuleRegistry.ReloadStatus) {
            successful = s.successful
            at = UTCCalendar.iso8601(millis: s.atMillis)
            errors = s.errors
        }
    }

    struct Answer: Encodable {
        let groups: [Group]
        let lastReload: Reload
        /// Why evaluation is paused (partial data), or absent.
        let evaluationPaused: String?
        enum CodingKeys: String, CodingKey { case groups, lastReload = "last_reload", evaluationPaused = "evaluation_paused" }
    }

    struct Group: Encodable {
        let name: String
        let file: String
        let interval: String
        let rules: [RuleRow]
    }

    struct RuleRow: Encodable {
        let alert: String
        let kind: String
        let match: String
        let by: [String]
        let window: String
        let threshold: String
        let resolve: Double?
        let forDuration: String
        let keepFiringFor: String
        let noData: String?
        let severity: String
        let labels: [String: String]
        let annotations: [String: String]
        let health: String
        let lastEvaluation: String?
        let lastDurationSeconds: Double?
        let lastError: String?
        let activeAlerts: Int

        enum CodingKeys: String, CodingKey {
            case alert, kind, match, by, window, threshold, resolve, severity, labels, annotations, health
            case forDuration = "for", keepFiringFor = "keep_firing_for", noData = "no_data"
            case lastEvaluation = "last_evaluation", lastDurationSeconds = "last_duration_seconds"
            case lastError = "last_error", activeAlerts = "active_alerts"
        }
    }

    static func answer(_ registry: RuleRegistry, _ evaluator: RuleEvaluator) -> Answer {
        let active = Dictionary(grouping: evaluator.table.active, by: \.rule).mapValues(\.count)
        let groups = registry.groups.map { g in
            Group(name: g.name, file: g.file, interval: DurationText.format(seconds: g.intervalSeconds), rules: g.rules.map { r in
                let key = RuleEvaluator.ruleKey(group: g.name, rule: r.name)
                let health = evaluator.health(key)
                let kind: String, window: String, unit: String
                var threshold = "\(r.comparison.rawValue) \(r.threshold)"
                switch r.kind {
                case .anomaly(let a):
                    (kind, window, unit) = ("anomaly", "\(DurationText.format(seconds: a.stepSeconds)) steps, \(a.method.rawValue) detector, \(a.sensitivity.rawValue) sensitivity", "")
                    threshold = "impact at least \(a.minImpactAmount) and \(a.minImpactPercent)%"
                case .threshold: (kind, window, unit) = ("threshold", DurationText.format(seconds: r.windowSeconds), "")
                case .change(let offset, let minChange):
                    (kind, window, unit) = ("change", "\(DurationText.format(seconds: r.windowSeconds)) vs \(DurationText.format(seconds: offset)) earlier, min change \(minChange)", "%")
                case .budget(let amount, let bases):
                    (kind, window, unit) = ("budget", "month-to-date of \(amount) (\(bases.map(\.rawValue).joined(separator: ", ")))", "%")
                }
                return RuleRow(alert: r.name, kind: kind, match: r.matchText, by: r.by, window: window,
                               threshold: threshold + unit, resolve: r.resolveThreshold,
                               forDuration: DurationText.format(seconds: r.forSeconds),
                               keepFiringFor: DurationText.format(seconds: r.keepFiringForSeconds),
                               noData: r.noDataSeconds.map { DurationText.format(seconds: $0) }, severity: r.severity,
                               labels: r.labels, annotations: r.annotations.mapValues(\.source),
                               health: health.status.rawValue,
                               lastEvaluation: health.lastEvaluationMillis.map(UTCCalendar.iso8601(millis:)),
                               lastDurationSeconds: health.lastDurationSeconds, lastError: health.lastError,
                               activeAlerts: active[key] ?? 0)
            })
        }
        return Answer(groups: groups, lastReload: Reload(registry.status), evaluationPaused: evaluator.pausedReason)
    }
}
