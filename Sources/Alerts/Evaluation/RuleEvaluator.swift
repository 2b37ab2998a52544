import Stream
import Synchronization

/// Evaluates rule groups against the window store and moves their alerts through the life cycle.
///
/// One round = the groups due at one instant: every rule plans its spans once, ONE scan of the
/// store feeds all of them (rules are filed by an equality matcher, so a series is tried only
/// against the rules that can match it), then each alert takes one `AlertLifecycle` step and the
/// changes are applied under the owning partition's lock (`PartitionEngine.updateExisting`), so
/// they are saved with that partition's windows and offset.
///
/// Rounds run one at a time (the live scheduler or a backtest); the API reads `health` and the
/// `AlertTable` concurrently.
public final class RuleEvaluator: Sendable {
    public let engine: PartitionEngine
    public let table: AlertTable
    /// Anomaly rules' detectors, saved with the partitions like alerts.
    public let detectors = DetectorTable()
    /// Per anomaly rule, the end of the newest step its detectors were fed (in memory: after a
    /// restart the first round looks back `AnomalySteps.catchUp` steps, and each detector takes
    /// only the steps after its own last one).
    let fedThroughStore = Mutex<[String: Int64]>([:])
    /// Held for a whole round, and by feedback: a round reads every detector at its start and
    /// writes them back at its end, so a change in between would be lost.
    let roundLock = Mutex<Void>(())
    /// Anomaly rules with a group that has no detector yet: their next round is a seed round.
    let anomalySeedRequests = Mutex<Set<String>>([])
    private let healthByRule = Mutex<[String: RuleHealth]>([:])
    private let paused = Mutex<String?>(nil)
    /// Each rule's groups from its last round (rounds run one at a time; reload clears them).
    private let groupCaches = Mutex<[String: RuleGroups]>([:])

    public init(engine: PartitionEngine, table: AlertTable) {
        self.engine = engine
        self.table = table
        engine.register(detectors)
    }

    public static func ruleKey(group: String, rule: String) -> String { "\(group)/\(rule)" }

    /// What a round did.
    public struct Round: Sendable {
        public var transitions: [AlertTransition] = []
        public var scan = ScanStatistics()
        public var rules = 0
        public var duration: Duration = .zero
    }

    /// Why live rounds are skipped right now (the data is partial: restoring, rebalancing,
    /// catching up), or nil. A rule evaluated on half the partitions would resolve alerts that
    /// are not over and fire ones that are not real.
    public var pausedReason: String? {
        get { paused.withLock { $0 } }
        set { paused.withLock { $0 = newValue } }
    }

    public func health(_ ruleKey: String) -> RuleHealth { healthByRule.withLock { $0[ruleKey] ?? RuleHealth() } }

    /// Forgets health of rules that are gone (reload).
    public func retain(rules: Set<String>) {
        healthByRule.withLock { $0 = $0.filter { rules.contains($0.key) } }
        // A rule that kept its name may have changed what it selects or groups by.
        groupCaches.withLock { $0 = [:] }
        table.retain(rules: rules)
        detectors.retain(rules: rules)
        fedThroughStore.withLock { $0 = $0.filter { rules.contains($0.key) } }
        anomalySeedRequests.withLock { $0 = $0.filter { rules.contains($0) } }
    }

    /// Evaluates `groups` at `atMillis` (wall clock live, the scheduled event time in backtest).
    @discardableResult
    public func evaluate(_ groups: [RuleGroup], atMillis at: Int64) -> Round {
        roundLock.withLock { _ in evaluateRound(groups, atMillis: at) }
    }

    private func evaluateRound(_ groups: [RuleGroup], atMillis at: Int64) -> Round {
        let clock = ContinuousClock()
        let began = clock.now
        var round = Round()
        let store = engine.store
        let configuration = store.configuration

        // 1. Plan every rule's spans (a rule whose window no ring holds reports why and waits).
        var probes: [RuleProbe] = []
        var existingByProbe: [[AlertKey: Alert]] = []
        let alertsByRule = table.alertsByRule()
        var caches = groupCaches.withLock { $0 }
        for group in groups {
            for rule in group.rules {
                let key = Self.ruleKey(group: group.name, rule: rule.name)
                let existing = alertsByRule[key] ?? [:]
                do {
                    let probe = try plan(rule, key: key, existing: existing, configuration: configuration, at: at, cache: caches[key])
                    probes.append(probe)
                    existingByProbe.append(existing)
                } catch {
                    setHealth(key) { $0.status = .err; $0.lastError = error.message; $0.lastEvaluationMillis = at }
                }
            }
        }
        round.rules = probes.count

        // 2. One scan for all of them.
        let scanned = probes.filter(\.needsScan)
        if !scanned.isEmpty {
            let index = RuleIndex(scanned)
            round.scan = store.scan { series in
                let labels = series.labels
                index.forEachMatch(labels) { p in scanned[p].add(series, labels: labels) }
            }
            for probe in scanned {
                probe.cache.finishScan()
                caches[probe.ruleKey] = probe.cache
            }
            groupCaches.withLock { $0 = caches }
        }

        // 3. One life-cycle step per alert; changes applied per owning partition.
        var changesByOwner: [String: OwnerChanges] = [:]
        for (p, probe) in probes.enumerated() {
            let ruleBegan = clock.now
            let existing = existingByProbe[p]
            let observations: [String: AlertObservation]
            if case .anomaly(let settings) = probe.rule.kind {
                let (found, learned) = observeAnomalies(probe, settings, existing: existing)
                observations = found
                for (owner, key, detector, labels) in learned { changesByOwner[owner, default: OwnerChanges()].detectors.append((key, detector, labels)) }
            } else {
                observations = observe(probe, existing: existing, at: at)
            }
            var fingerprints = Set(existing.keys.map(\.fingerprint))
            fingerprints.formUnion(observations.keys)
            for fingerprint in fingerprints.sorted() {
                let key = AlertKey(rule: probe.ruleKey, fingerprint: fingerprint)
                let before = existing[key]
                let observation = observations[fingerprint]
                let (after, transitions) = AlertLifecycle.step(before, observation, rule: probe.rule, ruleKey: probe.ruleKey,
                                                               at: at, render: { render(probe.rule, $0) })
                guard let owner = before?.owner ?? observation?.owner else { continue }
                if after != before || !transitions.isEmpty {
                    changesByOwner[owner, default: OwnerChanges()].changes.append((key, after))
                    changesByOwner[owner, default: OwnerChanges()].transitions.append(contentsOf: transitions)
                }
            }
            let seconds = Self.seconds(clock.now - ruleBegan)
            setHealth(probe.ruleKey) {
                $0.status = .ok
                $0.lastError = nil
                $0.lastEvaluationMillis = at
                $0.lastDurationSeconds = seconds
            }
        }
        // A partition released since the scan takes nothing: its alerts went with it.
        for (owner, change) in changesByOwner.sorted(by: { $0.key < $1.key }) {
            let applied: Void? = engine.updateExisting(owner) { _ in
                table.apply(partition: owner, changes: change.changes, transitions: change.transitions)
                detectors.apply(partition: owner, change.detectors)
            }
            if applied != nil { round.transitions.append(contentsOf: change.transitions) }
        }
        round.duration = clock.now - began
        return round
    }

    /// What one round changes in one owning partition.
    private struct OwnerChanges {
        var changes: [(AlertKey, Alert?)] = []
        var transitions: [AlertTransition] = []
        var detectors: [(AlertKey, AnomalyDetector, [String: String])] = []
    }

    public static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func setHealth(_ key: String, _ body: (inout RuleHealth) -> Void) {
        healthByRule.withLock { body(&$0[key, default: RuleHealth()]) }
    }

    private func plan(_ rule: Rule, key: String, existing: [AlertKey: Alert], configuration: StoreConfiguration, at: Int64,
                      cache: RuleGroups?) throws(QueryError) -> RuleProbe {
        let store = engine.store
        let span: WindowQuery.Span
        var previous: PlannedSpan?
        switch rule.kind {
        case .threshold:
            span = .last(seconds: rule.windowSeconds)
        case .change(let offset, _):
            span = .last(seconds: rule.windowSeconds)
            previous = try store.plan(span, offsetSeconds: offset, atMillis: at)
        case .budget:
            span = .monthToDate
        case .anomaly(let settings):
            return try planAnomaly(rule, settings, key: key, configuration: configuration, at: at, cache: cache)
        }
        let main = try store.plan(span, atMillis: at)
        let noData = try rule.noDataSeconds.map { seconds throws(QueryError) in try store.plan(.last(seconds: seconds), atMillis: at) }
        // Earlier windows of firing alerts, re-read to notice late data: only their buckets that
        // were already closed then (events still arriving for the bucket being filled are on
        // time). A window the rings no longer hold (a long downtime) is simply not re-checked.
        var rechecks: [Int64: PlannedSpan] = [:]
        for alert in existing.values where alert.state == .firing && alert.checkedAt < at && rechecks[alert.checkedAt] == nil {
            rechecks[alert.checkedAt] = (try? store.plan(span, atMillis: alert.checkedAt))?.closed
        }
        return RuleProbe(rule: rule, ruleKey: key, configuration: configuration, main: main, previous: previous,
                         noData: noData, rechecks: rechecks, cache: cache)
    }

    /// Each group's observations, by alert fingerprint.
    private func observe(_ probe: RuleProbe, existing: [AlertKey: Alert], at: Int64) -> [String: AlertObservation] {
        let rule = probe.rule
        var out: [String: AlertObservation] = [:]
        let windowText = DurationText.format(seconds: rule.windowSeconds)
        // Most groups neither match nor have an alert: they cost numbers only, no labels or
        // fingerprint (1,000 rules × 100 groups would otherwise build 100,000 of each a round).
        let groupsWithAlerts = Set(existing.values.map { a in probe.byNames.map { a.labels[$0] ?? "" } })
        for group in probe.groups where group.series > 0 {
            let known = !groupsWithAlerts.isEmpty && groupsWithAlerts.contains(group.values)
            var base: [String: String]?
            func labels(_ extra: (String, String)?) -> [String: String] {
                if base == nil {
                    var l = rule.labels
                    for (name, value) in zip(probe.byNames, group.values) { l[name] = value }
                    l["alertname"] = rule.name
                    l["severity"] = rule.severity
                    base = l
                }
                guard let (name, value) = extra else { return base! }
                var l = base!
                l[name] = value
                return l
            }
            func add(_ extra: (String, String)?, value: Double, measure: Double, matches: Bool, holds: Bool,
                     noData: Bool = false, context: (inout AlertTemplateContext) -> Void = { _ in }) {
                guard matches || known else { return }
                // Sums over many buckets (or a budget's percentage of a tiny amount) can leave the
                // Double range: saturate, so alerts, history and the API always hold numbers.
                let value = Self.finite(value), measure = Self.finite(measure)
                let labels = labels(extra)
                let fingerprint = AlertFingerprint.of(labels)
                var template = AlertTemplateContext(alertname: rule.name, severity: rule.severity, labels: labels, value: value,
                                                    measure: measure, threshold: rule.threshold, window: windowText)
                context(&template)
                // Late data: the window this alert was last evaluated on, re-read now.
                var rechecked: Double?
                if !noData, let alert = existing[AlertKey(rule: probe.ruleKey, fingerprint: fingerprint)], alert.state == .firing {
                    rechecked = group.rechecks[alert.checkedAt]
                }
                out[fingerprint] = AlertObservation(
                    labels: labels, fingerprint: fingerprint, value: value, measure: measure, matches: matches, holds: holds,
                    windowSum: noData ? 0 : group.closedSum, recheckedSum: rechecked, owner: group.owner, template: template)
            }
            let value = group.main.value(rule.aggregation, buckets: probe.main.buckets)
            switch rule.kind {
            case .anomaly:
                break  // observeAnomalies
            case .threshold:
                add(nil, value: value, measure: value, matches: rule.matches(value), holds: rule.holds(value))
            case .change(_, let minChange):
                let before = group.previous.value(rule.aggregation, buckets: probe.previous?.buckets ?? 1)
                let change = value - before
                let measure = Self.percentChange(from: before, by: change)
                let material = change.magnitude >= minChange
                add(nil, value: value, measure: measure, matches: material && rule.matches(measure),
                    holds: material && rule.holds(measure)) {
                    $0.previous = before
                    $0.change = change
                }
            case .budget(let amount, let bases):
                let monthStart = UTCCalendar.monthStart(containing: at)
                let elapsed = at - monthStart
                for basis in bases {
                    let amountAtBasis: Double
                    switch basis {
                    case .actual: amountAtBasis = group.main.sum
                    case .forecast:
                        // A projection from less than a day of a month says little: none yet.
                        guard elapsed >= 86_400_000 else { continue }
                        let length = Double(UTCCalendar.nextMonthStart(containing: at) - monthStart)
                        amountAtBasis = group.main.sum * (length / Double(elapsed))
                    }
                    let measure = amountAtBasis / amount * 100
                    add(("basis", basis.rawValue), value: amountAtBasis, measure: measure, matches: rule.matches(measure),
                        holds: rule.holds(measure)) {
                        $0.budget = amount
                        $0.basis = basis.rawValue
                        $0.window = "month-to-date"
                    }
                }
            }
            if rule.noDataSeconds != nil {
                let silent = group.noDataCount == 0
                add(("no_data", "true"), value: 0, measure: 0, matches: silent, holds: silent, noData: true) { $0.noData = true }
            }
        }
        return out
    }

    static func finite(_ x: Double) -> Double {
        x.isNaN ? 0 : max(-Double.greatestFiniteMagnitude, min(Double.greatestFiniteMagnitude, x))
    }

    /// The change in percent; from 0, any rise is +1e9 % (a finite stand-in for "infinitely more").
    static func percentChange(from before: Double, by change: Double) -> Double {
        guard before != 0 else { return change > 0 ? 1e9 : (change < 0 ? -1e9 : 0) }
        return max(-1e9, min(1e9, change / before.magnitude * 100))
    }

    private func render(_ rule: Rule, _ context: AlertTemplateContext) -> [String: String] {
        var out: [String: String] = [:]
        for (name, template) in rule.annotations {
            do { out[name] = try template.render(context) } catch { out[name] = "(annotation \(name) failed to render: \(error))" }
        }
        // An anomaly alert always says why, whatever its templates (which win on a name clash):
        // these reach the API, webhooks and Slack as annotations.
        if let expected = context.expected, let lower = context.lower, let upper = context.upper {
            let money = { (x: Double) in TemplateFormat.money(x, currency: context.currency) }
            let builtIn = [
                "observed": money(context.value),
                "expected": money(expected),
                "band": "\(money(lower)) to \(money(upper))",
                "impact": money(context.measure),
                "reason": context.reason ?? "",
                "contributors": context.contributors ?? "",
            ]
            out.merge(builtIn) { mine, _ in mine }
        }
        return out
    }
}
