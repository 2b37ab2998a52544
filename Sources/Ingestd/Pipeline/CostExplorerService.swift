import Logging
import ServiceLifecycle
import Stream

/// Runs the Cost Explorer poller (restored by the daemon before): a poll every `interval`. A
/// poll that did not complete (credentials refused, retries used up, budget spent) is tried
/// again sooner, with backoff up to the interval, and `/readyz` says why the Cost Explorer
/// series are not current.
///
/// It is also the only writer of the partition's snapshots (as the consumer thread is of a
/// Kafka partition's): two savers could commit an older cut after a newer one. Between polls it
/// saves as soon as the partition's alert state changed, and once more at shutdown.
struct CostExplorerService: Service {
    static let component = "cost_explorer"
    let poller: CostExplorerPoller
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        let c = poller.configuration
        var failures = 0
        // Logged when it changes: one line per problem, not one per retry.
        var lastProblem: String?
        var nextPoll = WallClock.nowMillis()
        var nextAnomalies = nextPoll
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if WallClock.nowMillis() >= nextPoll {
                // Graceful shutdown cancels a poll waiting on Cost Explorer or on a backoff (the
                // request is aborted); pages already applied are saved.
                let outcome = await cancelWhenGracefulShutdown { await poller.poll(nowMillis: WallClock.nowMillis()) }
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                var waitMillis = c.intervalSeconds * 1000
                switch outcome {
                case .complete(let pages):
                    failures = 0
                    if lastProblem != nil { logger.notice("cost explorer polls complete again") }
                    lastProblem = nil
                    readiness.clear(Self.component)
                    logger.debug("cost explorer poll complete", metadata: ["pages": "\(pages)"])
                case .credentials(let problem), .incomplete(let problem):
                    failures += 1
                    readiness.block(Self.component, "cost explorer: \(problem)", partial: false)
                    // Sooner than the interval: rotated credentials or an ended outage recover quickly.
                    waitMillis = min(waitMillis, Backoff.delayMillis(failures: failures, initial: c.retryInitialMillis, maximum: c.retryMaxMillis))
                    if problem != lastProblem {
                        logger.error("cost explorer poll did not complete; the Cost Explorer series are not current", metadata: [
                            "problem": "\(problem)", "next_poll_in_ms": "\(waitMillis)"])
                    }
                    lastProblem = problem
                }
                nextPoll = WallClock.nowMillis() + waitMillis
                if let every = c.awsAnomaliesIntervalSeconds, WallClock.nowMillis() >= nextAnomalies {
                    nextAnomalies = await pollAWSAnomalies(everySeconds: every)
                }
            }
            if poller.hasUnsavedChanges { _ = poller.save() }
            let wait = max(10, min(250, nextPoll - WallClock.nowMillis()))
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(wait)) }
        }
        _ = poller.save()
    }

    /// AWS's own anomalies, after a cost poll: not part of readiness (ingestd's series do not
    /// depend on them); a failure is logged and tried again at the next cost poll.
    private func pollAWSAnomalies(everySeconds: Int64) async -> Int64 {
        let outcome = await cancelWhenGracefulShutdown { await poller.pollAWSAnomalies(nowMillis: WallClock.nowMillis()) }
        switch outcome {
        case .complete:
            return WallClock.nowMillis() + everySeconds * 1000
        case .credentials(let problem), .incomplete(let problem):
            logger.warning("AWS anomalies (GetAnomalies) not fetched; /v1/aws-anomalies keeps the last list", metadata: ["problem": "\(problem)"])
            return WallClock.nowMillis()
        }
    }
}
