import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Stream
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 for the delivery tests, whose answer to each request is
/// chosen by a script: a status (with headers and body), a hang (never answer), or a TCP reset.
/// It records every request with the wall-clock millisecond it arrived.
final class LoopbackReceiver: Sendable {
    struct Request: Sendable {
        let receivedAt: Int64
        let path: String
        let headers: [String: String]  // lowercased names
        let body: [UInt8]
        var idempotencyKey: String? { headers["idempotency-key"] }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    }

    enum Reply: Sendable {
        case status(Int, headers: [(String, String)] = [], body: String = "")
        case hang
        case reset
    }

    /// Chooses the reply to the `index`th request (0-based, counting every request received).
    typealias Script = @Sendable (_ index: Int, _ request: Request) -> Reply

    private struct State {
        var requests: [Request] = []
        var connections = 0
        var closedHanging = 0
        var script: Script
    }

    /// Shared with the connection handlers (a Mutex cannot be passed around by itself).
    private final class Shared: Sendable {
        let state: Mutex<State>
        init(_ script: @escaping Script) { state = Mutex(State(script: script)) }
    }

    private let shared: Shared
    private let channel: any Channel
    let port: Int

    var url: String { "http://127.0.0.1:\(port)/hook/TOKEN-s3cr3t-path" }

    init(_ script: @escaping Script = { _, _ in .status(200) }) async throws {
        let shared = Shared(script)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                shared.state.withLock { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(shared: shared))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.shared = shared
    }

    func setScript(_ script: @escaping Script) { shared.state.withLock { $0.script = script } }

    var requests: [Request] { shared.state.withLock { $0.requests } }
    var connections: Int { shared.state.withLock { $0.connections } }
    /// Connections the client closed while this server was hanging on their request.
    var closedHanging: Int { shared.state.withLock { $0.closedHanging } }

    func close() async throws { try await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let shared: Shared
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        var hanging = false

        init(shared: Shared) { self.shared = shared }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let request = Request(receivedAt: WallClock.nowMillis(), path: head.uri, headers: headers, body: body)
                let reply = shared.state.withLock { s in
                    let index = s.requests.count
                    s.requests.append(request)
                    return s.script(index, request)
                }
                respond(reply, context: context)
            }
        }

        private func respond(_ reply: Reply, context: ChannelHandlerContext) {
            switch reply {
            case .status(let code, let extra, let text):
                var headers = HTTPHeaders([("content-length", "\(text.utf8.count)"), ("content-type", "text/plain")])
                for (name, value) in extra { headers.add(name: name, value: value) }
                let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .hang:
                hanging = true
            case .reset:
                // SO_LINGER 0: close sends an RST instead of a FIN.
                // (On the channel's event loop, the option is set before `close` runs.)
                if let socket = context.channel as? any SocketOptionProvider {
                    _ = socket.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                }
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if hanging { shared.state.withLock { $0.closedHanging += 1 } }
            context.fireChannelInactive()
        }
    }
}

/// Polls `condition` every 10 ms; fails after `seconds` (a safety net against a hung test, far
/// beyond anything the conditions need, never a performance assertion).
func eventually(_ what: String, seconds: Double = 120, _ condition: () throws -> Bool) async throws {
    let start = ContinuousClock.now
    while try !condition() {
        if ContinuousClock.now - start > .seconds(seconds) {
            throw WaitTimeout(description: "gave up waiting for: \(what)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

struct WaitTimeout: Error, CustomStringConvertible { let description: String }
