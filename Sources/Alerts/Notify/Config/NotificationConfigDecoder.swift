import Foundation
import Stream

/// The notification keys of one rule file (`receivers:`, `route:`, `inhibit_rules:`), every
/// problem recorded in the reader. Names that refer across files (a route's receiver) are
/// checked by `NotificationConfigDecoder.merge` once every file is read.
struct NotificationConfigDecoder {
    static let topLevelKeys = ["receivers", "route", "inhibit_rules"]

    struct Part {
        var receivers: [(Receiver, ConfigOrigin)] = []
        var route: (Route, ConfigOrigin)?
        var receiverReferences: [(String, ConfigOrigin)] = []
        var inhibitRules: [InhibitRule] = []
    }

    let reader: ConfigReader
    /// Where secrets named by `*_env` are looked up.
    var environment: [String: String] = ProcessInfo.processInfo.environment

    func decode(_ top: [String: ConfigNode]) -> Part {
        var part = Part()
        if let items = reader.sequence(top["receivers"], "receivers") {
            part.receivers = items.compactMap(receiver)
        }
        if let node = top["route"] {
            if let route = route(node, parent: nil, id: "0", into: &part) { part.route = (route, node.origin) }
        }
        if let items = reader.sequence(top["inhibit_rules"], "inhibit_rules") {
            part.inhibitRules = items.compactMap(inhibitRule)
        }
        return part
    }

    // MARK: receivers

    private static let receiverSettings = ["url", "url_file", "url_env", "secret", "secret_file", "secret_env",
                                           "timeout", "max_age", "initial_backoff", "max_backoff", "send_resolved", "max_alerts"]

    private func receiver(_ node: ConfigNode) -> (Receiver, ConfigOrigin)? {
        let r = reader
        let kinds = Receiver.Kind.allCases.map(\.rawValue)
        guard let m = r.mapping(node, "receivers[]", allowed: ["name"] + kinds) else {
            r.fail(node.origin, "a receiver needs name: and one of \(kinds.joined(separator: ", ")):")
            return nil
        }
        let name = r.string(m["name"], "name")
        if m["name"] == nil || name?.isEmpty == true { r.fail(m["name"]?.origin ?? node.origin, "a receiver needs a name") }
        let given = kinds.filter { m[$0] != nil }
        guard given.count == 1, let kind = Receiver.Kind(rawValue: given[0]) else {
            r.fail(node.origin, "receiver \"\(name ?? "")\" needs exactly one of \(kinds.joined(separator: ": or ")): (got \(given.isEmpty ? "none" : given.joined(separator: ", ")))")
            return nil
        }
        let path = "receivers.\(name ?? "?").\(kind.rawValue)"
        guard let s = r.mapping(m[kind.rawValue], path, allowed: Self.receiverSettings) else {
            r.fail(m[kind.rawValue]!.origin, "\(path) needs url: (or url_file: / url_env:)")
            return nil
        }
        let url = secret(s, "url", path: path, required: true, at: m[kind.rawValue]!.origin)
        if let url, !(url.value.hasPrefix("http://") || url.value.hasPrefix("https://")) {
            // The URL itself is never printed: Slack's carries its token.
            r.fail(s["url"]?.origin ?? s["url_file"]?.origin ?? s["url_env"]!.origin, "\(path): the url \(url) must start with http:// or https://")
        }
        let signing = secret(s, "secret", path: path, required: false, at: m[kind.rawValue]!.origin)
        guard let name, !name.isEmpty, let url else { return nil }
        var receiver = Receiver(name: name, kind: kind, url: url)
        receiver.signingSecret = signing
        if let v = millis(s["timeout"], "\(path).timeout", min: 1, max: 600) { receiver.timeoutMillis = v }
        if let v = millis(s["max_age"], "\(path).max_age", min: 1, max: 30 * 86_400) { receiver.maxAgeMillis = v }
        if let v = millis(s["initial_backoff"], "\(path).initial_backoff", min: 1, max: 3_600) { receiver.initialBackoffMillis = v }
        if let v = millis(s["max_backoff"], "\(path).max_backoff", min: 1, max: 86_400) { receiver.maxBackoffMillis = v }
        if receiver.maxBackoffMillis < receiver.initialBackoffMillis {
            r.fail(s["max_backoff"]?.origin ?? s["initial_backoff"]!.origin, "\(path): max_backoff must be at least initial_backoff")
        }
        if let v = r.bool(s["send_resolved"], "\(path).send_resolved") { receiver.sendResolved = v }
        if let v = r.int(s["max_alerts"], "\(path).max_alerts", min: 0) {
            if v > 10_000 { r.fail(s["max_alerts"]!.origin, "\(path).max_alerts must be at most 10000 (0 is no limit)") } else { receiver.maxAlerts = v }
        }
        return (receiver, m["name"]!.origin)
    }

    /// `key:`, `key_file:` or `key_env:`: exactly one when required, at most one otherwise.
    private func secret(_ m: [String: ConfigNode], _ key: String, path: String, required: Bool, at owner: ConfigOrigin) -> Secret? {
        let r = reader
        let forms = [key, "\(key)_file", "\(key)_env"]
        let given = forms.filter { m[$0] != nil }
        if given.count > 1 {
            r.fail(m[given[1]]!.origin, "\(path): give one of \(forms.joined(separator: ", ")), not several")
            return nil
        }
        guard let form = given.first else {
            if required { r.fail(owner, "\(path) needs \(forms.joined(separator: ", or ")):") }
            return nil
        }
        guard let text = r.string(m[form], "\(path).\(form)"), !text.isEmpty else {
            r.fail(m[form]!.origin, "\(path).\(form) is empty")
            return nil
        }
        let origin = m[form]!.origin
        switch form {
        case key:
            return Secret(value: text, source: .inline)
        case "\(key)_file":
            guard let data = FileManager.default.contents(atPath: text) else {
                r.fail(origin, "\(path).\(form): cannot read \(text) (does it exist, and may this user read it?)")
                return nil
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                r.fail(origin, "\(path).\(form): \(text) is empty")
                return nil
            }
            return Secret(value: value, source: .file(text))
        default:
            guard let value = environment[text], !value.isEmpty else {
                r.fail(origin, "\(path).\(form): the environment variable \(text) is not set (or empty)")
                return nil
            }
            return Secret(value: value, source: .environment(text))
        }
    }

    private func millis(_ node: ConfigNode?, _ path: String, min: Int64, max: Int64) -> Int64? {
        guard let v = reader.duration(node, path, max: max) else { return nil }
        guard v >= min else {
            reader.fail(node!.origin, "\(path) must be at least \(DurationText.format(seconds: min))")
            return nil
        }
        return v * 1000
    }

    // MARK: routes

    private static let routeKeys = ["receiver", "matchers", "continue", "group_by", "group_wait", "group_interval",
                                    "repeat_interval", "fallback", "routes"]

    private func route(_ node: ConfigNode, parent: Route?, id: String, into part: inout Part) -> Route? {
        let r = reader
        let path = parent == nil ? "route" : "route \(id)"
        guard let m = r.mapping(node, path, allowed: Self.routeKeys) else {
            r.fail(node.origin, "\(path) must be a mapping with receiver: (and optionally matchers:, group_by:, routes:, …)")
            return nil
        }
        if parent == nil {
            for key in ["matchers", "continue"] where m[key] != nil {
                r.fail(m[key]!.origin, "the root route takes every alert: \(key): belongs on a child route under routes:")
            }
            if m["receiver"] == nil { r.fail(node.origin, "the root route needs receiver: (where alerts no child route takes go)") }
        }
        var route = parent ?? Route(receiver: "")
        route.id = id
        route.routes = []
        route.continueMatching = false
        route.matchers = .all
        if let name = r.string(m["receiver"], "\(path).receiver") {
            route.receiver = name
            part.receiverReferences.append((name, m["receiver"]!.origin))
        }
        if let name = r.string(m["fallback"], "\(path).fallback") {
            route.fallback = name
            part.receiverReferences.append((name, m["fallback"]!.origin))
        }
        if let items = r.sequence(m["matchers"], "\(path).matchers") {
            var texts: [String] = []
            for item in items { if let t = r.string(item, "\(path).matchers[]") { texts.append(t) } }
            do { route.matchers = try AlertMatchers(parsing: texts) } catch {
                r.fail(m["matchers"]!.origin, "\(path).matchers: \(error.message) at column \(error.column) of \(error.text)")
            }
        } else if let text = r.string(m["matchers"], "\(path).matchers") {
            r.fail(m["matchers"]!.origin, "\(path).matchers must be a list of selectors, e.g. [\(text)]")
        }
        if let v = r.bool(m["continue"], "\(path).continue") { route.continueMatching = v }
        if let items = r.sequence(m["group_by"], "\(path).group_by") {
            let names = items.compactMap { r.string($0, "\(path).group_by[]") }
            if names.contains("...") {
                if names.count > 1 { r.fail(m["group_by"]!.origin, "\(path).group_by: '...' (every label) stands alone") }
                route.grouping = .everyAlert
            } else {
                route.grouping = .labels(names)
            }
        }
        if let v = millis(m["group_wait"], "\(path).group_wait", min: 0, max: 86_400) { route.groupWaitMillis = v }
        if let v = millis(m["group_interval"], "\(path).group_interval", min: 1, max: 86_400) { route.groupIntervalMillis = v }
        if let v = millis(m["repeat_interval"], "\(path).repeat_interval", min: 1, max: 30 * 86_400) { route.repeatIntervalMillis = v }
        if let items = r.sequence(m["routes"], "\(path).routes") {
            var children: [Route] = []
            for (i, item) in items.enumerated() {
                if let child = self.route(item, parent: route, id: "\(id).\(i)", into: &part) { children.append(child) }
            }
            route.routes = children
        }
        return route
    }

    // MARK: inhibition

    private func inhibitRule(_ node: ConfigNode) -> InhibitRule? {
        let r = reader
        guard let m = r.mapping(node, "inhibit_rules[]", allowed: ["source_matchers", "target_matchers", "equal"]) else {
            r.fail(node.origin, "an inhibit rule needs source_matchers: and target_matchers:")
            return nil
        }
        func matchers(_ key: String) -> AlertMatchers? {
            guard let items = r.sequence(m[key], "inhibit_rules[].\(key)"), !items.isEmpty else {
                r.fail(m[key]?.origin ?? node.origin, "an inhibit rule needs \(key): (a non-empty list of selectors)")
                return nil
            }
            let texts = items.compactMap { r.string($0, "inhibit_rules[].\(key)[]") }
            do { return try AlertMatchers(parsing: texts) } catch {
                r.fail(m[key]!.origin, "\(key): \(error.message) at column \(error.column) of \(error.text)")
                return nil
            }
        }
        let source = matchers("source_matchers")
        let target = matchers("target_matchers")
        let equal = r.sequence(m["equal"], "inhibit_rules[].equal")?.compactMap { r.string($0, "inhibit_rules[].equal[]") } ?? []
        guard let source, let target else { return nil }
        return InhibitRule(source: source, target: target, equal: equal)
    }

    // MARK: across files

    /// Receivers from every file, the one route, every inhibit rule; names are unique and every
    /// route and fallback names a receiver that exists.
    static func merge(_ parts: [Part]) -> (NotificationConfig, [ConfigError]) {
        var errors: [ConfigError] = []
        var receivers: [String: Receiver] = [:]
        var firstAt: [String: ConfigOrigin] = [:]
        for part in parts {
            for (receiver, origin) in part.receivers {
                if let first = firstAt[receiver.name] {
                    errors.append(ConfigError(origin: origin, message: "duplicate receiver name \"\(receiver.name)\" (first at \(first)): receiver names are unique across all rule files"))
                } else {
                    firstAt[receiver.name] = origin
                    receivers[receiver.name] = receiver
                }
            }
        }
        let routes = parts.compactMap(\.route)
        if routes.count > 1 {
            errors.append(ConfigError(origin: routes[1].1, message: "a second route: (the first is at \(routes[0].1)): one rule file defines the routing tree"))
        }
        for part in parts {
            for (name, origin) in part.receiverReferences where receivers[name] == nil {
                let hint = Suggestion.closest(to: name, in: Array(receivers.keys)).map { " (did you mean \"\($0)\"?)" } ?? ""
                errors.append(ConfigError(origin: origin, message: "no receiver is named \"\(name)\"\(hint); receivers: \(receivers.keys.sorted().joined(separator: ", "))"))
            }
        }
        return (NotificationConfig(receivers: receivers, route: routes.first?.0, inhibitRules: parts.flatMap(\.inhibitRules)), errors)
    }
}
