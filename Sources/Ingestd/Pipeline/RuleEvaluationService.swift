import Alerts
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals
import Stream

/// Evaluates every rule group on its interval against the wall clock, aligned to multiples of
/// the interval (a 1m group runs at :00 of each minute), and watches the rule files: an edit is
/// picked up within a second, so a fixed file is in force within one interval.
struct RuleEvaluationService: Service {
    let registry: RuleRegistry
    let evaluator: RuleEvaluator
    let reloader: RuleReloader
    /// Rounds wait while the data is partial (see `RuleEvaluator.pausedReason`).
    let readiness: Readiness
    /// Receives every round's alerts (routing, grouping, queueing).
    let notifier: Notifier
    /// Publishes the round's transitions to `/v1/stream`.
    let stream: StreamPublisher
    let logger: Logger

    func run() async throws {
        var due: [String: Int64] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if registry.filesChanged { reloader.reload(reason: "file change") }
            let now = WallClock.nowMillis()
            let groups = registry.groups
            var ready: [RuleGroup] = []
            var next: [String: Int64] = [:]
            for group in groups {
                let interval = group.intervalSeconds * 1000
                let at = due[group.name] ?? now
                if at <= now {
                    ready.append(group)
                    next[group.name] = (now / interval + 1) * interval
                } else {
                    next[group.name] = at
                }
            }
            due = next
            let blockers = readiness.partialReasons
            let reason = blockers.isEmpty ? nil : blockers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            if reason != evaluator.pausedReason {
                if let reason { logger.warning("rule evaluation paused: the data is partial", metadata: ["reason": "\(reason)"]) } else { logger.info("rule evaluation resumed") }
                evaluator.pausedReason = reason
            }
            if !ready.isEmpty && reason == nil { evaluate(ready, at: now) }
            let wake = min(due.values.min() ?? now + 1000, now + 1000)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(max(wake - WallClock.nowMillis(), 10))) }
        }
    }

    private func evaluate(_ groups: [RuleGroup], at: Int64) {
        let round = evaluator.evaluate(groups, atMillis: at)
        Timer(label: "ingestd_rule_round_duration_seconds").recordNanoseconds(round.duration.nanoseconds)
        Gauge(label: "ingestd_rule_round_longest_lock_hold_seconds").record(RuleEvaluator.seconds(round.scan.longestLockHold))
        Counter(label: "ingestd_rule_evaluations_total").increment(by: round.rules)
        for t in round.transitions {
            Counter(label: "ingestd_alert_transitions_total", dimensions: [("state", t.state.rawValue)]).increment()
            logger.info("alert \(t.state.rawValue)", metadata: [
                "rule": "\(t.rule)", "fingerprint": "\(t.fingerprint)", "value": "\(t.value)",
                "labels": "\(t.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"])
        }
        let active = evaluator.table.active
        stream.alerts(round.transitions)
        notifier.observe(active: active, transitions: round.transitions, now: WallClock.nowMillis())
        var pending = 0, firing = 0
        for a in active { if a.state == .firing { firing += 1 } else { pending += 1 } }
        Gauge(label: "ingestd_alerts", dimensions: [("state", "pending")]).record(pending)
        Gauge(label: "ingestd_alerts", dimensions: [("state", "firing")]).record(firing)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

/// SIGHUP reloads the rules, and the tokens and TLS certificate (`access`); other config keys
/// are read at start.
struct RuleReloadSignalService: Service {
    let reloader: RuleReloader
    var access: AccessReloader?

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        // Ends at graceful shutdown like every other service (the group waits for all of them).
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                reloader.reload(reason: "SIGHUP")
                access?.reload(reason: "SIGHUP")
            }
        }
    }
}
