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
        let (files, globErrors) = RuleFileGlob.expand(patterns, origin: origin)
        var errors = globErrors
        var groups: [RuleGroup] = []
        do { groups = try load(files: files) } catch { errors += error.errors }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        return groups
    }

    /// The groups of these files, in order; group names must be unique across all of them.
    public func load(files: [String]) throws(ConfigErrors) -> [RuleGroup] {
        var errors: [ConfigError] = []
        var decoded: [RuleFileDecoder.Decoded] = []
        for file in files {
            do {
                let root = try ConfigNode.load(file: file)
                let (groups, fileErrors) = decode(root, file: file)
                decoded += groups
                errors += fileErrors
            } catch {
                errors += error.errors
            }
        }
        errors += duplicateGroupNames(decoded)
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        return decoded.map(\.group)
    }

    /// Rule text as if read from `file` (tests, `POST`ed rules).
    public func parse(_ text: String, file: String) throws(ConfigErrors) -> [RuleGroup] {
        let (groups, errors) = decode(try ConfigNode.parse(text, file: file), file: file)
        let all = errors + duplicateGroupNames(groups)
        if !all.isEmpty { throw ConfigErrors(errors: all) }
        return groups.map(\.group)
    }

    private func decode(_ root: ConfigNode?, file: String) -> ([RuleFileDecoder.Decoded], [ConfigError]) {
        let reader = ConfigReader()
        let decoder = RuleFileDecoder(store: store, defaultIntervalSeconds: defaultIntervalSeconds, file: file, reader: reader)
        let groups = decoder.decode(root)
        return (groups, reader.errors)
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
