import Hummingbird
import HummingbirdWebSocket

/// Every request's context: who is asking (set by the auth middleware) and, for `/v1/stream`,
/// the WebSocket upgrade.
struct IngestdRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// nil: auth is off (no tokens configured), or the route is open (/healthz, /readyz).
    var principal: Principal?

    init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        principal = nil
    }

    /// What this request may see: the principal's accounts, or everything.
    var scope: AccessScope { principal?.scope ?? .unrestricted }
}
