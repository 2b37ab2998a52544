import Stream

/// Anomaly rules: each round feeds every group's detector the steps completed since it last
/// saw one (usually none or one), and the alert follows the detector's latest decision.
extension RuleEvaluator {
    /// How many missed steps a detector is fed at most after a pause (a restart, a stall); older
    /// ones are skipped, and the baseline has a gap there.
    static let anomalyCatchUpSteps: Int64 = 24

    func planAnomaly(_ rule: Rule, _ settings: AnomalySettings, key: String, labelNames: [String], at: Int64,
                     cache: RuleGroups?) throws(QueryError) -> RuleProbe {
        let stepMillis = settings.stepSeconds * 1000
        let completedEnd = EventTimeEvaluation.floor(at, stepMillis)
        let fed = fedThroughMillis(key)
        let newSteps = fed.map { max(0, min(Self.anomalyCatchUpSteps, ($0 < completedEnd ? (completedEnd - $0) / stepMillis : 0))) }
            ?? Self.anomalyCatchUpSteps
        // The steps to read, as one span ending with the last completed step; a ring that no
        // longer holds all of them gives the newest one only.
        let steps = max(1, newSteps)
        let main: PlannedSpan
        do {
            main = try engine.store.plan(.last(seconds: steps * settings.stepSeconds), atMillis: completedEnd - 1)
        } catch {
            main = try engine.store.plan(.last(seconds: settings.stepSeconds), atMillis: completedEnd - 1)
        }
        if newSteps > 0 { setFedThrough(key, completedEnd) }
        return RuleProbe(rule: rule, ruleKey: key, labelNames: labelNames, main: main, previous: nil, noData: nil,
                         rechecks: [:], cache: cache, anomalyStepMillis: newSteps > 0 ? stepMillis : nil)
    }

    /// Observations for an anomaly rule's alerts, and the detectors that learned, by owner.
    func observeAnomalies(_ probe: RuleProbe, _ settings: AnomalySettings, existing: [AlertKey: Alert])
        -> ([String: AlertObservation], [(owner: String, key: AlertKey, detector: AnomalyDetector)]) {
        let rule = probe.rule
        let known = detectors.detectors(rule: probe.ruleKey)
        var out: [String: AlertObservation] = [:]
        var learned: [(owner: String, key: AlertKey, detector: AnomalyDetector)] = []

        func observation(_ labels: [String: String], _ fingerprint: String, _ d: AnomalyDecision, owner: String) -> AlertObservation {
            var template = AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: Self.finite(d.observed),
                                                measure: Self.finite(d.impact), threshold: settings.minImpactAmount,
                                                window: DurationText.format(seconds: settings.stepSeconds))
            template.expected = Self.finite(d.expected)
            template.lower = Self.finite(d.lower)
            template.upper = Self.finite(d.upper)
            template.reason = d.reason?.rawValue
            return AlertObservation(labels: labels, fingerprint: fingerprint, value: Self.finite(d.observed), measure: Self.finite(d.impact),
                                    matches: d.isAnomalous, holds: d.isAnomalous, windowSum: 0, recheckedSum: nil, owner: owner,
                                    template: template)
        }

        guard let stepMillis = probe.anomalyStepMillis else {
            // No step completed since the last round: the alerts keep their detector's decision.
            for (key, alert) in existing {
                guard let entry = known[key], let d = entry.detector.last else { continue }
                out[key.fingerprint] = observation(alert.labels, key.fingerprint, d, owner: alert.owner)
            }
            return (out, learned)
        }
        let perStep = Int(stepMillis / probe.main.resolution.stepMillis)
        let steps = probe.main.buckets / max(1, perStep)
        let firstStart = probe.main.startMillis
        for group in probe.groups where group.series > 0 {
            let (labels, fingerprint) = group.alertIdentity(rule: rule, byNames: probe.byNames)
            let key = AlertKey(rule: probe.ruleKey, fingerprint: fingerprint)
            var entry = known[key] ?? DetectorTable.Entry(owner: group.owner,
                                                          detector: AnomalyDetector(stepSeconds: settings.stepSeconds, method: settings.method))
            let buckets = group.main.buckets ?? []
            var fedAny = false
            for i in 0..<steps {
                let start = firstStart + Int64(i) * stepMillis
                if let next = entry.detector.nextStepStart, start < next { continue }
                var x = 0.0
                for b in (i * perStep)..<min(buckets.count, (i + 1) * perStep) { x += buckets[b] }
                entry.detector.observe(x, stepStart: start, settings: settings)
                fedAny = true
            }
            if fedAny { learned.append((entry.owner, key, entry.detector)) }
            guard let d = entry.detector.last else { continue }
            let alert = existing[key]
            guard d.isAnomalous || alert != nil else { continue }
            out[fingerprint] = observation(labels, fingerprint, d, owner: alert?.owner ?? entry.owner)
        }
        return (out, learned)
    }

    private func fedThroughMillis(_ key: String) -> Int64? { fedThroughStore.withLock { $0[key] } }
    private func setFedThrough(_ key: String, _ end: Int64) { fedThroughStore.withLock { $0[key] = end } }
}
