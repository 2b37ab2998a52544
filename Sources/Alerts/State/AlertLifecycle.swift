/// The life cycle of one alert, as Prometheus has it — inactive → pending (`for:`) → firing →
/// resolved, with `keep_firing_for:` — plus hysteresis (a firing alert is held by the rule's
/// resolve threshold, not its firing threshold) and amendment: when the window a firing alert
/// was last evaluated on has changed since (late or restated data), the alert is *amended* —
/// same alert, new value and annotations — rather than resolved and fired again.
///
/// A pure function of (alert, observation, time): the evaluator applies it under the owning
/// partition's lock, and `rules test` and backtest run exactly the same steps.
public enum AlertLifecycle {
    /// A late change smaller than both of these (absolute, and relative to the window's sum) is
    /// not worth a notification: stragglers of a busy stream move a window by fractions of a percent.
    static let amendAbsolute = 0.01
    static let amendRelative = 0.05

    /// - Parameters:
    ///   - observation: nil when the evaluation saw no series for the alert's group.
    ///   - render: the annotations for an alert in its new state (templates are checked at load).
    public static func step(_ alert: Alert?, _ observation: AlertObservation?, rule: Rule, ruleKey: String, at: Int64,
                            render: (AlertTemplateContext) -> [String: String]) -> (Alert?, [AlertTransition]) {
        func transition(_ a: Alert, _ state: AlertTransition.State) -> AlertTransition {
            AlertTransition(at: at, state: state, rule: ruleKey, fingerprint: a.fingerprint, labels: a.labels,
                            annotations: a.annotations, value: a.value, measure: a.measure, activeAt: a.activeAt,
                            firedAt: a.firedAt, owner: a.owner)
        }
        guard var a = alert else {
            guard let o = observation, o.matches else { return (nil, []) }
            var new = Alert(rule: ruleKey, fingerprint: o.fingerprint, labels: o.labels, state: .pending, activeAt: at,
                            firedAt: nil, lastHeldAt: at, value: o.value, measure: o.measure,
                            annotations: render(o.template), owner: o.owner, checkedAt: at, checkedSum: o.windowSum)
            var out = [transition(new, .pending)]
            if rule.forSeconds == 0 {
                new.state = .firing
                new.firedAt = at
                out.append(transition(new, .firing))
            }
            return (new, out)
        }
        let previousCheck = (at: a.checkedAt, sum: a.checkedSum)
        if let o = observation {
            a.value = o.value
            a.measure = o.measure
            a.checkedAt = at
            a.checkedSum = o.windowSum
        }
        switch a.state {
        case .pending:
            guard let o = observation, o.matches else { return (nil, []) }
            guard at - a.activeAt >= rule.forSeconds * 1000 else { return (a, []) }
            a.state = .firing
            a.firedAt = at
            a.lastHeldAt = at
            a.annotations = render(o.template)
            return (a, [transition(a, .firing)])
        case .firing:
            if let o = observation, o.holds {
                a.lastHeldAt = at
                if let rechecked = o.recheckedSum, previousCheck.at < at,
                   (rechecked - previousCheck.sum).magnitude >= max(amendAbsolute, amendRelative * previousCheck.sum.magnitude) {
                    a.annotations = render(o.template)
                    return (a, [transition(a, .amended)])
                }
                return (a, [])
            }
            if at - a.lastHeldAt < rule.keepFiringForSeconds * 1000 { return (a, []) }
            if let o = observation { a.annotations = render(o.template) }
            return (nil, [transition(a, .resolved)])
        }
    }
}
