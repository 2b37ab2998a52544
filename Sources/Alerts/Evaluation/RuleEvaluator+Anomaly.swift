import Stream

/// Anomaly rules: each round feeds every group's detector the steps completed since it last
/// saw one (usually none or one), and the alert follows the detector's latest decision.
extension RuleEvaluator {
    /// How many missed steps a detector is fed at most after a pause (a restart, a stall); older
    /// ones are skipped, and the baseline has a gap there.
    static let anomalyCatchUpSteps: Int64 = 24
    static let anomalySeedSeconds: Int64 = 8 * 86_400

    func planAnomaly(_ rule: Rule, _ settings: AnomalySettings, key: String, configuration: StoreConfiguration, at: Int64,
                     cache: RuleGroups?) throws(QueryError) -> RuleProbe {
        let stepMillis = settings.stepSeconds * 1000
        let completedEnd = EventTimeEvaluation.floor(at, stepMillis)
        // A seed round reads what the store holds, up to the seasonal baseline's eight days: the
        // first round after a start or a reload, and the round after a new group appeared. New
        // detectors start trained when history is there; the others take only the steps after
        // their own last one.
        let fed = fedThroughMillis(key)
        let seed = fed == nil || anomalySeedRequests.withLock { $0.remove(key) != nil }
        let steps: Int64 = seed ? Self.anomalySeedSeconds / settings.stepSeconds
            : fed.map { $0 < completedEnd ? min(Self.anomalyCatchUpSteps, (completedEnd - $0) / stepMillis) : 0 } ?? 0
        let main = try planSteps(max(1, steps), settings: settings, endingAt: completedEnd)
        if steps > 0 { setFedThrough(key, completedEnd) }
        return RuleProbe(rule: rule, ruleKey: key, configuration: configuration, main: main, previous: nil, noData: nil,
                         rechecks: [:], cache: cache, anomalyStepMillis: steps > 0 ? stepMillis : nil, anomalySeed: seed)
    }

    /// Up to `steps` whole steps ending at `end`, from the ring (of those whose step divides the
    /// rule's) that holds the most of them.
    private func planSteps(_ steps: Int64, settings: AnomalySettings, endingAt end: Int64) throws(QueryError) -> PlannedSpan {
        let store = engine.store
        var best: PlannedSpan?
        var lastError = QueryError(message: "no resolution in store.resolutions divides the \(DurationText.format(seconds: settings.stepSeconds)) step")
        for r in store.configuration.resolutions where settings.stepSeconds % r.stepSeconds == 0 {
            let held = max(1, min(steps, r.retentionSeconds / settings.stepSeconds - 1))
            for n in Set([held, 1]).sorted(by: >) {
                do {
                    let span = try store.plan(.last(seconds: n * settings.stepSeconds), stepSeconds: r.stepSeconds, atMillis: end - 1)
                    if best == nil || span.buckets * Int(r.stepSeconds) > best!.buckets * Int(best!.resolution.stepSeconds) { best = span }
                    break
                } catch {
                    lastError = error
                }
            }
        }
        guard let best else { throw lastError }
        return best
    }

    /// Observations for an anomaly rule's alerts, and the detectors that learned, by owner.
    func observeAnomalies(_ probe: RuleProbe, _ settings: AnomalySettings, existing: [AlertKey: Alert])
        -> ([String: AlertObservation], [(owner: String, key: AlertKey, detector: AnomalyDetector, labels: [String: String])]) {
        let rule = probe.rule
        // A detector of another step or method (the rule was edited and reloaded) starts over:
        // its baseline is of other points.
        let known = detectors.detectors(rule: probe.ruleKey).filter {
            $0.value.detector.stepSeconds == settings.stepSeconds && $0.value.detector.method == settings.method
        }
        var out: [String: AlertObservation] = [:]
        var learned: [(owner: String, key: AlertKey, detector: AnomalyDetector, labels: [String: String])] = []

        func observation(_ labels: [String: String], _ fingerprint: String, _ d: AnomalyDecision, owner: String,
                         contributors: String?) -> AlertObservation {
            var template = AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: Self.finite(d.observed),
                                                measure: Self.finite(d.impact), threshold: settings.minImpactAmount,
                                                window: DurationText.format(seconds: settings.stepSeconds))
            template.expected = Self.finite(d.expected)
            template.lower = Self.finite(d.lower)
            template.upper = Self.finite(d.upper)
            template.reason = d.reason?.rawValue
            template.contributors = contributors
            return AlertObservation(labels: labels, fingerprint: fingerprint, value: Self.finite(d.observed), measure: Self.finite(d.impact),
                                    matches: d.isAnomalous, holds: d.isAnomalous, windowSum: 0, recheckedSum: nil, owner: owner,
                                    template: template)
        }

        guard let stepMillis = probe.anomalyStepMillis else {
            // No step completed since the last round: the alerts keep their detector's decision.
            for (key, alert) in existing {
                guard let entry = known[key], let d = entry.detector.last else { continue }
                out[key.fingerprint] = observation(alert.labels, key.fingerprint, d, owner: alert.owner,
                                                   contributors: alert.annotations["contributors"])
            }
            return (out, learned)
        }
        let perStep = Int(stepMillis / probe.main.resolution.stepMillis)
        let steps = probe.main.buckets / max(1, perStep)
        let firstStart = probe.main.startMillis
        for group in probe.groups where group.series > 0 {
            let (labels, fingerprint) = group.alertIdentity(rule: rule, byNames: probe.byNames)
            let key = AlertKey(rule: probe.ruleKey, fingerprint: fingerprint)
            // A new group waits for the next round, a seed round, to start from its history.
            if known[key] == nil && !probe.anomalySeed {
                anomalySeedRequests.withLock { _ = $0.insert(probe.ruleKey) }
                continue
            }
            var entry = known[key] ?? DetectorTable.Entry(owner: group.owner,
                                                          detector: AnomalyDetector(stepSeconds: settings.stepSeconds, method: settings.method),
                                                          labels: labels)
            let buckets = group.main.buckets ?? []
            var fedAny = false
            for i in 0..<steps {
                let start = firstStart + Int64(i) * stepMillis
                if let next = entry.detector.nextStepStart, start < next { continue }
                var x = 0.0
                for b in (i * perStep)..<min(buckets.count, (i + 1) * perStep) { x += buckets[b] }
                // A new detector starts at its group's first spend, not at the empty steps
                // before the group existed (they would teach it that normal is 0).
                if entry.detector.last == nil && x == 0 { continue }
                entry.detector.observe(x, stepStart: start, settings: settings)
                fedAny = true
            }
            if fedAny || known[key] == nil { learned.append((entry.owner, key, entry.detector, labels)) }
            guard let d = entry.detector.last else { continue }
            let alert = existing[key]
            guard d.isAnomalous || alert != nil else { continue }
            out[fingerprint] = observation(labels, fingerprint, d, owner: alert?.owner ?? entry.owner,
                                           contributors: Self.top(group.contributors, currency: labels["currency"] ?? "USD"))
        }
        return (out, learned)
    }

    /// The five largest contributors, `name $cost` joined; nil when none were sketched.
    static func top(_ contributors: [String: Double], currency: String) -> String? {
        guard !contributors.isEmpty else { return nil }
        return contributors.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5)
            .map { "\($0.key) \(TemplateFormat.money($0.value, currency: currency))" }.joined(separator: ", ")
    }

    private func fedThroughMillis(_ key: String) -> Int64? { fedThroughStore.withLock { $0[key] } }
    private func setFedThrough(_ key: String, _ end: Int64) { fedThroughStore.withLock { $0[key] = end } }
}

/// Why feedback could not be applied.
public enum AnomalyFeedbackError: Error, Sendable, Equatable {
    /// No active alert has the fingerprint (or the caller may not see it).
    case noAlert(String)
    /// The alert is of a rule without a detector (threshold, change, budget).
    case notAnomaly(rule: String)
    /// Two rules' alerts share the fingerprint: name the rule.
    case ambiguous(rules: [String])
    /// Its partition moved to another instance meanwhile.
    case moved
}

extension RuleEvaluator {
    /// Applies an operator's verdict to the detector behind an active anomaly alert, under its
    /// owner's shard lock; the record is saved with the detector it changed.
    public func applyFeedback(fingerprint: String, rule: String?, verdict: AnomalyDetector.Feedback, note: String?, by: String?,
                              atMillis: Int64, visible: ([String: String]) -> Bool) throws(AnomalyFeedbackError)
        -> (feedback: AnomalyFeedback, detector: AnomalyDetector) {
        try roundLock.withLock { _ throws(AnomalyFeedbackError) in
            try applyFeedbackBetweenRounds(fingerprint: fingerprint, rule: rule, verdict: verdict, note: note, by: by,
                                           atMillis: atMillis, visible: visible)
        }
    }

    private func applyFeedbackBetweenRounds(fingerprint: String, rule: String?, verdict: AnomalyDetector.Feedback, note: String?,
                                            by: String?, atMillis: Int64, visible: ([String: String]) -> Bool) throws(AnomalyFeedbackError)
        -> (feedback: AnomalyFeedback, detector: AnomalyDetector) {
        let alerts = table.active.filter { $0.fingerprint == fingerprint && (rule == nil || $0.rule == rule) && visible($0.labels) }
        guard let alert = alerts.first else { throw .noAlert(fingerprint) }
        guard alerts.count == 1 else { throw .ambiguous(rules: alerts.map(\.rule)) }
        guard let entry = detectors.detector(alert.key) else { throw .notAnomaly(rule: alert.rule) }
        let record = AnomalyFeedback(rule: alert.rule, fingerprint: fingerprint, labels: alert.labels, verdict: verdict, at: atMillis,
                                     note: note, by: by)
        let after = engine.updateExisting(entry.owner) { _ in detectors.apply(record, key: alert.key, partition: entry.owner) }
        guard let detector = after ?? nil else { throw .moved }
        return (record, detector)
    }
}
