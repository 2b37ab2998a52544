import Stream

extension AlertTemplateContext {
    /// An alert of `rule` with every field its kind sets, for checking templates at load: the
    /// labels are the rule's `labels:`, each `by:` label, `currency` and (budget) `basis`, with
    /// placeholder values; `noData` renders the `{{#no_data}}` branch.
    public static func synthetic(for rule: Rule, noData: Bool = false) -> AlertTemplateContext {
        var labels = rule.labels
        for name in rule.by { labels[name] = "example-\(name)" }
        labels["currency"] = "USD"
        if noData { labels["no_data"] = "true" }
        let window = rule.windowSeconds > 0 ? DurationText.format(seconds: rule.windowSeconds) : "month-to-date"
        switch rule.kind {
        case .threshold:
            return AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: 1234.56,
                                        measure: 1234.56, threshold: rule.threshold, window: window, noData: noData)
        case .change:
            return AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: 1234.56,
                                        measure: 52.3, threshold: rule.threshold, previous: 810.67, change: 423.89,
                                        window: window, noData: noData)
        case .anomaly(let settings):
            var c = AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: 412.5,
                                         measure: 318.2, threshold: settings.minImpactAmount, window: window, noData: noData)
            c.expected = 94.3
            c.lower = 61.0
            c.upper = 127.6
            c.reason = AnomalyDecision.Reason.spike.rawValue
            c.contributors = "i-0abc123 $301.20, i-0def456 $88.10"
            return c
        case .budget(let amount, let bases):
            let basis = bases.first?.rawValue ?? Rule.BudgetBasis.actual.rawValue
            labels["basis"] = basis
            return AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: amount * 0.831,
                                        measure: 83.1, threshold: rule.threshold, budget: amount, basis: basis,
                                        window: "month-to-date", noData: noData)
        }
    }
}
