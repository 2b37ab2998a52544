import Stream

/// Which rules a series can match, found with one dictionary lookup per label instead of one
/// matcher per rule: each rule is filed under one of its matchers (an equality matcher when it
/// has one). Equality rules are found by value; the others (regex, !=) are tried once per
/// distinct value of their label in a round and the answer is remembered — stores have few
/// distinct accounts, services and regions across many series. Rules without matchers apply
/// to every series.
final class RuleIndex {
    private struct Label {
        let index: Int
        var byValue: [String: [Int]] = [:]
        /// (probe, matcher index) of rules filed here under a non-equality matcher.
        var others: [(probe: Int, matcher: Int)] = []
        var memo: [String: [Int]] = [:]
    }

    private var labels: [Label] = []
    private let everywhere: [Int]
    /// Per probe, the matcher it is filed under (already true for the candidates handed out).
    private let filed: [Int?]
    private let probes: [RuleProbe]

    init(_ probes: [RuleProbe]) {
        self.probes = probes
        var byLabel: [Int: Label] = [:]
        var everywhere: [Int] = []
        var filed: [Int?] = []
        for (p, probe) in probes.enumerated() {
            let matchers = probe.matchers
            let choice = matchers.firstIndex { $0.matcher.op == .equal && $0.labelIndex != nil }
                ?? matchers.firstIndex { $0.labelIndex != nil }
            filed.append(choice)
            guard let m = choice, let label = matchers[m].labelIndex else {
                everywhere.append(p)
                continue
            }
            if matchers[m].matcher.op == .equal {
                byLabel[label, default: Label(index: label)].byValue[matchers[m].matcher.value, default: []].append(p)
            } else {
                byLabel[label, default: Label(index: label)].others.append((p, m))
            }
        }
        labels = byLabel.values.sorted { $0.index < $1.index }
        self.everywhere = everywhere
        self.filed = filed
    }

    /// Calls `body` with each probe whose matchers all accept the series' labels.
    @inline(__always)
    func forEachMatch(_ values: [String], _ body: (Int) -> Void) {
        for p in everywhere where probes[p].matches(values, except: nil) { body(p) }
        for l in labels.indices {
            let value = values[labels[l].index]
            if let equal = labels[l].byValue[value] {
                for p in equal where probes[p].matches(values, except: filed[p]) { body(p) }
            }
            guard !labels[l].others.isEmpty else { continue }
            let others: [Int]
            if let known = labels[l].memo[value] {
                others = known
            } else {
                others = labels[l].others.filter { probes[$0.probe].matchers[$0.matcher].matches(value: value) }.map(\.probe)
                labels[l].memo[value] = others
            }
            for p in others where probes[p].matches(values, except: filed[p]) { body(p) }
        }
    }
}
