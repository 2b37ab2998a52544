import Alerts
import Foundation
import Hummingbird
import NIOPosix
import Stream

/// GET /v1/notifications?receiver=…&state=…&limit=…: the outbox receipts, newest first: each
/// notification's receiver, idempotency key, state (queued, retrying, delivered, dead), attempts,
/// next attempt and last error. `state` is one of those four; `limit` 1–10,000 (default 100).
struct NotificationsEndpoint {
    let outbox: Outbox

    static let maxLimit = 10_000
    static let defaultLimit = 100

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/v1/notifications") { request, context in
            let scope = context.scope
            let params = request.uri.queryParameters
            let receiver = params["receiver"].map(String.init)
            var state: Receipt.State?
            var limit = Self.defaultLimit
            if let text = params["state"] {
                guard let parsed = Receipt.State(rawValue: String(text)) else {
                    let allowed = Receipt.State.allCases.map(\.rawValue).joined(separator: ", ")
                    return JSONResponse.error(.badRequest, "state must be one of \(allowed), got \(text)")
                }
                state = parsed
            }
            if let text = params["limit"] {
                guard let n = Int(text), (1...Self.maxLimit).contains(n) else {
                    return JSONResponse.error(.badRequest, "limit must be a whole number from 1 to \(Self.maxLimit), got \(text)")
                }
                limit = n
            }
            let (filter, count) = (state, limit)
            do {
                let receipts = try await NIOThreadPool.singleton.runIfActive {
                    // A scoped token sees a notification only when every alert in it is one of its accounts'.
                    try outbox.receipts(receiver: receiver, state: filter, limit: count,
                                        visible: scope.isRestricted ? { $0.alerts.allSatisfy { scope.allows(labels: $0.labels) } } : nil)
                }
                return JSONResponse.make(Answer(notifications: receipts.map(Row.init)))
            } catch {
                return JSONResponse.error(.internalServerError, "notification receipts could not be read: \(error)")
            }
        }
    }

    struct Answer: Encodable { let notifications: [Row] }

    /// One receipt; times in RFC 3339 like the other endpoints, absent when not applicable.
    struct Row: Encodable {
        let id: Int64
        let receiver: String
        let fallbackOf: String?
        let groupKey: String
        let idempotencyKey: String
        let status: String
        let alerts: Int
        let state: String
        let attempts: Int
        let createdAt: String
        let nextAttemptAt: String?
        let lastError: String?
        let deliveredAt: String?
        let deadAt: String?

        init(_ r: Receipt) {
            id = r.id
            receiver = r.receiver
            fallbackOf = r.fallbackOf
            groupKey = r.groupKey
            idempotencyKey = r.idempotencyKey
            status = r.status.rawValue
            alerts = r.alerts
            state = r.state.rawValue
            attempts = r.attempts
            createdAt = UTCCalendar.iso8601(millis: r.createdAt)
            nextAttemptAt = r.nextAttemptAt.map(UTCCalendar.iso8601(millis:))
            lastError = r.lastError
            deliveredAt = r.deliveredAt.map(UTCCalendar.iso8601(millis:))
            deadAt = r.deadAt.map(UTCCalendar.iso8601(millis:))
        }
    }
}
