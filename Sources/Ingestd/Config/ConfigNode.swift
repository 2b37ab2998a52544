import Yams

/// A YAML value with where it came from, so every config error can name a file position
/// (or the environment variable that set it).
indirect enum ConfigNode: Sendable {
    case scalar(String, ConfigOrigin)
    case mapping([(key: String, keyOrigin: ConfigOrigin, value: ConfigNode)], ConfigOrigin)
    case sequence([ConfigNode], ConfigOrigin)
    case null(ConfigOrigin)

    var origin: ConfigOrigin {
        switch self {
        case .scalar(_, let o), .mapping(_, let o), .sequence(_, let o), .null(let o): o
        }
    }

    init(_ node: Yams.Node, file: String) {
        func origin(_ mark: Mark?) -> ConfigOrigin { .file(file, line: mark?.line ?? 0, column: mark?.column ?? 0) }
        switch node {
        case .scalar(let s):
            let isNull = s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
            self = isNull ? .null(origin(s.mark)) : .scalar(s.string, origin(s.mark))
        case .mapping(let m):
            self = .mapping(m.map { k, v in (k.string ?? "", origin(k.mark), ConfigNode(v, file: file)) }, origin(m.mark))
        case .sequence(let q):
            self = .sequence(q.map { ConfigNode($0, file: file) }, origin(q.mark))
        case .alias(let a):
            self = .null(origin(a.mark))
        }
    }

    /// Sets the value at a key path, creating mappings on the way (environment overrides).
    mutating func set(_ path: ArraySlice<String>, to value: ConfigNode) {
        guard let key = path.first else {
            self = value
            return
        }
        var pairs: [(key: String, keyOrigin: ConfigOrigin, value: ConfigNode)]
        let here: ConfigOrigin
        switch self {
        case .mapping(let p, let o): pairs = p; here = o
        default: pairs = []; here = value.origin
        }
        if let i = pairs.firstIndex(where: { $0.key == key }) {
            pairs[i].value.set(path.dropFirst(), to: value)
        } else {
            var child = ConfigNode.null(value.origin)
            child.set(path.dropFirst(), to: value)
            pairs.append((key, value.origin, child))
        }
        self = .mapping(pairs, here)
    }
}

enum ConfigOrigin: Sendable, CustomStringConvertible {
    case file(String, line: Int, column: Int)
    case environment(String)
    case defaults

    var description: String {
        switch self {
        case .file(let f, let line, let column): "\(f):\(line):\(column)"
        case .environment(let name): "environment variable \(name)"
        case .defaults: "built-in default"
        }
    }
}

/// One problem in the configuration, with where it is: `etc/ingestd.yaml:12:5: unknown key "max_seris" …`.
struct ConfigError: Error, Sendable, CustomStringConvertible {
    let origin: ConfigOrigin
    let message: String
    var description: String { "\(origin): \(message)" }
}

/// All the problems at once, so an operator fixes the file in one go.
struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    let errors: [ConfigError]
    var description: String { errors.map(\.description).joined(separator: "\n") }
}
