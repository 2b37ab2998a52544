import Foundation
import Stream

/// One rule mapping into a `Rule`, or nil with every problem recorded in the reader
/// (README: Rules lists the keys).
struct RuleDecoder {
    let store: StoreConfiguration
    let reader: ConfigReader

    private static let common = ["alert", "kind", "match", "by", "above", "below", "resolve_below", "resolve_above",
                                 "for", "keep_firing_for", "no_data", "severity", "labels", "annotations"]
    private static let kindKeys: [String: [String]] = [
        "threshold": ["window", "aggregate"],
        "change": ["window", "aggregate", "offset", "min_change"],
        "budget": ["amount", "basis"],
        "anomaly": ["resolution", "sensitivity", "min_impact", "detector"],
    ]
    /// Labels the evaluator sets on every alert; `labels:` cannot override them.
    static let reservedLabels = ["alertname", "severity", "no_data", "basis"]
    /// Largest threshold, amount or minimum change: far beyond any bill, and small enough that
    /// sums and differences stay exact to the cent.
    static let maxAmount = 1e15
    static let maxPercent = 1_000_000.0

    func decode(_ node: ConfigNode) -> Rule? {
        let r = reader
        let before = r.errors.count
        let allKeys = Self.common + ["window", "aggregate", "offset", "min_change", "amount", "basis", "resolution", "sensitivity",
                                                 "min_impact", "detector"]
        guard let m = r.mapping(node, "", allowed: allKeys) else {
            if case .null = node { r.fail(node.origin, "an empty rule: a rule needs alert: and kind:") }
            return nil
        }
        let keyOrigin = Self.keyOrigins(node)
        let origin = keyOrigin["alert"] ?? node.origin

        let name = r.string(m["alert"], "alert")
        if m["alert"] == nil {
            r.fail(node.origin, "a rule needs alert: (its name)")
        } else if let name, name.isEmpty || name.contains(where: { $0.isWhitespace || $0.isNewline }) {
            r.fail(m["alert"]!.origin, "alert: the name must be non-empty without spaces, got \"\(name)\"")
        }

        // The kind decides which other keys apply and how the thresholds read.
        var kindName: String?
        if let text = r.string(m["kind"], "kind") {
            if Self.kindKeys[text] == nil {
                r.fail(m["kind"]!.origin, "kind must be threshold, change, budget or anomaly, got \"\(text)\"")
            } else {
                kindName = text
            }
        } else if m["kind"] == nil {
            r.fail(origin, "rule \"\(name ?? "")\" needs kind: threshold, change, budget or anomaly")
        }
        guard let kindName else { return nil }
        let comparisonKeys: Set<String> = ["above", "below", "resolve_below", "resolve_above"]
        let notAllowed: Set<String> = switch kindName {
        case "budget": ["below", "resolve_above"]
        case "anomaly": comparisonKeys
        default: []
        }
        let allowed = Set(Self.common + Self.kindKeys[kindName]!).subtracting(notAllowed)
        for key in m.keys.sorted() where !allowed.contains(key) {
            let why = kindName == "budget" && (key == "below" || key == "resolve_above")
                ? "budget rules alert above a percentage of the amount"
                : kindName == "anomaly" && comparisonKeys.contains(key)
                ? "the detector decides (sensitivity:) and min_impact: says how much excess may alert"
                : "it applies to \(Self.kinds(using: key)) rules"
            r.fail(keyOrigin[key] ?? node.origin, "\(key) does not apply to \(kindName) rules: \(why)")
        }
        let percent = kindName != "threshold"

        var rule = Rule(name: name ?? "", threshold: 0, origin: origin.description)
        rule.severity = r.oneOf(m["severity"], "severity", ["info", "warning", "critical"]) ?? "warning"
        decodeMatch(m["match"], into: &rule)
        rule.by = decodeBy(m["by"])
        if let v = r.oneOf(m["aggregate"], "aggregate", WindowQuery.Aggregation.allCases.map(\.rawValue)) {
            rule.aggregation = WindowQuery.Aggregation(rawValue: v)!
        }
        rule.forSeconds = r.duration(m["for"], "for") ?? 0
        rule.keepFiringForSeconds = r.duration(m["keep_firing_for"], "keep_firing_for") ?? 0

        // The comparison: exactly one of above:/below:, and the matching resolve_ key.
        let above = number(m["above"], "above", percent: percent, kind: kindName)
        let below = allowed.contains("below") ? number(m["below"], "below", percent: percent, kind: kindName) : nil
        let hasBelow = m["below"] != nil && allowed.contains("below")
        if m["above"] != nil && hasBelow {
            r.fail(keyOrigin["below"]!, "give one of above: or below:, not both")
        } else if m["above"] == nil && !hasBelow && kindName != "budget" && kindName != "anomaly" {
            r.fail(origin, "rule \"\(rule.name)\" needs above: or below: (the threshold)")
        }
        rule.comparison = hasBelow && m["above"] == nil ? .below : .above
        rule.threshold = (rule.comparison == .above ? above : below) ?? (kindName == "budget" ? 100 : 0)
        let resolveBelow = number(m["resolve_below"], "resolve_below", percent: percent, kind: kindName)
        let resolveAbove = allowed.contains("resolve_above") ? number(m["resolve_above"], "resolve_above", percent: percent, kind: kindName) : nil
        if m["resolve_below"] != nil && rule.comparison == .below {
            r.fail(keyOrigin["resolve_below"]!, "resolve_below goes with above: (with below:, use resolve_above)")
        } else if let resolveBelow, resolveBelow >= rule.threshold, above != nil || kindName == "budget" {
            r.fail(m["resolve_below"]!.origin, "resolve_below must be below the threshold (\(TemplateFormat.plain(rule.threshold))) so a firing alert resolves only once clearly under it")
        } else if let resolveBelow {
            rule.resolveThreshold = resolveBelow
        }
        if m["resolve_above"] != nil && allowed.contains("resolve_above") && rule.comparison == .above {
            r.fail(keyOrigin["resolve_above"]!, "resolve_above goes with below: (with above:, use resolve_below)")
        } else if let resolveAbove, resolveAbove <= rule.threshold, below != nil {
            r.fail(m["resolve_above"]!.origin, "resolve_above must be above the threshold (\(TemplateFormat.plain(rule.threshold))) so a firing alert resolves only once clearly over it")
        } else if let resolveAbove {
            rule.resolveThreshold = resolveAbove
        }

        // The kind's own keys, and what the store must hold for it.
        switch kindName {
        case "anomaly":
            rule.aggregation = .sum
            rule.kind = .anomaly(decodeAnomaly(m, origin: origin, keyOrigin: keyOrigin, rule: &rule))
        case "budget":
            rule.windowSeconds = 0
            rule.aggregation = .sum
            let amount = number(m["amount"], "amount", percent: false, kind: kindName, positive: true)
            if m["amount"] == nil { r.fail(origin, "budget rule \"\(rule.name)\" needs amount: (the monthly budget, > 0)") }
            let bases = decodeBases(m["basis"])
            if let problem = store.monthToDateProblem { r.fail(keyOrigin["kind"] ?? origin, problem) }
            rule.kind = .budget(amount: amount ?? 1, bases: bases)
        default:
            var offset: Int64 = 0
            var minChange = 0.0
            if kindName == "change" {
                if m["offset"] == nil { r.fail(origin, "change rule \"\(rule.name)\" needs offset: (how far back the compared window is, e.g. 7d)") }
                if let v = r.duration(m["offset"], "offset") {
                    if v < 1 { r.fail(m["offset"]!.origin, "offset must be at least 1s") } else { offset = v }
                }
                if m["min_change"] == nil { r.fail(origin, "change rule \"\(rule.name)\" needs min_change: (the smallest absolute change, in the group's currency, that may alert; 0 for any)") }
                if let v = number(m["min_change"], "min_change", percent: false, kind: kindName) {
                    if v < 0 { r.fail(m["min_change"]!.origin, "min_change must be ≥ 0 (an absolute amount), got \(TemplateFormat.plain(v))") } else { minChange = v }
                }
            }
            if m["window"] == nil { r.fail(origin, "\(kindName) rule \"\(rule.name)\" needs window: (e.g. 1h)") }
            if let window = r.duration(m["window"], "window") {
                rule.windowSeconds = window
                if let problem = store.spanProblem(window, offset: offset) {
                    let what = offset > 0 ? "window \(DurationText.format(seconds: window)) at offset \(DurationText.format(seconds: offset))" : "window \(DurationText.format(seconds: window))"
                    r.fail(m["window"]!.origin, "no resolution in store.resolutions holds the \(what): \(problem)")
                }
            }
            rule.kind = kindName == "change" ? .change(offsetSeconds: offset, minChange: minChange) : .threshold
        }
        if let v = r.duration(m["no_data"], "no_data") {
            if v < 1 {
                r.fail(m["no_data"]!.origin, "no_data must be at least 1s")
            } else if let problem = store.spanProblem(v) {
                r.fail(m["no_data"]!.origin, "no resolution in store.resolutions holds no_data \(DurationText.format(seconds: v)): \(problem)")
            } else {
                rule.noDataSeconds = v
            }
        }
        rule.labels = decodeLabels(m["labels"])
        // Templates last: the synthetic alert they render against is built from the rule (from
        // what of it is valid, so a rule with other mistakes still has its templates checked).
        rule.annotations = decodeAnnotations(m["annotations"], rule: rule)
        return r.errors.count == before ? rule : nil
    }

    // MARK: - Keys

    private func decodeMatch(_ node: ConfigNode?, into rule: inout Rule) {
        guard let text = reader.string(node, "match") else { return }
        do {
            rule.matchers = try SeriesSelector.parse(text)
            rule.matchText = text
        } catch {
            reader.fail(node!.origin, "match: \(error.message) at column \(error.column) of \(text)")
            return
        }
        for matcher in rule.matchers where !store.labelNames.contains(matcher.name) {
            reader.fail(node!.origin, "match: \"\(matcher.name)\" is not a store label\(Self.hint(matcher.name, store.labelNames)); the labels are \(store.labelNames.joined(separator: ", "))")
        }
    }

    private func decodeBy(_ node: ConfigNode?) -> [String] {
        guard let items = reader.sequence(node, "by") else { return [] }
        var by: [String] = []
        for item in items {
            guard let label = reader.string(item, "by[]") else { continue }
            if !store.labelNames.contains(label) {
                reader.fail(item.origin, "by: \"\(label)\" is not a store label\(Self.hint(label, store.labelNames)); the labels are \(store.labelNames.joined(separator: ", ")) (store.labels adds tag labels)")
            } else if by.contains(label) {
                reader.fail(item.origin, "by: \"\(label)\" is listed twice")
            } else {
                by.append(label)
            }
        }
        return by
    }

    /// `resolution`, `sensitivity`, `detector`, and `min_impact: {amount:, percent:}` (both
    /// required: an anomaly must matter in money and relative to what was expected).
    private func decodeAnomaly(_ m: [String: ConfigNode], origin: ConfigOrigin, keyOrigin: [String: ConfigOrigin],
                               rule: inout Rule) -> AnomalySettings {
        let r = reader
        var settings = AnomalySettings(minImpactAmount: 0, minImpactPercent: 0)
        if let step = r.duration(m["resolution"], "resolution") {
            if step < 10 || step > 86_400 || 86_400 % step != 0 || (step < 3600 && 3600 % step != 0) {
                r.fail(m["resolution"]!.origin, "resolution must be at least 10s and divide an hour (1m, 5m, 15m, 1h…) or a day (2h, 6h, 1d), got \(DurationText.format(seconds: step))")
            } else {
                settings.stepSeconds = step
            }
        }
        rule.windowSeconds = settings.stepSeconds
        if let problem = store.spanProblem(settings.stepSeconds) {
            r.fail(keyOrigin["resolution"] ?? keyOrigin["kind"] ?? origin, "no resolution in store.resolutions holds one \(DurationText.format(seconds: settings.stepSeconds)) step: \(problem)")
        }
        if let v = r.oneOf(m["sensitivity"], "sensitivity", AnomalySettings.Sensitivity.allCases.map(\.rawValue)) {
            settings.sensitivity = AnomalySettings.Sensitivity(rawValue: v)!
        }
        if let v = r.oneOf(m["detector"], "detector", AnomalySettings.Method.allCases.map(\.rawValue)) {
            settings.method = AnomalySettings.Method(rawValue: v)!
        }
        guard let node = m["min_impact"] else {
            r.fail(origin, "anomaly rule \"\(rule.name)\" needs min_impact: {amount: A, percent: P} (the excess, in the group's currency and in percent of what was expected, that an anomaly must reach before it alerts)")
            return settings
        }
        guard let impact = r.mapping(node, "min_impact", allowed: ["amount", "percent"]) else { return settings }
        if impact["amount"] == nil || impact["percent"] == nil {
            r.fail(node.origin, "min_impact needs both amount: and percent: (0 for either means no minimum)")
        }
        if let v = number(impact["amount"], "min_impact.amount", percent: false, kind: "anomaly") {
            if v < 0 { r.fail(impact["amount"]!.origin, "min_impact.amount must be ≥ 0, got \(TemplateFormat.plain(v))") } else { settings.minImpactAmount = v }
        }
        if let v = number(impact["percent"], "min_impact.percent", percent: true, kind: "anomaly") {
            if v < 0 || v > Self.maxPercent { r.fail(impact["percent"]!.origin, "min_impact.percent must be from 0% to 1000000%, got \(TemplateFormat.plain(v))") } else { settings.minImpactPercent = v }
        }
        return settings
    }

    private func decodeBases(_ node: ConfigNode?) -> [Rule.BudgetBasis] {
        guard let items = reader.sequence(node, "basis") else { return Rule.BudgetBasis.allCases }
        var bases: [Rule.BudgetBasis] = []
        for item in items {
            guard let text = reader.oneOf(item, "basis[]", Rule.BudgetBasis.allCases.map(\.rawValue)) else { continue }
            let basis = Rule.BudgetBasis(rawValue: text)!
            if bases.contains(basis) { reader.fail(item.origin, "basis: \"\(text)\" is listed twice") } else { bases.append(basis) }
        }
        if items.isEmpty { reader.fail(node!.origin, "basis: is empty: list actual, forecast or both (the default)") }
        return bases
    }

    private func decodeLabels(_ node: ConfigNode?) -> [String: String] {
        guard reader.mapping(node, "labels", allowed: nil) != nil, case .mapping(let pairs, _) = node! else { return [:] }
        var labels: [String: String] = [:]
        for (key, keyOrigin, value) in pairs where labels[key] == nil {
            guard let text = reader.string(value, "labels.\(key)") else {
                if case .null = value { reader.fail(value.origin, "labels.\(key) needs a value") }
                continue
            }
            if !Self.isLabelName(key) {
                reader.fail(keyOrigin, "labels: \"\(key)\" is not a label name (letters, digits and _, not starting with a digit)")
            } else if Self.reservedLabels.contains(key) {
                reader.fail(keyOrigin, "labels: \"\(key)\" is set by the evaluator on every alert and cannot be overridden")
            } else if store.labelNames.contains(key) {
                reader.fail(keyOrigin, "labels: \"\(key)\" is a store label: alerts take it from their series (use match: to select on it)")
            } else {
                labels[key] = text
            }
        }
        return labels
    }

    /// Compiles each template and renders it against a synthetic alert of `rule` (with and
    /// without no-data when the rule has a no_data: condition).
    private func decodeAnnotations(_ node: ConfigNode?, rule: Rule) -> [String: AnnotationTemplate] {
        guard reader.mapping(node, "annotations", allowed: nil) != nil, case .mapping(let pairs, _) = node! else { return [:] }
        var out: [String: AnnotationTemplate] = [:]
        for (key, keyOrigin, value) in pairs where out[key] == nil {
            if !Self.isLabelName(key) {
                reader.fail(keyOrigin, "annotations: \"\(key)\" is not a valid name (letters, digits and _, not starting with a digit)")
                continue
            }
            guard let source = reader.string(value, "annotations.\(key)") else { continue }
            let template: AnnotationTemplate
            do { template = try AnnotationTemplate(source) } catch {
                reader.fail(value.origin, "annotations.\(key): \(error)")
                continue
            }
            var problems = template.problems(rendering: .synthetic(for: rule))
            if rule.noDataSeconds != nil {
                problems += template.problems(rendering: .synthetic(for: rule, noData: true)).filter { !problems.contains($0) }
            }
            for problem in problems { reader.fail(value.origin, "annotations.\(key): \(problem)") }
            if problems.isEmpty { out[key] = template }
        }
        return out
    }

    // MARK: - Values

    /// A threshold-like number: an amount (finite, |x| ≤ 1e15) or, for change and budget rules,
    /// a percentage written `50%` or `50`.
    private func number(_ node: ConfigNode?, _ key: String, percent: Bool, kind: String, positive: Bool = false) -> Double? {
        guard let node, let raw = reader.string(node, key) else { return nil }
        var text = raw.trimmingCharacters(in: .whitespaces)
        let hasPercent = text.hasSuffix("%")
        if hasPercent { text = String(text.dropLast()).trimmingCharacters(in: .whitespaces) }
        let fail: (String) -> Double? = { message in
            reader.fail(node.origin, message)
            return nil
        }
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
            return fail("\(key) must be a number\(percent ? " or a percentage such as 50%" : ""), got \"\(raw)\"")
        }
        if hasPercent && !percent {
            return fail("\(key) is an amount in the series' currency here, not a percentage (\(kind == "threshold" ? "threshold rules compare amounts" : "write it without %")), got \"\(raw)\"")
        }
        if percent && ["above", "below", "resolve_below", "resolve_above"].contains(key) {
            let range = kind == "budget" ? "above 0% and at most 1000000%" : "from -100% to 1000000%"
            let ok = kind == "budget" ? value > 0 && value <= Self.maxPercent : value >= -100 && value <= Self.maxPercent
            return ok ? value : fail("\(key) must be a percentage \(range), got \"\(raw)\"")
        }
        if positive && value <= 0 { return fail("\(key) must be greater than 0, got \"\(raw)\"") }
        guard abs(value) <= Self.maxAmount else { return fail("\(key) must be at most 1e15 in magnitude, got \"\(raw)\"") }
        return value
    }

    private static func keyOrigins(_ node: ConfigNode) -> [String: ConfigOrigin] {
        guard case .mapping(let pairs, _) = node else { return [:] }
        var out: [String: ConfigOrigin] = [:]
        for pair in pairs where out[pair.key] == nil { out[pair.key] = pair.keyOrigin }
        return out
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    private static func kinds(using key: String) -> String {
        let kinds = ["threshold", "change", "budget", "anomaly"].filter { kindKeys[$0]!.contains(key) }
        return kinds.joined(separator: " and ")
    }

    private static func hint(_ name: String, _ candidates: [String]) -> String {
        Suggestion.closest(to: name, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
    }
}
