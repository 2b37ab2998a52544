import Mustache

/// What one render looked up and could not find. Mustache renders an unknown name as nothing,
/// silently; annotation templates must not (a typo would page someone with a blank summary), so
/// every value a template can reach is one of the wrappers below, and each records its misses
/// here. The template's parsed tokens are internal to swift-mustache, so recording lookups while
/// rendering is the one way to see every name; rendering twice (no-data off and on) covers both
/// branches of `{{#no_data}}` sections, the only branch a synthetic alert could leave unrendered.
final class TemplateLookups {
    /// Names no alert has, at the top level.
    var unknownVariables: [String] = []
    /// `labels.X` where the alert has no label X.
    var unknownLabels: [String] = []
    /// Variables this kind of rule never sets (`previous` outside change rules).
    var unsetVariables: [String] = []
    /// `helper(variable)` where the helper does not exist for that kind of value.
    var unknownHelpers: [(helper: String, variable: String, kind: TemplateValueKind)] = []
    /// `value.x`: a field of something that has none (numbers, text and flags have no fields).
    var unknownFields: [(owner: String, field: String)] = []
    /// The alert's label names, for "did you mean" and the list in messages.
    var knownLabels: [String] = []
}

enum TemplateValueKind: String {
    case number, text, flag, labels

    var helpers: [String] {
        switch self {
        case .number: ["money", "percent"]
        case .text: ["uppercased", "lowercased"]
        case .flag, .labels: []
        }
    }
}

/// The top of the template's context: the variables of `AlertTemplateContext`.
struct TemplateRootScope: MustacheParent, MustacheCustomRenderable {
    static let variables = ["alertname", "severity", "labels", "value", "measure", "threshold", "previous", "change",
                            "budget", "basis", "expected", "lower", "upper", "reason", "contributors", "window", "currency", "no_data"]

    let context: AlertTemplateContext
    let lookups: TemplateLookups

    func child(named name: String) -> Any? {
        let c = context
        switch name {
        case "alertname": return text(c.alertname, name)
        case "severity": return text(c.severity, name)
        case "labels": return TemplateLabelScope(labels: c.labels, lookups: lookups)
        case "value": return number(c.value, name)
        case "measure": return number(c.measure, name)
        case "threshold": return number(c.threshold, name)
        case "previous": return c.previous.map { number($0, name) } ?? unset(name)
        case "change": return c.change.map { number($0, name) } ?? unset(name)
        case "budget": return c.budget.map { number($0, name) } ?? unset(name)
        case "basis": return c.basis.map { text($0, name) } ?? unset(name)
        case "expected": return c.expected.map { number($0, name) } ?? unset(name)
        case "lower": return c.lower.map { number($0, name) } ?? unset(name)
        case "upper": return c.upper.map { number($0, name) } ?? unset(name)
        case "reason": return c.reason.map { text($0, name) } ?? unset(name)
        case "contributors": return c.contributors.map { text($0, name) } ?? unset(name)
        case "window": return text(c.window, name)
        case "currency": return text(c.currency, name)
        case "no_data": return TemplateFlag(value: c.noData, name: name, lookups: lookups)
        default:
            lookups.unknownVariables.append(name)
            return nil
        }
    }

    /// `{{.}}` (or `{{}}`) at the top: the whole context is not printable.
    var renderText: String {
        lookups.unknownVariables.append(".")
        return ""
    }
    var isNull: Bool { false }

    private func text(_ s: String, _ name: String) -> TemplateText { TemplateText(value: s, name: name, lookups: lookups) }
    private func number(_ x: Double, _ name: String) -> TemplateNumber {
        TemplateNumber(value: x, currency: context.currency, name: name, lookups: lookups)
    }
    private func unset(_ name: String) -> Any? {
        lookups.unsetVariables.append(name)
        return nil
    }
}

/// `labels.<name>`; `{{labels}}` prints them all as `{account="1", currency="USD"}`.
struct TemplateLabelScope: MustacheParent, MustacheCustomRenderable, MustacheTransformable {
    let labels: [String: String]
    let lookups: TemplateLookups

    func child(named name: String) -> Any? {
        guard let value = labels[name] else {
            lookups.unknownLabels.append(name)
            return nil
        }
        return TemplateText(value: value, name: "labels.\(name)", lookups: lookups)
    }

    var renderText: String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }
    var isNull: Bool { false }

    func transform(_ name: String) -> Any? {
        lookups.unknownHelpers.append((name, "labels", .labels))
        return nil
    }
}

/// A number: printed plain, or through `money(…)` / `percent(…)`.
struct TemplateNumber: MustacheParent, MustacheCustomRenderable, MustacheTransformable {
    let value: Double
    let currency: String
    let name: String
    let lookups: TemplateLookups

    // A parent with no children: inside `{{#value}}…{{/value}}` names fall through to the root
    // instead of reaching this struct's stored properties through Mirror.
    func child(named field: String) -> Any? { lookups.missingField(field, of: name) }
    var renderText: String { TemplateFormat.plain(value) }
    var isNull: Bool { false }

    func transform(_ helper: String) -> Any? {
        switch helper {
        case "money": return TemplateText(value: TemplateFormat.money(value, currency: currency), name: "\(helper)(\(name))", lookups: lookups)
        case "percent": return TemplateText(value: TemplateFormat.percent(value), name: "\(helper)(\(name))", lookups: lookups)
        default:
            lookups.unknownHelpers.append((helper, name, .number))
            return nil
        }
    }
}

struct TemplateText: MustacheParent, MustacheCustomRenderable, MustacheTransformable {
    let value: String
    let name: String
    let lookups: TemplateLookups

    func child(named field: String) -> Any? { lookups.missingField(field, of: name) }
    var renderText: String { value }
    var isNull: Bool { false }

    func transform(_ helper: String) -> Any? {
        switch helper {
        case "uppercased": return TemplateText(value: value.uppercased(), name: "\(helper)(\(name))", lookups: lookups)
        case "lowercased": return TemplateText(value: value.lowercased(), name: "\(helper)(\(name))", lookups: lookups)
        default:
            lookups.unknownHelpers.append((helper, name, .text))
            return nil
        }
    }
}

/// `no_data`: prints true/false; as a section, `{{#no_data}}…{{/no_data}}` renders only for
/// no-data alerts and `{{^no_data}}…{{/no_data}}` only for the others.
struct TemplateFlag: MustacheParent, MustacheCustomRenderable, MustacheTransformable {
    let value: Bool
    let name: String
    let lookups: TemplateLookups

    func child(named field: String) -> Any? { lookups.missingField(field, of: name) }
    var renderText: String { value ? "true" : "false" }
    /// Mustache treats a null object as false in sections.
    var isNull: Bool { !value }

    func transform(_ helper: String) -> Any? {
        lookups.unknownHelpers.append((helper, name, .flag))
        return nil
    }
}

extension TemplateLookups {
    func missingField(_ field: String, of owner: String) -> Any? {
        unknownFields.append((owner, field))
        return nil
    }
}
