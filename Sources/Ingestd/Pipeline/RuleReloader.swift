import Alerts
import Logging
import Metrics
import Stream

/// One reload, whatever asked for it (a file change, SIGHUP, `POST /v1/reload`): all files valid
/// or nothing changes; the outcome is logged and in the metrics, and alerts of rules that are
/// gone are dropped while every remaining rule keeps its state.
struct RuleReloader: Sendable {
    let registry: RuleRegistry
    let evaluator: RuleEvaluator
    /// Takes the new receivers, routes and inhibit rules.
    let notifier: Notifier
    let stream: StreamPublisher
    let logger: Logger

    @discardableResult
    func reload(reason: String) -> RuleRegistry.ReloadStatus {
        let status = registry.reload(nowMillis: WallClock.nowMillis())
        if status.successful {
            evaluator.retain(rules: registry.ruleKeys)
            notifier.configure(registry.notifications, now: WallClock.nowMillis())
            logger.info("rules reloaded", metadata: ["reason": "\(reason)", "groups": "\(registry.groups.count)",
                                                     "rules": "\(registry.ruleKeys.count)"])
        } else {
            logger.error("rule reload failed; the previous rules keep running", metadata: [
                "reason": "\(reason)", "errors": "\(status.errors.joined(separator: "; "))"])
        }
        Self.record(status)
        stream.reload(status)
        return status
    }

    static func record(_ status: RuleRegistry.ReloadStatus) {
        Gauge(label: "ingestd_rules_last_reload_successful").record(status.successful ? 1 : 0)
        Gauge(label: "ingestd_rules_last_reload_timestamp_seconds").record(Double(status.atMillis) / 1000)
        Counter(label: "ingestd_rules_reloads_total", dimensions: [("result", status.successful ? "success" : "failure")]).increment()
    }
}
