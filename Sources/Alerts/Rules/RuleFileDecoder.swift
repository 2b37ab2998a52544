import Stream

/// One rule file's `groups:` into `RuleGroup`s, every problem recorded in the reader.
struct RuleFileDecoder {
    struct Decoded {
        var group: RuleGroup
        /// Where the group's `name:` is, for duplicates across files.
        var nameOrigin: ConfigOrigin
    }

    let store: StoreConfiguration
    let defaultIntervalSeconds: Int64
    let file: String
    let reader: ConfigReader

    /// The file's rule groups, and its notification settings (`receivers:`, `route:`,
    /// `inhibit_rules:`), which may stand beside `groups:` or in a file of their own.
    func decode(_ root: ConfigNode?) -> ([Decoded], NotificationConfigDecoder.Part) {
        let r = reader
        let none = NotificationConfigDecoder.Part()
        guard let root, case .mapping = root else {
            r.fail(root?.origin ?? .file(file, line: 1, column: 1), "a rule file needs groups: (a list of groups, each with name: and rules:) or notification settings (receivers:, route:, inhibit_rules:)")
            return ([], none)
        }
        guard let top = r.mapping(root, "", allowed: ["groups"] + NotificationConfigDecoder.topLevelKeys) else { return ([], none) }
        let notifications = NotificationConfigDecoder(reader: r).decode(top)
        let hasNotifications = NotificationConfigDecoder.topLevelKeys.contains { top[$0] != nil }
        guard let items = r.sequence(top["groups"], "groups") else {
            if top["groups"] != nil || (!hasNotifications && r.errors.isEmpty) {
                r.fail(top["groups"]?.origin ?? root.origin, "a rule file needs groups: (a list of groups, each with name: and rules:) or notification settings (receivers:, route:, inhibit_rules:)")
            }
            return ([], notifications)
        }
        if items.isEmpty { r.fail(top["groups"]!.origin, "groups: is empty: a rule file needs at least one group") }
        return (items.compactMap(group), notifications)
    }

    private func group(_ node: ConfigNode) -> Decoded? {
        let r = reader
        guard let m = r.mapping(node, "groups[]", allowed: ["name", "interval", "rules"]) else {
            if case .null = node { r.fail(node.origin, "an empty group: a group needs name: and rules:") }
            return nil
        }
        let name = r.string(m["name"], "name")
        if name == nil || name!.isEmpty { r.fail(m["name"]?.origin ?? node.origin, "a group needs a name") }
        var interval = defaultIntervalSeconds
        if let v = r.duration(m["interval"], "interval", max: 86_400) {
            if v < 1 { r.fail(m["interval"]!.origin, "interval must be at least 1s") } else { interval = v }
        }
        var rules: [Rule] = []
        var alertOrigins: [String: String] = [:]
        if let items = r.sequence(m["rules"], "rules") {
            if items.isEmpty { r.fail(m["rules"]!.origin, "rules: is empty: a group needs at least one rule") }
            for item in items {
                // Duplicates are found from the raw `alert:` so that a rule with other mistakes
                // still reports them too.
                if let (alert, origin) = alertName(item) {
                    if let first = alertOrigins[alert] {
                        r.fail(origin, "duplicate alert name \"\(alert)\" in group \"\(name ?? "")\" (first at \(first))")
                    } else {
                        alertOrigins[alert] = origin.description
                    }
                }
                if let rule = RuleDecoder(store: store, reader: r).decode(item) { rules.append(rule) }
            }
        } else if m["rules"] == nil {
            r.fail(node.origin, "group \"\(name ?? "")\" needs rules: (a list of rules)")
        }
        guard let name, !name.isEmpty else { return nil }
        return Decoded(group: RuleGroup(name: name, intervalSeconds: interval, rules: rules, file: file),
                       nameOrigin: m["name"]!.origin)
    }

    private func alertName(_ node: ConfigNode) -> (String, ConfigOrigin)? {
        guard case .mapping(let pairs, _) = node, let alert = pairs.first(where: { $0.key == "alert" }),
              case .scalar(let name, _) = alert.value else { return nil }
        return (name, alert.keyOrigin)
    }
}
