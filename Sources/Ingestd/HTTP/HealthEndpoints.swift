import Hummingbird

/// /healthz: the process is alive and serving. /readyz: it has restored its state and its
/// inputs are connected and caught up (a load balancer or rollout waits for this).
struct HealthEndpoints {
    let readiness: Readiness

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/healthz") { _, _ in JSONResponse.make(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            let reasons = readiness.reasons
            if reasons.isEmpty { return JSONResponse.make(["status": "ready"]) }
            return JSONResponse.make(NotReady(status: "not ready", reasons: reasons), status: .serviceUnavailable)
        }
    }

    private struct NotReady: Encodable {
        let status: String
        let reasons: [String: String]
    }
}
