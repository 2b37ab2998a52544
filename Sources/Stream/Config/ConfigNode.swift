import Foundation
import Yams

/// A YAML value with where it came from, so every config error can name a file position
/// (or the environment variable that set it).
public indirect enum ConfigNode: Sendable {
    case scalar(String, ConfigOrigin)
    case mapping([(key: String, keyOrigin: ConfigOrigin, value: ConfigNode)], ConfigOrigin)
    case sequence([ConfigNode], ConfigOrigin)
    case null(ConfigOrigin)

    public var origin: ConfigOrigin {
        switch self {
        case .scalar(_, let o), .mapping(_, let o), .sequence(_, let o), .null(let o): o
        }
    }

    public init(_ node: Yams.Node, file: String) {
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

    /// Reads and parses a YAML file (nil when it is empty). YAML syntax errors name their position.
    public static func load(file path: String) throws(ConfigErrors) -> ConfigNode? {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigErrors(errors: [ConfigError(origin: .file(path, line: 0, column: 0), message: "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(text, file: path)
    }

    /// Parses YAML text (nil when it holds no document); `file` names it in positions.
    public static func parse(_ text: String, file: String) throws(ConfigErrors) -> ConfigNode? {
        do {
            return try Yams.compose(yaml: text).map { ConfigNode($0, file: file) }
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                throw ConfigErrors(errors: [ConfigError(origin: .file(file, line: mark.line, column: mark.column), message: "YAML: \(problem)")])
            default:
                throw ConfigErrors(errors: [ConfigError(origin: .file(file, line: 0, column: 0), message: "YAML: \(error)")])
            }
        } catch {
            throw ConfigErrors(errors: [ConfigError(origin: .file(file, line: 0, column: 0), message: "\(error)")])
        }
    }

    /// Sets the value at a key path, creating mappings on the way (environment overrides).
    public mutating func set(_ path: ArraySlice<String>, to value: ConfigNode) {
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

public enum ConfigOrigin: Sendable, CustomStringConvertible {
    case file(String, line: Int, column: Int)
    case environment(String)
    case defaults

    public var description: String {
        switch self {
        case .file(let f, let line, let column): "\(f):\(line):\(column)"
        case .environment(let name): "environment variable \(name)"
        case .defaults: "built-in default"
        }
    }
}

/// One problem in the configuration, with where it is: `etc/ingestd.yaml:12:5: unknown key "max_seris" …`.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let origin: ConfigOrigin
    public let message: String
    public init(origin: ConfigOrigin, message: String) {
        self.origin = origin
        self.message = message
    }
    public var description: String { "\(origin): \(message)" }
}

/// All the problems at once, so an operator fixes the file in one go.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public init(errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
