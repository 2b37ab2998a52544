import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Metrics

/// Bearer tokens on every route of the router, the WebSocket upgrade of /v1/stream included:
/// 401 without a token or with an unknown one, 403 when the token's role (or its account
/// scope) does not allow the route. Sets `context.principal` for the endpoints' scope filters.
/// With no tokens configured every request passes (the daemon then listens on loopback only).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = IngestdRequestContext

    let tokens: TokenStore
    let logger: Logger

    static let streamPath = "/v1/stream"
    static let subprotocolPrefix = "bearer."

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let settings = tokens.current
        guard settings.enabled else { return try await next(request, context) }
        let path = request.uri.path
        guard case .role(let role, let unscoped) = AccessPolicy.requirement(method: request.method, path: path, metricsOpen: settings.metricsOpen) else {
            return try await next(request, context)
        }
        let secret: Substring
        switch Self.secret(request) {
        case .none:
            return try await refuse(request, context, .unauthorized, "missing",
                          "this endpoint needs a token: send the header Authorization: Bearer <token> (README: Auth and TLS)",
                          challenge: #"Bearer realm="ingestd""#)
        case .malformed(let why):
            return try await refuse(request, context, .unauthorized, "malformed", why, challenge: #"Bearer realm="ingestd", error="invalid_request""#)
        case .token(let s):
            secret = s
        }
        guard let principal = tokens.principal(secret: secret) else {
            return try await refuse(request, context, .unauthorized, "invalid",
                          "the token is not valid (unknown, or rotated out by a reload): ask the operator for a current one",
                          challenge: #"Bearer realm="ingestd", error="invalid_token""#)
        }
        guard principal.role >= role else {
            return try await refuse(request, context, .forbidden, "role",
                          "token \"\(principal.name)\" has role \(principal.role.rawValue); \(request.method) \(path) needs \(role.rawValue) or above",
                          challenge: #"Bearer realm="ingestd", error="insufficient_scope""#, token: principal.name)
        }
        if unscoped, principal.accounts != nil {
            return try await refuse(request, context, .forbidden, "scope",
                          "token \"\(principal.name)\" is limited to some accounts; \(request.method) \(path) spans every account and needs a token without accounts",
                          challenge: #"Bearer realm="ingestd", error="insufficient_scope""#, token: principal.name)
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    private func refuse(_ request: Request, _ context: Context, _ status: HTTPResponse.Status, _ reason: String, _ message: String,
                        challenge: String, token: String? = nil) async throws -> Response {
        Counter(label: "ingestd_http_auth_refused_total", dimensions: [("reason", reason)]).increment()
        // The token's name only, never the secret or its digest.
        logger.debug("request refused", metadata: ["path": "\(request.uri.path.prefix(200))", "reason": "\(reason)", "token": "\(token ?? "-")"])
        if Self.isStreamUpgrade(request) {
            return try await refuseStream(request, context, status, message)
        }
        var response = JSONResponse.error(status, message)
        response.headers[.wwwAuthenticate] = challenge
        return response
    }

    /// A refused WebSocket upgrade: the upgrade machinery answers anything but its own 200 with a
    /// bare 400, and a browser shows neither status nor body. So the socket opens (with the
    /// subprotocol the client asked for, or a browser would drop it unexplained), carries one
    /// `{"type":"error"}` message saying what to do, and closes with 1008 (policy violation).
    private func refuseStream(_ request: Request, _ context: Context, _ status: HTTPResponse.Status, _ message: String) async throws -> Response {
        let offered = request.headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var answer = HTTPFields()
        if offered.contains(Self.streamSubprotocol) { answer[.secWebSocketProtocol] = Self.streamSubprotocol }
        let headers = answer
        let text = String(decoding: (try? JSONSerialization.data(withJSONObject: ["type": "error", "status": Int(status.code), "message": message] as [String: Any], options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        // A close reason is at most 123 bytes.
        let reason = status == .unauthorized ? "401 unauthorized: token missing or not valid" : "403 forbidden: the token may not read this stream"
        let refusal = WebSocketUpgradeMiddleware<Context>(shouldUpgrade: { _, _ in .upgrade(headers) }) { _, outbound, _ in
            try await outbound.write(.text(text))
            try await outbound.close(.policyViolation, reason: reason)
        }
        return try await refusal.handle(request, context: context) { _, _ in Response(status: .ok) }
    }

    static let streamSubprotocol = "ingestd.v1"

    static func isStreamUpgrade(_ request: Request) -> Bool {
        request.uri.path == streamPath && request.headers[values: .upgrade].contains { $0.lowercased() == "websocket" }
    }

    enum Presented: Equatable {
        case none
        case malformed(String)
        case token(Substring)
    }

    /// `Authorization: Bearer T`; on /v1/stream also `Sec-WebSocket-Protocol: …, bearer.T`
    /// (a browser cannot set headers on a WebSocket).
    static func secret(_ request: Request) -> Presented {
        let authorizations = request.headers[values: .authorization]
        if !authorizations.isEmpty {
            guard authorizations.count == 1 else { return .malformed("send one Authorization header, not \(authorizations.count)") }
            return bearer(authorizations[0])
        }
        guard request.uri.path == streamPath, request.method == .get else { return .none }
        for value in request.headers[values: .secWebSocketProtocol] {
            for item in value.split(separator: ",") {
                let proto = item.trimmingCharacters(in: .whitespaces)
                if proto.hasPrefix(subprotocolPrefix) {
                    return checked(Substring(proto.dropFirst(subprotocolPrefix.count)))
                }
            }
        }
        return .none
    }

    static func bearer(_ header: String) -> Presented {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .malformed("the Authorization header must be \"Bearer <token>\"")
        }
        return checked(parts[1].drop { $0 == " " })
    }

    private static func checked(_ token: Substring) -> Presented {
        guard (1...AuthSettings.maxSecretBytes).contains(token.utf8.count),
              token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return .malformed("a token is 1 to \(AuthSettings.maxSecretBytes) printable ASCII characters")
        }
        return .token(token)
    }
}
