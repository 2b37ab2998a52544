import Stream

/// `cost_explorer:` (README: Cost Explorer). Off unless `enabled: true`.
enum CostExplorerSettings {
    static let keys = ["enabled", "endpoint", "region", "profile", "granularity", "group_by", "metric", "interval",
                       "lookback", "settle", "budget_per_day", "request_timeout", "retry_initial", "retry_max", "attempts_per_page",
                       "aws_anomalies", "aws_anomalies_interval"]

    static func decode(_ node: ConfigNode?, _ r: ConfigReader, store: StoreConfiguration) -> CostExplorerConfiguration? {
        guard let m = r.mapping(node, "cost_explorer", allowed: keys) else { return nil }
        // Every key is checked even while disabled: a mistake shows before the day it is enabled.
        let enabled = r.bool(m["enabled"], "cost_explorer.enabled") == true
        var c = CostExplorerConfiguration()
        if let v = r.string(m["endpoint"], "cost_explorer.endpoint") {
            let endpoint = String(v.reversed().drop(while: { $0 == "/" }).reversed())
            if let problem = AWSJSONClient.check(endpoint: endpoint, region: c.region, service: "ce") {
                r.fail(m["endpoint"]!.origin, "cost_explorer.endpoint: \(problem)")
            } else {
                c.endpoint = endpoint
            }
        }
        if let v = r.string(m["region"], "cost_explorer.region") {
            if let problem = AWSJSONClient.check(endpoint: c.endpoint, region: v, service: "ce") {
                r.fail(m["region"]!.origin, "cost_explorer.region: \(problem)")
            } else {
                c.region = v
            }
        }
        if let v = r.string(m["profile"], "cost_explorer.profile"), !v.isEmpty { c.profile = v }
        if let v = r.oneOf(m["granularity"], "cost_explorer.granularity", CostExplorerConfiguration.Granularity.allCases.map(\.rawValue)) {
            c.granularity = CostExplorerConfiguration.Granularity(rawValue: v)!
        }
        if let v = r.oneOf(m["metric"], "cost_explorer.metric", CostExplorerConfiguration.metrics) { c.metric = v }
        if let items = r.sequence(m["group_by"], "cost_explorer.group_by") {
            var groups: [CostExplorerConfiguration.Grouping] = []
            for item in items {
                guard let text = r.string(item, "cost_explorer.group_by[]") else { continue }
                let grouping: CostExplorerConfiguration.Grouping
                if text.hasPrefix("TAG:") {
                    let tag = String(text.dropFirst(4))
                    grouping = .init(type: "TAG", key: tag, label: tag)
                } else if let label = CostExplorerConfiguration.dimensionLabels[text] {
                    grouping = .init(type: "DIMENSION", key: text, label: label)
                } else {
                    r.fail(item.origin, "cost_explorer.group_by: \"\(text)\" is not one of \(CostExplorerConfiguration.dimensionLabels.keys.sorted().joined(separator: ", ")) or TAG:<a tag in store.labels>")
                    continue
                }
                guard store.inputLabelNames.contains(grouping.label), grouping.label != "currency" else {
                    r.fail(item.origin, "cost_explorer.group_by: \(text) becomes label \"\(grouping.label)\", which is not in store.labels (\(store.inputLabelNames.joined(separator: ", ")))")
                    continue
                }
                groups.append(grouping)
            }
            // Cost Explorer takes at most two GroupBy entries.
            if groups.count > 2 { r.fail(m["group_by"]!.origin, "cost_explorer.group_by: Cost Explorer groups by at most 2 keys, got \(groups.count)") }
            if Set(groups.map(\.label)).count != groups.count { r.fail(m["group_by"]!.origin, "cost_explorer.group_by: two keys become the same label") }
            c.groupBy = groups
        }
        let retention = store.longestRetentionSeconds
        if let v = r.duration(m["interval"], "cost_explorer.interval", max: 7 * 86_400) {
            if v < 1 { r.fail(m["interval"]!.origin, "cost_explorer.interval must be at least 1s") } else { c.intervalSeconds = v }
        }
        if let v = r.duration(m["lookback"], "cost_explorer.lookback", max: 400 * 86_400) { c.lookbackSeconds = v }
        if let v = r.duration(m["settle"], "cost_explorer.settle", max: 400 * 86_400) { c.settleSeconds = v }
        if c.lookbackSeconds < c.granularity.stepMillis / 1000 || c.lookbackSeconds > retention {
            r.fail(m["lookback"]?.origin ?? m["granularity"]?.origin ?? .defaults, "cost_explorer.lookback must be between one \(c.granularity.rawValue.lowercased()) period and the store's longest retention (\(DurationText.format(seconds: retention))), got \(DurationText.format(seconds: c.lookbackSeconds))")
        }
        if c.granularity == .hourly && c.lookbackSeconds > 14 * 86_400 {
            r.fail(m["lookback"]?.origin ?? .defaults, "cost_explorer.lookback: Cost Explorer keeps HOURLY data for 14 days only")
        }
        if let node = m["budget_per_day"] {
            let text: String? = if case .scalar(let s, _) = node { s } else { nil }
            if let text, let usd = Double(text), usd.isFinite, usd >= 0.01, usd <= 10_000 {
                c.requestsPerDay = Int((usd / CostExplorerConfiguration.usdPerRequest).rounded(.down))
            } else {
                r.fail(node.origin, "cost_explorer.budget_per_day is USD per UTC day, from 0.01 (one request) to 10000, got \(text.map { "\"\($0)\"" } ?? "a non-number")")
            }
        }
        if let v = r.duration(m["request_timeout"], "cost_explorer.request_timeout", max: 600) {
            if v < 1 { r.fail(m["request_timeout"]!.origin, "cost_explorer.request_timeout must be at least 1s") } else { c.requestTimeoutSeconds = v }
        }
        if let v = r.duration(m["retry_initial"], "cost_explorer.retry_initial", max: 3600) {
            if v < 1 { r.fail(m["retry_initial"]!.origin, "cost_explorer.retry_initial must be at least 1s") } else { c.retryInitialMillis = v * 1000 }
        }
        if let v = r.duration(m["retry_max"], "cost_explorer.retry_max", max: 86_400) {
            if v < 1 { r.fail(m["retry_max"]!.origin, "cost_explorer.retry_max must be at least 1s") } else { c.retryMaxMillis = v * 1000 }
        }
        if let v = r.int(m["attempts_per_page"], "cost_explorer.attempts_per_page", min: 1) {
            if v > 100 { r.fail(m["attempts_per_page"]!.origin, "cost_explorer.attempts_per_page must be at most 100") } else { c.attemptsPerPage = v }
        }
        if r.bool(m["aws_anomalies"], "cost_explorer.aws_anomalies") == true {
            c.awsAnomaliesIntervalSeconds = 6 * 3600
            if let v = r.duration(m["aws_anomalies_interval"], "cost_explorer.aws_anomalies_interval", max: 7 * 86_400) {
                if v < 1 { r.fail(m["aws_anomalies_interval"]!.origin, "cost_explorer.aws_anomalies_interval must be at least 1s") } else { c.awsAnomaliesIntervalSeconds = v }
            }
        } else if m["aws_anomalies_interval"] != nil {
            _ = r.duration(m["aws_anomalies_interval"], "cost_explorer.aws_anomalies_interval", max: 7 * 86_400)
        }
        return enabled ? c : nil
    }
}
