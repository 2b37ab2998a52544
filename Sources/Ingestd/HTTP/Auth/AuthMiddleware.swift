import HTTPTypes
import Hummingbird
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
            return refuse(.unauthorized, "missing", path,
                          "this endpoint needs a token: send the header Authorization: Bearer <token> (README: Auth and TLS)",
                          challenge: #"Bearer realm="ingestd""#)
        case .malformed(let why):
            return refuse(.unauthorized, "malformed", path, why, challenge: #"Bearer realm="ingestd", error="invalid_request""#)
        case .token(let s):
            secret = s
        }
        guard let principal = tokens.principal(secret: secret) else {
            return refuse(.unauthorized, "invalid", path,
                          "the token is not valid (unknown, or rotated out by a reload): ask the operator for a current one",
                          challenge: #"Bearer realm="ingestd", error="invalid_token""#)
        }
        guard principal.role >= role else {
            return refuse(.forbidden, "role", path,
                          "token \"\(principal.name)\" has role \(principal.role.rawValue); \(request.method) \(path) needs \(role.rawValue) or above",
                          challenge: #"Bearer realm="ingestd", error="insufficient_scope""#, token: principal.name)
        }
        if unscoped, principal.accounts != nil {
            return refuse(.forbidden, "scope", path,
                          "token \"\(principal.name)\" is limited to some accounts; \(request.method) \(path) spans every account and needs a token without accounts",
                          challenge: #"Bearer realm="ingestd", error="insufficient_scope""#, token: principal.name)
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    private func refuse(_ status: HTTPResponse.Status, _ reason: String, _ path: String, _ message: String,
                        challenge: String, token: String? = nil) -> Response {
        Counter(label: "ingestd_http_auth_refused_total", dimensions: [("reason", reason)]).increment()
        // The token's name only, never the secret or its digest.
        logger.debug("request refused", metadata: ["path": "\(path.prefix(200))", "reason": "\(reason)", "token": "\(token ?? "-")"])
        var response = JSONResponse.error(status, message)
        response.headers[.wwwAuthenticate] = challenge
        return response
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
