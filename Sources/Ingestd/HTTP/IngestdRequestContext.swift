import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Every request's context: who is asking (set by the auth middleware) and, for `/v1/stream`,
/// the WebSocket upgrade.
struct IngestdRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// nil: auth is off (no tokens configured), or the route is open (/healthz, /readyz).
    var principal: Principal?
    /// The connection: `/v1/stream` writes its frames to it once upgraded (StreamSocket).
    let channel: any Channel

    init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        principal = nil
        channel = source.channel
    }

    /// What this request may see: the principal's accounts, or everything.
    var scope: AccessScope { principal?.scope ?? .unrestricted }
}
