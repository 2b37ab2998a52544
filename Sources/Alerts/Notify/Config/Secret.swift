/// A value that must never reach a log, a response or an error message: a webhook URL (Slack's
/// carries its token), a signing key. Read at load from the config itself, a file or an
/// environment variable; `description` names only where it came from.
public struct Secret: Sendable, Equatable, CustomStringConvertible {
    public enum Source: Sendable, Equatable {
        case inline
        case file(String)
        case environment(String)
    }

    public let value: String
    public let source: Source

    public init(value: String, source: Source) {
        self.value = value
        self.source = source
    }

    public var description: String {
        switch source {
        case .inline: "<secret from the rule file>"
        case .file(let path): "<secret from file \(path)>"
        case .environment(let name): "<secret from $\(name)>"
        }
    }
}
