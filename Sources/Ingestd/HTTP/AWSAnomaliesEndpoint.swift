import Hummingbird
import Stream

/// `GET /v1/aws-anomalies`: Cost Explorer's own anomalies (`GetAnomalies`), to compare AWS's
/// view with ingestd's. A token scoped to accounts sees the anomalies with a root cause in
/// its accounts, and only those root causes.
struct AWSAnomaliesEndpoint {
    let poller: CostExplorerPoller?

    struct Answer: Encodable {
        let fetchedAt: String?
        let anomalies: [AWSAnomaly]
    }

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/v1/aws-anomalies") { _, context -> Response in
            guard let poller, poller.configuration.awsAnomaliesIntervalSeconds != nil else {
                return JSONResponse.error(.notFound, "AWS anomalies are not fetched: set cost_explorer.enabled and cost_explorer.aws_anomalies (README: Cost Explorer)")
            }
            let latest = poller.latestAWSAnomalies
            let scope = context.scope
            var anomalies = latest?.anomalies ?? []
            if scope.isRestricted {
                anomalies = anomalies.compactMap { a in
                    var visible = a
                    visible.rootCauses = a.rootCauses.filter { scope.allows(account: $0.linkedAccount) }
                    return visible.rootCauses.isEmpty ? nil : visible
                }
            }
            return JSONResponse.make(Answer(fetchedAt: latest.map { UTCCalendar.iso8601(millis: $0.fetchedAtMillis) }, anomalies: anomalies))
        }
    }
}
