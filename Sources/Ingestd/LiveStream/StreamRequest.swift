import Alerts
import Foundation
import Stream

/// A client message on `/v1/stream`, parsed and checked; `Invalid` says what to change.
enum StreamRequest {
    case subscribe(StreamSubscription, since: Int64?)
    case unsubscribe(id: String)

    struct Invalid: Error {
        var id: String?
        var message: String
    }

    static let maxSelectorBytes = 8192

    static func parse(_ text: String, scope: AccessScope) throws(Invalid) -> StreamRequest {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let m = object as? [String: Any] else {
            throw Invalid(message: "a message is a JSON object with \"type\": \"subscribe\" or \"unsubscribe\"")
        }
        let id = m["id"] as? String
        func fail(_ message: String) -> Invalid { Invalid(id: id, message: message) }
        guard let id, id.utf8.count <= 64, !id.isEmpty,
              id.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
            throw Invalid(message: "id is required: 1 to 64 letters, digits, _ - . or :")
        }
        switch m["type"] as? String {
        case "unsubscribe":
            return .unsubscribe(id: id)
        case "subscribe":
            break
        default:
            throw fail("type must be \"subscribe\" or \"unsubscribe\"")
        }
        let known: Set = ["type", "id", "kinds", "match", "since", "cost"]
        if let unknown = m.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown field \(unknown); a subscribe takes \(known.sorted().joined(separator: ", "))")
        }
        var kinds = Set(StreamEvent.Kind.allCases)
        var wantsCost = false
        if let list = m["kinds"] {
            guard let names = list as? [String], !names.isEmpty else { throw fail("kinds must be a non-empty list of: alert, notification, reload, cost") }
            kinds = []
            for name in names {
                if name == "cost" { wantsCost = true } else if let k = StreamEvent.Kind(rawValue: name) { kinds.insert(k) } else {
                    throw fail("unknown kind \(name); kinds: alert, notification, reload, cost")
                }
            }
        }
        var matchers = AlertMatchers.all
        var selector: [LabelMatcher] = []
        if let value = m["match"] {
            guard let text = value as? String, text.utf8.count <= maxSelectorBytes else {
                throw fail("match must be a selector string of at most \(maxSelectorBytes) bytes, e.g. {account=\"123\"}")
            }
            do { selector = try SeriesSelector.parse(text) } catch { throw fail("match: \(error.message) at column \(error.column)") }
            matchers = AlertMatchers(selector)
        }
        var since: Int64?
        if let value = m["since"] {
            guard !Self.isJSONBoolean(value), let d = (value as? NSNumber)?.doubleValue, d.rounded() == d, d >= 0, d < 9e15 else {
                throw fail("since must be a sequence number ≥ 0 (the seq of the last event you saw)")
            }
            since = Int64(d)
        }
        var cost: StreamSubscription.CostTicks?
        if let spec = m["cost"] {
            guard let c = spec as? [String: Any] else { throw fail("cost must be an object: {\"window\": \"1h\", \"by\": [\"account\"], \"every\": \"10s\"}") }
            cost = try costTicks(c, selector: selector, scope: scope, id: id)
        }
        if wantsCost != (cost != nil) {
            throw fail(wantsCost ? "kind cost needs cost: {\"window\": \"1h\", \"by\": [\"account\"], \"every\": \"10s\"}" : "cost: is given but kinds does not list cost")
        }
        return .subscribe(StreamSubscription(id: id, kinds: kinds, matchers: matchers, scope: scope, cost: cost), since: since)
    }

    private static func costTicks(_ c: [String: Any], selector: [LabelMatcher], scope: AccessScope, id: String) throws(Invalid) -> StreamSubscription.CostTicks {
        func fail(_ message: String) -> Invalid { Invalid(id: id, message: "cost: \(message)") }
        if let unknown = c.keys.sorted().first(where: { !["window", "by", "every"].contains($0) }) {
            throw fail("unknown field \(unknown); cost takes window, by, every")
        }
        guard let window = c["window"] as? String else { throw fail("window is required, e.g. \"1h\" or \"mtd\"") }
        let span: WindowQuery.Span
        if window == "mtd" { span = .monthToDate } else {
            guard let s = try? DurationText.seconds(window), QueryLimits.windowSeconds.contains(s) else {
                throw fail("window must be a duration from 1s to 36500d, or mtd, got \(window)")
            }
            span = .last(seconds: s)
        }
        var by: [String]?
        if let list = c["by"] {
            guard let names = list as? [String], names.count <= 16 else { throw fail("by must be a list of label names") }
            by = names
        }
        guard let everyText = c["every"] as? String, let every = try? DurationText.seconds(everyText), (1...3600).contains(every) else {
            throw fail("every must be a duration from 1s to 1h, e.g. \"10s\"")
        }
        var matchers = selector
        if let accounts = scope.accounts {
            // A scoped token's sums cover its own accounts only, however they are grouped.
            let pattern = accounts.isEmpty ? "(?!)" : accounts.sorted().map(Self.regexLiteral).joined(separator: "|")
            guard let m = try? LabelMatcher("account", .matches, pattern) else { throw fail("the token's accounts do not form a valid selector") }
            matchers.append(m)
        }
        return .init(query: WindowQuery(matchers: matchers, by: by, span: span), windowText: window, everyMillis: every * 1000)
    }

    /// `s` matched literally inside a regex.
    static func regexLiteral(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isLetter || ch.isNumber { out.append(ch) } else { out += "\\" + String(ch) }
        }
        return out
    }
}

extension StreamRequest {
    /// Whether JSONSerialization read `true` or `false` here. They come as NSNumbers of type "c";
    /// `value is Bool` also holds for the numbers 0 and 1, which refused `"since": 0` and `1`.
    static func isJSONBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return value is Bool }
        return String(cString: number.objCType) == "c"
    }
}
