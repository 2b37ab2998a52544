/// One label condition, as in PromQL: `account="123"`, `service!="AWSGlue"`, `region=~"us-.*"`,
/// `service!~"Amazon(S3|EC2)"`. Regexes match the whole value. A missing label is "".
public struct LabelMatcher: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case matches = "=~"
        case notMatches = "!~"
    }

    public let name: String
    public let op: Operator
    public let value: String

    public struct InvalidRegex: Error, Sendable, CustomStringConvertible {
        public let matcher: String
        public let reason: String
        public var description: String { "invalid regular expression in \(matcher): \(reason)" }
    }

    public init(_ name: String, _ op: Operator, _ value: String) throws(InvalidRegex) {
        self.name = name
        self.op = op
        self.value = value
        if op == .matches || op == .notMatches {
            let matcher = "\(name)\(op.rawValue)\"\(value.prefix(64))\(value.count > 64 ? "…" : "")\""
            // The regex parser recurses per nesting level: a deep pattern from a request must be
            // refused before it can exhaust a thread's stack.
            guard value.utf8.count <= Self.maxRegexBytes else {
                throw InvalidRegex(matcher: matcher, reason: "\(value.utf8.count) bytes; at most \(Self.maxRegexBytes) are allowed")
            }
            guard Self.nestingDepth(value) <= Self.maxRegexNesting else {
                throw InvalidRegex(matcher: matcher, reason: "groups nest deeper than \(Self.maxRegexNesting) levels")
            }
            do { _ = try Regex(value) } catch { throw InvalidRegex(matcher: matcher, reason: "\(error)") }
        }
    }

    public static let maxRegexBytes = 1024
    public static let maxRegexNesting = 32

    /// The deepest nesting of ( [ { in a pattern, counting escaped brackets too (an overestimate is harmless).
    static func nestingDepth(_ pattern: String) -> Int {
        var depth = 0, deepest = 0
        for b in pattern.utf8 {
            switch b {
            case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(depth - 1, 0)
            default: break
            }
        }
        return deepest
    }

    public var description: String { "\(name)\(op.rawValue)\"\(value)\"" }

    /// Compiled once per query; regex results are memoised per distinct value, since a label
    /// has few distinct values (accounts, services, regions) across many series.
    public final class Compiled {
        public let matcher: LabelMatcher
        public let labelIndex: Int?
        private let regex: Regex<AnyRegexOutput>?
        private var memo: [String: Bool] = [:]

        public init(_ matcher: LabelMatcher, labelNames: [String]) {
            self.matcher = matcher
            self.labelIndex = labelNames.firstIndex(of: matcher.name)
            self.regex = (matcher.op == .matches || matcher.op == .notMatches) ? try? Regex(matcher.value) : nil
        }

        public func matches(_ labels: [String]) -> Bool {
            matches(value: labelIndex.map { labels[$0] } ?? "")
        }

        /// Whether a value of this matcher's label matches.
        public func matches(value v: String) -> Bool {
            switch matcher.op {
            case .equal: return v == matcher.value
            case .notEqual: return v != matcher.value
            case .matches, .notMatches:
                let hit: Bool
                if let known = memo[v] {
                    hit = known
                } else {
                    hit = (try? regex?.wholeMatch(in: v)).flatMap { $0 } != nil
                    memo[v] = hit
                }
                return matcher.op == .matches ? hit : !hit
            }
        }
    }
}
