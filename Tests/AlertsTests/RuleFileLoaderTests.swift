import Alerts
import Foundation
import Stream
import Testing

@Suite struct RuleFileLoaderTests {
    let loader = RuleFileLoader(store: StoreConfiguration(), defaultIntervalSeconds: 60)

    func errors(_ text: String, store: StoreConfiguration = StoreConfiguration()) -> [String] {
        do {
            _ = try RuleFileLoader(store: store, defaultIntervalSeconds: 60).parse(text, file: "F")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func thresholdRuleParsesEveryKey() throws {
        let groups = try loader.parse("""
            groups:
              - name: ec2-spend
                interval: 2m
                rules:
                  - alert: EC2HourlySpendHigh
                    kind: threshold
                    match: '{service="AmazonEC2",region=~"us-.*"}'
                    by: [account]
                    window: 1h
                    aggregate: max
                    above: 250
                    resolve_below: 200
                    for: 5m
                    keep_firing_for: 10m
                    no_data: 2h
                    severity: critical
                    labels: {team: platform}
                    annotations:
                      summary: "EC2 spend in {{labels.account}} is {{money(value)}} over {{window}}"
            """, file: "rules/spend.yaml")
        #expect(groups.count == 1)
        let g = groups[0]
        #expect(g.name == "ec2-spend" && g.intervalSeconds == 120 && g.file == "rules/spend.yaml")
        let r = try #require(g.rules.first)
        #expect(r.name == "EC2HourlySpendHigh")
        #expect(r.kind == .threshold)
        #expect(r.matchers.map(\.description) == ["service=\"AmazonEC2\"", "region=~\"us-.*\""])
        #expect(r.matchText == "{service=\"AmazonEC2\",region=~\"us-.*\"}")
        #expect(r.by == ["account"])
        #expect(r.windowSeconds == 3600)
        #expect(r.aggregation == .max)
        #expect(r.comparison == .above && r.threshold == 250 && r.resolveThreshold == 200)
        #expect(r.forSeconds == 300 && r.keepFiringForSeconds == 600 && r.noDataSeconds == 7200)
        #expect(r.severity == "critical" && r.labels == ["team": "platform"])
        #expect(r.origin == "rules/spend.yaml:5:9")
        let summary = try #require(r.annotations["summary"])
        #expect(try summary.render(.synthetic(for: r)) == "EC2 spend in example-account is $1,234.56 over 1h")
    }

    @Test func changeAndBudgetRulesParseWithDefaults() throws {
        let groups = try loader.parse("""
            groups:
              - name: jumps
                rules:
                  - alert: SpendJump
                    kind: change
                    window: 1h
                    offset: 7d
                    below: -30%
                    resolve_above: -10
                    min_change: 20
              - name: budgets
                interval: 15m
                rules:
                  - alert: MonthlyBudget
                    kind: budget
                    amount: 10000
                    basis: [forecast]
                    annotations:
                      summary: "{{basis}} {{money(value)}} is {{percent(measure)}} of {{money(budget)}}"
                  - alert: DefaultBudget
                    kind: budget
                    amount: 5_000
            """, file: "F")
        #expect(groups.map(\.name) == ["jumps", "budgets"])
        #expect(groups[0].intervalSeconds == 60) // the config's default
        let jump = groups[0].rules[0]
        #expect(jump.kind == .change(offsetSeconds: 7 * 86_400, minChange: 20))
        #expect(jump.comparison == .below && jump.threshold == -30 && jump.resolveThreshold == -10)
        #expect(jump.matchers.isEmpty && jump.matchText == "{}" && jump.by.isEmpty)
        #expect(jump.aggregation == .sum && jump.severity == "warning" && jump.forSeconds == 0 && jump.noDataSeconds == nil)
        let budget = groups[1].rules[0]
        #expect(budget.kind == .budget(amount: 10_000, bases: [.forecast]))
        #expect(budget.comparison == .above && budget.threshold == 100) // default 100%
        #expect(budget.windowSeconds == 0)
        #expect(try budget.annotations["summary"]!.render(.synthetic(for: budget)) == "forecast $8,310.00 is 83.1% of $10,000.00")
        #expect(groups[1].rules[1].kind == .budget(amount: 5000, bases: [.actual, .forecast]))
    }

    @Test func aFileWithManyMistakesReportsThemAllWithPositions() {
        let found = errors("""
            groups:
              - name: g1
                interval: 0s
                rules:
                  - alert: A
                    kind: threshold
                    window: 90s
                    above: 1e16
                    by: [acount]
                    sevrity: high
                  - alert: A
                    kind: anomaly
                  - alert: B
                    kind: change
                    window: 1h
                    above: 50%
                    resolve_above: 60%
                    labels: {alertname: x, "bad-name": y, team: z, account: q}
                  - alert: C
                    kind: budget
                    amount: -5
                    window: 1h
                    annotations:
                      summary: "{{money(valeu)}}"
                      desc: "{{#no_data}}"
              - name: g1
                rules: []
            """)
        let expected = [
            "F:3:15: interval must be at least 1s",
            "F:7:17: no resolution in store.resolutions holds the window 90s: 1m buckets do not tile 90s; 1h buckets do not tile 90s",
            "F:8:16: above must be at most 1e15 in magnitude",
            "F:9:14: by: \"acount\" is not a store label (did you mean \"account\"?)",
            "F:10:9: unknown key \"sevrity\" (did you mean \"severity\"?)",
            "F:11:9: duplicate alert name \"A\" in group \"g1\" (first at F:5:9)",
            "F:11:9: anomaly rule \"A\" needs min_impact: {amount: A, percent: P}",
            "F:13:9: change rule \"B\" needs offset:",
            "F:13:9: change rule \"B\" needs min_change:",
            "F:17:9: resolve_above goes with below: (with above:, use resolve_below)",
            "F:18:18: labels: \"alertname\" is set by the evaluator on every alert and cannot be overridden",
            "F:18:32: labels: \"bad-name\" is not a label name",
            "F:18:56: labels: \"account\" is a store label",
            "F:21:17: amount must be greater than 0",
            "F:22:9: window does not apply to budget rules: it applies to threshold and change rules",
            "F:24:20: annotations.summary: unknown variable \"valeu\" (did you mean \"value\"?)",
            "F:25:17: annotations.desc: template syntax error at line 1, column 13: a section is never closed",
            "F:26:11: duplicate group name \"g1\" (first at F:2:11)",
            "F:27:12: rules: is empty",
        ]
        for prefix in expected {
            #expect(found.contains { $0.hasPrefix(prefix) }, "missing \(prefix) in:\n\(found.joined(separator: "\n"))")
        }
        #expect(found.count == expected.count, "\(found.joined(separator: "\n"))")
    }

    @Test func windowsMustFitTheStoreResolutions() {
        let rule = { (extra: String) in """
            groups:
              - name: g
                rules:
                  - alert: R
                    kind: change
                    min_change: 0
                    above: 10
            \(extra)
            """ }
        // 30d back from 35d of hourly buckets leaves room for a 5d window but not a 6d one.
        #expect(errors(rule("        window: 5d\n        offset: 30d")).isEmpty)
        #expect(errors(rule("        window: 6d\n        offset: 30d")) == [
            "F:8:17: no resolution in store.resolutions holds the window 6d at offset 30d: 1m buckets keep only 2d; 1h buckets keep only 5w"])
        // no_data is held like a window.
        #expect(errors(rule("        window: 1h\n        offset: 1d\n        no_data: 36d")).first?.hasPrefix("F:10:18: no resolution in store.resolutions holds no_data 36d") == true)
        // A store with only minute buckets cannot answer month-to-date.
        let minutes = StoreConfiguration(resolutions: [Resolution(step: 60, retention: 48 * 3600)])
        let budget = errors("groups: [{name: b, rules: [{alert: B, kind: budget, amount: 1}]}]", store: minutes)
        #expect(budget.count == 1 && budget[0].hasPrefix("F:1:39: budget rules need a resolution whose step divides 1d and whose retention holds 31d"))
    }

    @Test func byAndMatchUseTheStoreLabels() throws {
        let tagged = StoreConfiguration(tagKeys: ["team"])
        let text = """
            groups:
              - name: g
                rules:
                  - alert: R
                    kind: threshold
                    match: '{team="data",servce="S"}'
                    by: [team, service]
                    window: 1h
                    above: 1
                    annotations: {summary: "{{labels.team}} {{labels.service}} {{labels.currency}} {{labels.region}}"}
            """
        #expect(errors(text, store: tagged) == [
            "F:6:16: match: \"servce\" is not a store label (did you mean \"service\"?); the labels are account, service, region, currency, team, source",
            "F:10:32: annotations.summary: labels.region is not a label of this rule's alerts; its labels: currency, service, team (add a label to by: to have it)",
        ])
        // Without the tag label in the store, `team` is unknown to by: as well.
        #expect(errors(text, store: StoreConfiguration()).contains { $0.hasPrefix("F:7:14: by: \"team\" is not a store label") })
        #expect(errors("groups: [{name: g, rules: [{alert: R, kind: threshold, window: 1h, above: 1, match: '{service=}'}]}]")
            == ["F:1:85: match: expected a double-quoted value at column 10 of {service=}"])
    }

    @Test func thresholdsAreRangeChecked() {
        func one(_ kind: String, _ keys: String) -> [String] {
            errors("groups: [{name: g, rules: [{alert: R, kind: \(kind), \(keys)}]}]").map { String($0.split(separator: " ", maxSplits: 1)[1]) }
        }
        #expect(one("threshold", "window: 1h, above: 50%") == ["above is an amount in the series' currency here, not a percentage (threshold rules compare amounts), got \"50%\""])
        #expect(one("threshold", "window: 1h, above: .nan") == ["above must be a number, got \".nan\""])
        #expect(one("threshold", "window: 1h, above: 1, below: 2") == ["give one of above: or below:, not both"])
        #expect(one("threshold", "window: 1h") == ["rule \"R\" needs above: or below: (the threshold)"])
        #expect(one("threshold", "window: 1h, above: 10, resolve_below: 10").first?.hasPrefix("resolve_below must be below the threshold (10)") == true)
        #expect(one("threshold", "window: 1h, below: 10, resolve_above: 5").first?.hasPrefix("resolve_above must be above the threshold (10)") == true)
        #expect(one("change", "window: 1h, offset: 1d, min_change: -1, above: -101%") == [
            "above must be a percentage from -100% to 1000000%, got \"-101%\"", "min_change must be ≥ 0 (an absolute amount), got -1"])
        #expect(one("budget", "amount: 1e300, above: 0%, below: 5%") == [
            "below does not apply to budget rules: budget rules alert above a percentage of the amount",
            "above must be a percentage above 0% and at most 1000000%, got \"0%\"",
            "amount must be at most 1e15 in magnitude, got \"1e300\""])
    }

    @Test func emptyFilesAndFilesWithoutGroupsAreErrors() {
        #expect(errors("") == ["F:1:1: a rule file needs groups: (a list of groups, each with name: and rules:) or notification settings (receivers:, route:, inhibit_rules:)"])
        #expect(errors("# only a comment\n") == ["F:1:1: a rule file needs groups: (a list of groups, each with name: and rules:) or notification settings (receivers:, route:, inhibit_rules:)"])
        #expect(errors("rules: []").first?.hasPrefix("F:1:1: unknown key \"rules\"") == true)
        #expect(errors("groups: []") == ["F:1:9: groups: is empty: a rule file needs at least one group"])
        #expect(errors("groups: [: x").first?.hasPrefix("F:1:") == true)
    }

    @Test func groupNamesAreUniqueAcrossFilesAndGlobsMustMatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rule = "rules: [{alert: R, kind: threshold, window: 1h, above: 1}]"
        try "groups: [{name: a, \(rule)}, {name: b, \(rule)}]".write(to: dir.appendingPathComponent("1.yaml"), atomically: true, encoding: .utf8)
        try "groups:\n  - {name: c, \(rule)}\n  - {name: a, \(rule)}".write(to: dir.appendingPathComponent("2.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try loader.load(patterns: [dir.path + "/*.yaml", dir.path + "/*.yml"])
            Issue.record("expected errors")
        } catch {
            #expect(error.errors.map(\.description) == [
                "built-in default: rules.files: \"\(dir.path)/*.yml\" matches no file",
                "\(dir.path)/2.yaml:3:12: duplicate group name \"a\" (first at \(dir.path)/1.yaml:1:17): group names are unique across all rule files",
            ])
        }
        try "groups: [{name: c2, \(rule)}]".write(to: dir.appendingPathComponent("2.yaml"), atomically: true, encoding: .utf8)
        let groups = try loader.load(patterns: [dir.path + "/*.yaml", dir.path + "/1.yaml"])
        #expect(groups.map(\.name) == ["a", "b", "c2"]) // 1.yaml once, though two patterns match it
        #expect(groups.map(\.file) == ["\(dir.path)/1.yaml", "\(dir.path)/1.yaml", "\(dir.path)/2.yaml"])
    }

    @Test func theExampleRulesLoadWithTheDefaultStore() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let groups = try loader.load(patterns: [root.path + "/rules/*.yaml"])
        let rules = groups.flatMap(\.rules)
        #expect(Set(rules.map { "\($0.kind)".prefix(6) }) == ["thresh", "change", "budget", "anomal"])
        #expect(rules.allSatisfy { !$0.annotations.isEmpty })
    }
}
