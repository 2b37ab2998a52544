import Foundation
import Logging
import Metrics
import Synchronization

/// Polls `GetCostAndUsage` into the `cost-explorer` partition (README "Cost Explorer").
///
/// One poll asks for every period that can still change, page by page. Each page is applied
/// (new amounts added, restated ones replaced) and saved with the partition's windows at once:
/// a page is paid for, so what arrived is kept even when a later page fails. Every request is
/// taken from the daily budget, durably, before it is sent. Throttling, 5xx and network errors
/// are retried with exponential backoff and jitter; refused credentials stop the poll (the
/// provider re-reads them at the next one, so rotated keys recover it).
public final class CostExplorerPoller: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Every page arrived and was applied.
        case complete(pages: Int)
        /// Stopped early (retries used up, budget spent, an answer refused or malformed): what
        /// arrived is applied; the rest is asked again at the next poll.
        case incomplete(String)
        /// The credentials are missing or were refused.
        case credentials(String)
    }

    public static let target = "AWSInsightsIndexService.GetCostAndUsage"
    public static let anomaliesTarget = "AWSInsightsIndexService.GetAnomalies"
    public let configuration: CostExplorerConfiguration
    private let state: CostExplorerState
    private let client: AWSJSONClient
    private let credentials: AWSCredentialProvider
    private let budget: RequestBudget
    private let engine: PartitionEngine
    private let currencies: CostAndUsagePage.Currencies
    private let logger: Logger
    private let awsAnomalies = Mutex<AWSAnomalies?>(nil)

    public init(configuration: CostExplorerConfiguration, client: AWSJSONClient, credentials: AWSCredentialProvider,
                budget: RequestBudget, engine: PartitionEngine, state: CostExplorerState,
                currencies: CostAndUsagePage.Currencies, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.credentials = credentials
        self.budget = budget
        self.engine = engine
        self.state = state
        self.currencies = currencies
        self.logger = logger
    }

    private var key: String { PartitionKey.costExplorer }

    /// Restores the partition (windows and what was polled) from its snapshot; without one it
    /// starts empty and the first poll reaches `lookback` back. Returns what happened, for the log.
    public func restore() -> String {
        switch engine.restore(key) {
        case .restored:
            engine.update(key) { state.markEstimated(writer: $0) }
            let through = state.fetchedThroughMillis.map { "polled through \(UTCCalendar.iso8601(millis: $0))" } ?? "no complete poll yet"
            return "restored from the snapshot (\(through))"
        case .rebuild(let reason), .incompatible(let reason):
            return "starting empty (\(reason)): the first poll reaches \(DurationText.format(seconds: configuration.lookbackSeconds)) back"
        }
    }

    public func poll(nowMillis: Int64) async -> Outcome {
        let creds: AWSCredentials
        do { creds = try credentials.resolve() } catch {
            Counter(label: "ingestd_cost_explorer_credential_errors_total").increment()
            return .credentials(error.description)
        }
        let range = CostAndUsageRequest.range(nowMillis: nowMillis, fetchedThrough: state.fetchedThroughMillis, configuration: configuration)
        var request = CostAndUsageRequest(startMillis: range.start, endMillis: range.end)
        var pages = 0
        var periods = 0
        while true {
            var page: CostAndUsagePage
            switch await fetch(target: Self.target, body: request.body(configuration), creds) {
            case .stop(let outcome): return outcome
            case .body(let bytes):
                do {
                    page = try CostAndUsagePage.decode(bytes, configuration: configuration,
                                                       inputLabels: engine.store.configuration.inputLabelNames, currencies: currencies)
                } catch {
                    return .incomplete(error.description)
                }
            }
            pages += 1
            periods += page.periods
            // A period outside the request would move the rings' heads (a year-9999 date would
            // wipe the partition's history): only what was asked for is applied.
            let asked = page.values.count
            page.values.removeAll { $0.periodStartMillis < range.start || $0.periodStartMillis >= range.end }
            if page.values.count < asked { page.rejected["period_outside_request", default: 0] += asked - page.values.count }
            Counter(label: "ingestd_cost_explorer_pages_total").increment()
            let report = engine.update(key) { state.apply(page.values, writer: $0) }
            record(report, page)
            if let problem = save() { return .incomplete(problem) }
            guard let token = page.nextPageToken else { break }
            request.nextPageToken = token
        }
        state.completed(through: range.end, keepFrom: range.start)
        if let problem = save() { return .incomplete(problem) }
        if periods == 0 {
            logger.warning("Cost Explorer returned no periods", metadata: [
                "from": "\(UTCCalendar.iso8601(millis: range.start))", "to": "\(UTCCalendar.iso8601(millis: range.end))",
                "hint": "is Cost Explorer enabled for this account, and does group_by name valid dimensions?"])
        }
        Gauge(label: "ingestd_cost_explorer_last_complete_poll_timestamp_seconds").record(Double(WallClock.nowMillis()) / 1000)
        return .complete(pages: pages)
    }

    /// AWS's own anomalies (`GetAnomalies`) that started in the last `lookback` (at most 90
    /// days, as AWS keeps them), every page, for `/v1/aws-anomalies`. Same budget and retries
    /// as the cost polls; the last complete list stays until a newer one arrives.
    public func pollAWSAnomalies(nowMillis: Int64) async -> Outcome {
        let creds: AWSCredentials
        do { creds = try credentials.resolve() } catch { return .credentials(error.description) }
        let day: Int64 = 86_400_000
        let today = UTCCalendar.periodStart(containing: nowMillis, stepMillis: day)
        let start = today - min(configuration.lookbackSeconds * 1000, 90 * day)
        var found: [AWSAnomaly] = []
        var token: String?
        var pages = 0
        repeat {
            switch await fetch(target: Self.anomaliesTarget, body: AWSAnomaly.requestBody(startMillis: start, endMillis: today + day, nextPageToken: token), creds) {
            case .stop(let outcome): return outcome
            case .body(let bytes):
                do {
                    let page = try AWSAnomaly.decode(bytes)
                    found += page.anomalies
                    token = page.nextPageToken
                } catch {
                    return .incomplete(error.description)
                }
            }
            pages += 1
        } while token != nil
        awsAnomalies.withLock { $0 = AWSAnomalies(fetchedAtMillis: WallClock.nowMillis(), anomalies: found) }
        return .complete(pages: pages)
    }

    /// The last complete `GetAnomalies` answer.
    public struct AWSAnomalies: Sendable {
        public var fetchedAtMillis: Int64
        public var anomalies: [AWSAnomaly]
    }

    public var latestAWSAnomalies: AWSAnomalies? { awsAnomalies.withLock { $0 } }

    private enum Fetched {
        case body([UInt8])
        case stop(Outcome)
    }

    private enum Answer {
        case ok([UInt8])
        case retry(String, afterSeconds: Int64)
        case credentials(String)
        case refused(String)
    }

    /// One page, retried on throttling, 5xx and network errors.
    private func fetch(target: String, body: [UInt8], _ creds: AWSCredentials) async -> Fetched {
        var attempt = 0
        while true {
            attempt += 1
            let now = WallClock.nowMillis()
            do {
                guard try budget.take(nowMillis: now) else {
                    let problem = "today's request budget (\(budget.perDay) requests, USD \(String(format: "%.2f", Double(budget.perDay) * CostExplorerConfiguration.usdPerRequest))) is spent; polling resumes after 00:00 UTC"
                    Counter(label: "ingestd_cost_explorer_budget_refusals_total").increment()
                    return .stop(.incomplete(problem))
                }
            } catch {
                let problem = "the request budget cannot be read or counted, so no request is sent: \(error)"
                return .stop(.incomplete(problem))
            }
            Counter(label: "ingestd_cost_explorer_requests_total").increment()
            FloatingPointCounter(label: "ingestd_cost_explorer_spend_usd_total").increment(by: CostExplorerConfiguration.usdPerRequest)
            let answer = Self.classify(await call(target, body, creds))
            Counter(label: "ingestd_cost_explorer_answers_total", dimensions: [("outcome", Self.outcomeLabel(answer))]).increment()
            switch answer {
            case .ok(let bytes):
                return .body(bytes)
            case .credentials(let why):
                Counter(label: "ingestd_cost_explorer_credential_errors_total").increment()
                let problem = "credentials from \(creds.origin) were refused: \(why); fix or rotate them (the file is re-read at every poll)"
                return .stop(.credentials(problem))
            case .refused(let why):
                return .stop(.incomplete("request refused: \(why)"))
            case .retry(let why, let afterSeconds):
                guard attempt < configuration.attemptsPerPage else {
                    let problem = "gave up after \(attempt) attempts: \(why)"
                    return .stop(.incomplete(problem))
                }
                let backoff = Backoff.delayMillis(failures: attempt, initial: configuration.retryInitialMillis, maximum: configuration.retryMaxMillis)
                let delay = max(backoff, min(afterSeconds, 3600) * 1000)
                logger.warning("Cost Explorer request failed; retrying", metadata: ["error": "\(why)", "attempt": "\(attempt)", "retry_in_ms": "\(delay)"])
                do { try await Task.sleep(for: .milliseconds(delay)) } catch {
                    return .stop(.incomplete("stopped while waiting to retry"))
                }
            }
        }
    }

    /// The blocking libcurl call, off the cooperative pool; cancelling the task aborts it.
    private func call(_ target: String, _ body: [UInt8], _ creds: AWSCredentials) async -> AWSCallOutcome {
        let client = self.client
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<AWSCallOutcome, Never>) in
                DispatchQueue.global().async {
                    continuation.resume(returning: client.call(target: target, body: body, credentials: creds))
                }
            }
        } onCancel: {
            client.abort()
        }
    }

    private static let throttling: Set<String> = ["LimitExceededException", "ThrottlingException", "TooManyRequestsException",
                                                  "RequestLimitExceeded", "Throttling"]
    private static let credentialErrors: Set<String> = ["ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException",
                                                        "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
                                                        "AccessDeniedException", "IncompleteSignature", "MissingAuthenticationToken",
                                                        "MissingAuthenticationTokenException"]

    private static func classify(_ outcome: AWSCallOutcome) -> Answer {
        switch outcome {
        case .failed(let why):
            return .retry("no answer: \(why)", afterSeconds: 0)
        case .answered(let status, let body, let retryAfter):
            if status == 200 { return .ok(body) }
            let error = AWSErrorBody.parse(body)
            let why = "HTTP \(status)" + (error.map { " \($0.type): \($0.message.prefix(300))" } ?? "")
            if let type = error?.type, throttling.contains(type) { return .retry(why, afterSeconds: retryAfter) }
            if status == 429 || status >= 500 { return .retry(why, afterSeconds: retryAfter) }
            if status == 401 || status == 403 || error.map({ credentialErrors.contains($0.type) }) == true {
                // The type only: AWS's SignatureDoesNotMatch message quotes the canonical request,
                // session token header included, and it must not reach a log or /readyz.
                return .credentials("HTTP \(status)" + (error.map { " \($0.type)" } ?? ""))
            }
            return .refused(why)
        }
    }

    private static func outcomeLabel(_ answer: Answer) -> String {
        switch answer {
        case .ok: "ok"
        case .retry: "retried"
        case .credentials: "credentials"
        case .refused: "refused"
        }
    }

    private func record(_ report: CostExplorerState.ApplyReport, _ page: CostAndUsagePage) {
        let values = "ingestd_cost_explorer_values_total"
        Counter(label: values, dimensions: [("result", "new")]).increment(by: report.new)
        Counter(label: values, dimensions: [("result", "replaced")]).increment(by: report.replaced)
        Counter(label: values, dimensions: [("result", "unchanged")]).increment(by: report.unchanged)
        for (reason, n) in report.refused.merging(page.rejected, uniquingKeysWith: +) {
            Counter(label: values, dimensions: [("result", "rejected"), ("reason", reason)]).increment(by: n)
        }
        if !page.rejected.isEmpty || !report.refused.isEmpty {
            logger.warning("Cost Explorer values left out", metadata: ["answer": "\(page.rejected)", "store": "\(report.refused)"])
        }
    }

    /// Whether the partition changed since its last save (its alert state, between polls).
    public var hasUnsavedChanges: Bool { engine.hasUnsavedChanges(key) }

    /// Saves the partition now (after each page: the amounts were paid for). Call it only from
    /// the task that polls: one writer per partition. Returns the problem, if any.
    @discardableResult
    public func save() -> String? {
        do {
            try engine.save([key], nowMillis: WallClock.nowMillis())
            return nil
        } catch {
            logger.error("cost-explorer snapshot failed", metadata: ["error": "\(error)"])
            return "snapshot failed: \(error)"
        }
    }
}
