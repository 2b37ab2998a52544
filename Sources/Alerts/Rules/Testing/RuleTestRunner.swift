import Stream

/// Runs a `RuleTestFile`'s cases through `EventTimeEvaluation` (the store and evaluator the
/// daemon uses) and compares the firing alerts at each `eval_time` with what was expected.
public struct RuleTestRunner {
    public let configuration: StoreConfiguration
    /// The currency an input without one is in (the config's first).
    public let defaultCurrency: String

    public init(configuration: StoreConfiguration, defaultCurrency: String) {
        self.configuration = configuration
        self.defaultCurrency = defaultCurrency
    }

    public struct Failure: Sendable, CustomStringConvertible {
        public var test: String
        public var origin: ConfigOrigin
        public var message: String
        public var description: String { "\(origin): test \"\(test)\": \(message)" }
    }

    /// Each case's name and its failures (none: passed).
    public func run(_ file: RuleTestFile, groups: [RuleGroup]) throws -> [(name: String, failures: [Failure])] {
        // Every group at the file's interval, as promtool does, so eval_time means the same for all.
        let groups = groups.map { g in RuleGroup(name: g.name, intervalSeconds: file.intervalSeconds, rules: g.rules, file: g.file) }
        var results: [(String, [Failure])] = []
        for c in file.cases {
            let evaluation = try EventTimeEvaluation(configuration: configuration, groups: groups, startMillis: c.startMillis)
            let wanted = Set(c.expectations.map { c.startMillis + $0.evalOffsetMillis })
            var firingAt: [Int64: [Alert]] = [:]
            evaluation.onRound = { at, _ in
                if wanted.contains(at) { firingAt[at] = evaluation.evaluator.table.active.filter { $0.state == .firing } }
            }
            var failures: [Failure] = []
            for e in c.events.sorted(by: { $0.offsetMillis < $1.offsetMillis }) {
                let values = configuration.inputLabelNames.map { name in e.labels[name] ?? (name == "currency" ? defaultCurrency : "") }
                if let unknown = e.labels.keys.first(where: { !configuration.inputLabelNames.contains($0) && $0 != StoreConfiguration.sourceLabel }) {
                    failures.append(Failure(test: c.name, origin: c.origin, message: "input label \"\(unknown)\" is not a store label (\(configuration.labelNames.joined(separator: ", ")))"))
                    continue
                }
                // `source` picks the input the series come from (default: replay, as in a backtest).
                let source = e.labels[StoreConfiguration.sourceLabel]
                let partition = source.flatMap(EventTimeEvaluation.partition(forSource:))
                if let source, partition == nil {
                    failures.append(Failure(test: c.name, origin: c.origin, message: "input label source=\"\(source)\" must be kafka, http, replay or cost-explorer"))
                    continue
                }
                if let reason = evaluation.apply(StringLabels(values), timestampMillis: c.startMillis + e.offsetMillis, cost: e.cost, partition: partition) {
                    failures.append(Failure(test: c.name, origin: c.origin, message: "input event at \(DurationText.format(seconds: e.offsetMillis / 1000)) was refused by the store: \(reason.rawValue)"))
                }
            }
            if let last = wanted.max() { evaluation.advance(to: last) }
            for x in c.expectations {
                let at = c.startMillis + x.evalOffsetMillis
                let got = (firingAt[at] ?? []).filter { $0.labels["alertname"] == x.alertname }
                let gotAlerts = got.map { a in
                    var labels = a.labels
                    labels["alertname"] = nil
                    return RuleTestFile.ExpectedAlert(labels: labels, annotations: a.annotations)
                }
                var unmatched = gotAlerts
                var missing: [RuleTestFile.ExpectedAlert] = []
                for want in x.alerts {
                    if let i = unmatched.firstIndex(where: { $0.labels == want.labels && (want.annotations == nil || $0.annotations == want.annotations) }) {
                        unmatched.remove(at: i)
                    } else {
                        missing.append(want)
                    }
                }
                guard !missing.isEmpty || !unmatched.isEmpty else { continue }
                func show(_ alerts: [RuleTestFile.ExpectedAlert]) -> String {
                    alerts.isEmpty ? "(none)" : alerts.map { a in
                        let labels = a.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ")
                        let annotations = (a.annotations ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ")
                        return "{\(labels)}" + (annotations.isEmpty ? "" : " annotations {\(annotations)}")
                    }.joined(separator: "\n      ")
                }
                failures.append(Failure(test: c.name, origin: x.origin, message: """
                    alert \(x.alertname) at \(DurationText.format(seconds: x.evalOffsetMillis / 1000)):
                      expected but not firing:
                          \(show(missing))
                      firing but not expected:
                          \(show(unmatched))
                      firing (all):
                          \(show(gotAlerts))
                    """))
            }
            results.append((c.name, failures))
        }
        return results
    }
}
