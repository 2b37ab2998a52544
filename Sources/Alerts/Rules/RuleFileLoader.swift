import Stream

/// Reads rule files into validated `RuleGroup`s (README: Rules): every problem in every file is
/// reported at once as `file:line:column: message`, through the same reader as the config, and
/// nothing is returned unless all files are valid (a reload is all or nothing).
public struct RuleFileLoader: Sendable {
    /// The labels `by:`, `match:` and `labels:` are checked against, and the resolutions that
    /// must hold each rule's window.
    public var store: StoreConfiguration
    /// A group's interval when it names none (`rules.evaluation_interval`).
    public var defaultIntervalSeconds: Int64

    public init(store: StoreConfiguration, defaultIntervalSeconds: Int64 = 60) {
        self.store = store
        self.defaultIntervalSeconds = defaultIntervalSeconds
    }

    /// The groups of every file `patterns` match (glob(3), relative to the working directory;
    /// `rules.files`); `origin` is where the patterns were configured, for "matches no file".
    public func load(patterns: [String], origin: ConfigOrigin = .defaults) throws(ConfigErrors) -> [RuleGroup] {
        try loadAll(patterns: patterns, origin: origin).groups
    }

    /// Rule groups and notification settings of every file `patterns` match.
    public func loadAll(patterns: [String], origin: ConfigOrigin = .defaults) throws(ConfigErrors) -> RuleFiles {
        let (files, globErrors) = RuleFileGlob.expand(patterns, origin: origin)
        var errors = globErrors
        var loaded = RuleFiles()
        do { loaded = try loadAll(files: files) } catch { errors += error.errors }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        return loaded
    }

    /// The groups of these files, in order; group names must be unique across all of them.
    public func load(files: [String]) throws(ConfigErrors) -> [RuleGroup] {
        try loadAll(files: files).groups
    }

    public func loadAll(files: [String]) throws(ConfigErrors) -> RuleFiles {
        var errors: [ConfigError] = []
        var decoded: [RuleFileDecoder.Decoded] = []
        var parts: [NotificationConfigDecoder.Part] = []
        for file in files {
            do {
                let root = try ConfigNode.load(file: file)
                let (groups, part, fileErrors) = decode(root, file: file)
                decoded += groups
                parts.append(part)
                errors += fileErrors
            } catch {
                errors += error.errors
            }
        }
        return try merge(decoded, parts, errors)
    }

    /// Rule text as if read from `file` (tests, `POST`ed rules).
    public func parse(_ text: String, file: String) throws(ConfigErrors) -> [RuleGroup] {
        try parseAll(text, file: file).groups
    }

    public func parseAll(_ text: String, file: String) throws(ConfigErrors) -> RuleFiles {
        let (groups, part, errors) = decode(try ConfigNode.parse(text, file: file), file: file)
        return try merge(groups, [part], errors)
    }

    private func merge(_ groups: [RuleFileDecoder.Decoded], _ parts: [NotificationConfigDecoder.Part],
                       _ fileErrors: [ConfigError]) throws(ConfigErrors) -> RuleFiles {
        let (notifications, notificationErrors) = NotificationConfigDecoder.merge(parts)
        let all = fileErrors + duplicateGroupNames(groups) + notificationErrors
        if !all.isEmpty { throw ConfigErrors(errors: all) }
        return RuleFiles(groups: groups.map(\.group), notifications: notifications)
    }

    private func decode(_ root: ConfigNode?, file: String) -> ([RuleFileDecoder.Decoded], NotificationConfigDecoder.Part, [ConfigError]) {
        let reader = ConfigReader()
        let decoder = RuleFileDecoder(store: store, defaultIntervalSeconds: defaultIntervalSeconds, file: file, reader: reader)
        let (groups, part) = decoder.decode(root)
        return (groups, part, reader.errors)
    }

    private func duplicateGroupNames(_ groups: [RuleFileDecoder.Decoded]) -> [ConfigError] {
        var first: [String: ConfigOrigin] = [:]
        var errors: [ConfigError] = []
        for g in groups {
            if let earlier = first[g.group.name] {
                errors.append(ConfigError(origin: g.nameOrigin, message: "duplicate group name \"\(g.group.name)\" (first at \(earlier)): group names are unique across all rule files"))
            } else {
                first[g.group.name] = g.nameOrigin
            }
        }
        return errors
    }
}
