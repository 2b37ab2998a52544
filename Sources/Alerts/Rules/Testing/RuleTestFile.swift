import Foundation
import Stream

/// A rule unit-test file (`ingestd rules test`, README: Testing rules), in the spirit of
/// `promtool test rules`: rule files, input series or events, and the alerts expected to be
/// firing at given evaluation times.
///
/// ```yaml
/// rule_files: [../rules/spend.yaml]      # relative to this file
/// evaluation_interval: 1m               # every group is evaluated at this step in tests
/// tests:
///   - name: EC2 spike pages after 5 minutes
///     start: 2026-11-02T00:00:00Z       # time 0 (default 2026-01-05T00:00:00Z)
///     input_series:                     # one event per step, cost = the value ("_" none)
///       - series: '{account="111",service="AmazonEC2",region="us-east-1"}'
///         values: '5x30 300 5x10'       # a+bxN: N+1 values from a, step b; axN = a+0xN
///     input_events:
///       - {at: 12m, account: "111", service: AmazonEC2, region: us-east-1, cost: 300}
///     alert_rule_test:
///       - eval_time: 10m
///         alertname: EC2HourlySpendHigh
///         exp_alerts:                   # exactly the FIRING alerts of that name; [] for none
///           - exp_labels: {account: "111", region: us-east-1, currency: USD, severity: critical, team: platform}
///             exp_annotations: {summary: "…"}   # optional: compared when given
/// ```
public struct RuleTestFile: Sendable {
    public struct Event: Sendable {
        public var offsetMillis: Int64
        public var labels: [String: String]
        public var cost: Double
    }

    public struct Expectation: Sendable {
        public var evalOffsetMillis: Int64
        public var alertname: String
        public var alerts: [ExpectedAlert]
        public var origin: ConfigOrigin
    }

    public struct ExpectedAlert: Sendable, Equatable {
        public var labels: [String: String]
        public var annotations: [String: String]?
    }

    public struct Case: Sendable {
        public var name: String
        public var startMillis: Int64
        public var events: [Event]
        public var expectations: [Expectation]
        public var origin: ConfigOrigin
    }

    public var path: String
    public var ruleFiles: [String]
    public var intervalSeconds: Int64
    public var cases: [Case]

    public static let defaultStart: Int64 = 1_767_571_200_000 // 2026-01-05T00:00:00Z, a Monday

    /// Reads a test file; every problem at once, positioned.
    public static func load(_ path: String) throws(ConfigErrors) -> RuleTestFile {
        let r = ConfigReader()
        let root = try ConfigNode.load(file: path)
        var file = RuleTestFile(path: path, ruleFiles: [], intervalSeconds: 60, cases: [])
        let directory = (path as NSString).deletingLastPathComponent
        guard let top = r.mapping(root, "", allowed: ["rule_files", "evaluation_interval", "tests"]) else {
            throw ConfigErrors(errors: r.errors.isEmpty ? [ConfigError(origin: .file(path, line: 1, column: 1), message: "empty test file: it needs rule_files and tests")] : r.errors)
        }
        if let items = r.sequence(top["rule_files"], "rule_files") {
            file.ruleFiles = items.compactMap { r.string($0, "rule_files[]") }.map { $0.hasPrefix("/") ? $0 : (directory as NSString).appendingPathComponent($0) }
        }
        if file.ruleFiles.isEmpty { r.fail(top["rule_files"]?.origin ?? root?.origin ?? .defaults, "rule_files must list at least one rule file") }
        if let v = r.duration(top["evaluation_interval"], "evaluation_interval", max: 86_400) {
            if v < 1 { r.fail(top["evaluation_interval"]!.origin, "evaluation_interval must be at least 1s") } else { file.intervalSeconds = v }
        }
        let step = file.intervalSeconds * 1000
        for node in r.sequence(top["tests"], "tests") ?? [] {
            guard let t = r.mapping(node, "tests[]", allowed: ["name", "start", "input_series", "input_events", "alert_rule_test"]) else { continue }
            var c = Case(name: r.string(t["name"], "name") ?? "(unnamed)", startMillis: defaultStart, events: [], expectations: [], origin: node.origin)
            if let text = r.string(t["start"], "start") {
                if let ms = Array(text.utf8).withUnsafeBytes({ Timestamp.parseISO8601($0) }) { c.startMillis = ms } else {
                    r.fail(t["start"]!.origin, "start must be RFC 3339, e.g. 2026-11-02T00:00:00Z, got \"\(text)\"")
                }
            }
            for s in r.sequence(t["input_series"], "input_series") ?? [] {
                guard let m = r.mapping(s, "input_series[]", allowed: ["series", "values"]),
                      let selector = r.string(m["series"], "series"), let values = r.string(m["values"], "values") else { continue }
                var labels: [String: String] = [:]
                do {
                    for matcher in try SeriesSelector.parse(selector) { labels[matcher.name] = matcher.value }
                    if try SeriesSelector.parse(selector).contains(where: { $0.op != .equal }) {
                        r.fail(m["series"]!.origin, "series: an input series names its labels with = only")
                        continue
                    }
                } catch {
                    r.fail(m["series"]!.origin, "series: \(error)")
                    continue
                }
                do {
                    for (i, value) in try expand(values).enumerated() {
                        guard let value else { continue }
                        c.events.append(Event(offsetMillis: Int64(i) * step, labels: labels, cost: value))
                    }
                } catch {
                    r.fail(m["values"]!.origin, "values: \(error.message)")
                }
            }
            for e in r.sequence(t["input_events"], "input_events") ?? [] {
                guard let m = r.mapping(e, "input_events[]", allowed: nil) else { continue }
                var labels: [String: String] = [:]
                var at: Int64?
                var cost: Double?
                for (key, value) in m {
                    switch key {
                    case "at": at = r.duration(value, "at").map { $0 * 1000 }
                    case "cost":
                        if let text = r.string(value, "cost") {
                            if let v = Double(text), v.isFinite, v.magnitude <= 1e15 { cost = v } else { r.fail(value.origin, "cost must be a number of at most 1e15, got \"\(text)\"") }
                        }
                    default: labels[key] = r.string(value, key)
                    }
                }
                guard let at, let cost else {
                    r.fail(e.origin, "an input event needs at: (offset from start) and cost:")
                    continue
                }
                c.events.append(Event(offsetMillis: at, labels: labels, cost: cost))
            }
            for x in r.sequence(t["alert_rule_test"], "alert_rule_test") ?? [] {
                guard let m = r.mapping(x, "alert_rule_test[]", allowed: ["eval_time", "alertname", "exp_alerts"]) else { continue }
                guard let at = r.duration(m["eval_time"], "eval_time"), let name = r.string(m["alertname"], "alertname") else {
                    r.fail(x.origin, "each alert_rule_test needs eval_time and alertname")
                    continue
                }
                if (at * 1000) % step != 0 { r.fail(m["eval_time"]!.origin, "eval_time must be a multiple of evaluation_interval (\(DurationText.format(seconds: file.intervalSeconds)))") }
                var expected: [ExpectedAlert] = []
                for a in r.sequence(m["exp_alerts"], "exp_alerts") ?? [] {
                    guard let am = r.mapping(a, "exp_alerts[]", allowed: ["exp_labels", "exp_annotations"]) else { continue }
                    func strings(_ node: ConfigNode?, _ path: String) -> [String: String]? {
                        guard let map = r.mapping(node, path, allowed: nil) else { return nil }
                        return map.compactMapValues { r.string($0, path) }
                    }
                    expected.append(ExpectedAlert(labels: strings(am["exp_labels"], "exp_labels") ?? [:],
                                                  annotations: strings(am["exp_annotations"], "exp_annotations")))
                }
                c.expectations.append(Expectation(evalOffsetMillis: at * 1000, alertname: name, alerts: expected, origin: x.origin))
            }
            if c.expectations.isEmpty { r.fail(node.origin, "test \"\(c.name)\" has no alert_rule_test") }
            file.cases.append(c)
        }
        if file.cases.isEmpty && r.errors.isEmpty { r.fail(top["tests"]?.origin ?? .file(path, line: 1, column: 1), "tests must list at least one test") }
        if !r.errors.isEmpty { throw ConfigErrors(errors: r.errors) }
        return file
    }

    struct ValuesError: Error { let message: String }

    /// promtool's expanding notation, one value per step: `1 2 3`, `_` (no event), `_x3`,
    /// `5x3` (4 values of 5), `1+2x3` (1 3 5 7), `10-1x2` (10 9 8). At most 100,000 values.
    static func expand(_ text: String) throws(ValuesError) -> [Double?] {
        var out: [Double?] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let parts = token.split(separator: "x", maxSplits: 1)
            var count = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), (0...100_000).contains(n) else { throw ValuesError(message: "bad repeat in \"\(token)\": use a+bxN with N from 0 to 100000") }
                count = n + 1
            }
            let head = parts[0]
            var base: Double?
            var delta = 0.0
            if head == "_" {
                base = nil
            } else if let sign = head.dropFirst().firstIndex(where: { $0 == "+" || $0 == "-" }) {
                guard let a = Double(head[..<sign]), let d = Double(head[head.index(after: sign)...]) else { throw ValuesError(message: "bad value \"\(token)\"") }
                base = a
                delta = head[sign] == "+" ? d : -d
            } else {
                guard let a = Double(head) else { throw ValuesError(message: "bad value \"\(token)\"") }
                base = a
            }
            guard out.count + count <= 100_000 else { throw ValuesError(message: "more than 100000 values") }
            for i in 0..<count {
                guard let b = base else { out.append(nil); continue }
                let v = b + delta * Double(i)
                guard v.isFinite, v.magnitude <= 1e15 else { throw ValuesError(message: "value \(v) out of range (at most 1e15)") }
                out.append(v)
            }
        }
        return out
    }
}
