import Foundation

/// Reads typed values out of a `ConfigNode` tree, collecting every error instead of stopping
/// at the first, and refusing keys it was not asked about (a typo must not be silently ignored).
public final class ConfigReader {
    public init() {}

    public private(set) var errors: [ConfigError] = []

    public func fail(_ origin: ConfigOrigin, _ message: String) { errors.append(ConfigError(origin: origin, message: message)) }

    /// The entries of a mapping; keys outside `allowed` are errors. nil when absent or null.
    public func mapping(_ node: ConfigNode?, _ path: String, allowed: [String]?) -> [String: ConfigNode]? {
        guard let node else { return nil }
        switch node {
        case .null: return nil
        case .mapping(let pairs, _):
            var out: [String: ConfigNode] = [:]
            for (key, keyOrigin, value) in pairs {
                if let allowed, !allowed.contains(key) {
                    let hint = allowed.min(by: { editDistance($0, key) < editDistance($1, key) }).map { editDistance($0, key) <= 2 ? " (did you mean \"\($0)\"?)" : "" } ?? ""
                    fail(keyOrigin, "unknown key \"\(path.isEmpty ? key : path + "." + key)\"\(hint); known keys here: \(allowed.joined(separator: ", "))")
                } else if out[key] != nil {
                    fail(keyOrigin, "duplicate key \"\(key)\"")
                } else {
                    out[key] = value
                }
            }
            return out
        default:
            fail(node.origin, "\(path) must be a mapping (key: value lines)")
            return nil
        }
    }

    public func sequence(_ node: ConfigNode?, _ path: String) -> [ConfigNode]? {
        guard let node else { return nil }
        switch node {
        case .null: return nil
        case .sequence(let items, _): return items
        default:
            fail(node.origin, "\(path) must be a list")
            return nil
        }
    }

    public func string(_ node: ConfigNode?, _ path: String) -> String? {
        guard let node else { return nil }
        switch node {
        case .null: return nil
        case .scalar(let s, _): return s
        default:
            fail(node.origin, "\(path) must be a single value")
            return nil
        }
    }

    public func int(_ node: ConfigNode?, _ path: String, min: Int = 0) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")), v >= min else {
            fail(node!.origin, "\(path) must be a whole number ≥ \(min), got \"\(text)\"")
            return nil
        }
        return v
    }

    public func bool(_ node: ConfigNode?, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            fail(node!.origin, "\(path) must be true or false, got \"\(text)\"")
            return nil
        }
    }

    /// Durations in seconds, at most `max` (default 100 years): values are multiplied into
    /// milliseconds and added to clocks, which must not overflow.
    public func duration(_ node: ConfigNode?, _ path: String, max: Int64 = 36_500 * 86_400) -> Int64? {
        guard let text = string(node, path) else { return nil }
        let seconds: Int64
        do { seconds = try DurationText.seconds(text) } catch {
            fail(node!.origin, "\(path): \(error)")
            return nil
        }
        guard seconds <= max else {
            fail(node!.origin, "\(path) must be at most \(DurationText.format(seconds: max)), got \"\(text)\"")
            return nil
        }
        return seconds
    }

    /// The largest size any key takes: sizes are buffers held in memory.
    public static let maxBytes = 1 << 30

    /// Byte sizes: `65536`, `64KiB`, `8MiB`; 1 byte to 1 GiB.
    public func bytes(_ node: ConfigNode?, _ path: String) -> Int? {
        guard let text = string(node, path) else { return nil }
        let units: [(String, Int)] = [("KiB", 1024), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("B", 1)]
        var value: Int?
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let n = Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n > 0 {
                let (product, overflow) = n.multipliedReportingOverflow(by: scale)
                value = overflow ? Int.max : product
            }
            break
        }
        if value == nil, let n = Int(text), n > 0 { value = n }
        guard let value else {
            fail(node!.origin, "\(path) must be a size such as 65536, 64KiB or 8MiB, got \"\(text)\"")
            return nil
        }
        guard value <= Self.maxBytes else {
            fail(node!.origin, "\(path) must be at most 1GiB, got \"\(text)\"")
            return nil
        }
        return value
    }

    public func oneOf(_ node: ConfigNode?, _ path: String, _ choices: [String]) -> String? {
        guard let text = string(node, path) else { return nil }
        guard choices.contains(text) else {
            fail(node!.origin, "\(path) must be one of \(choices.joined(separator: ", ")), got \"\(text)\"")
            return nil
        }
        return text
    }

    private func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = old
            }
        }
        return row[b.count]
    }
}


