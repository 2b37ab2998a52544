import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy in front of a Kafka-compatible broker that makes its ApiVersions v3+
/// responses readable by librdkafka < 2.2 (see `ApiVersionsRewriter`). Every other byte
/// is forwarded unchanged, both ways.
///
/// Used for tests and the demo against Tansu; a real Kafka broker needs no proxy.
/// The broker must advertise the proxy's address, so that the connections a client opens
/// after reading metadata come through here too.
///
/// ```swift
/// let proxy = try await KafkaCompatProxy.bind(listenHost: "127.0.0.1", listenPort: 0,
///                                             upstreamHost: "127.0.0.1", upstreamPort: 9092,
///                                             logger: logger)
/// print(proxy.port)          // the port picked for 0
/// await proxy.run()          // until the task is cancelled
/// ```
enum KafkaCompatProxy {
    /// Binds the listening socket and starts accepting connections right away; the
    /// result tells the port (useful with `listenPort: 0`). Keep it running with
    /// `run()` or release it with `close()`.
    static func bind(
        listenHost: String,
        listenPort: Int,
        upstreamHost: String,
        upstreamPort: Int,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(KafkaCompatProxyError) -> BoundKafkaCompatProxy {
        let connections = ProxiedChannels()
        let upstream = UpstreamConnector(
            host: upstreamHost, port: upstreamPort, connections: connections, logger: logger)
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            // Kafka is request/response: Nagle's delay would stall every round trip.
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { downstream in upstream.pair(with: downstream) }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: listenHost, port: listenPort).get()
        } catch {
            throw .cannotListen(host: listenHost, port: listenPort, reason: "\(error)")
        }
        let port = server.localAddress?.port ?? listenPort
        logger.info(
            "Kafka compat proxy listening",
            metadata: ["listen": "\(listenHost):\(port)", "upstream": "\(upstreamHost):\(upstreamPort)"])
        return BoundKafkaCompatProxy(
            host: listenHost, port: port, serverChannel: server, connections: connections)
    }
}

enum KafkaCompatProxyError: Error, CustomStringConvertible {
    case cannotListen(host: String, port: Int, reason: String)

    var description: String {
        switch self {
        case .cannotListen(let host, let port, let reason):
            "Kafka compat proxy cannot listen on \(host):\(port) (\(reason)): pick a free port, or 0 for any"
        }
    }
}

/// A listening proxy. It proxies from the moment it is bound; `run()` only holds it
/// open for the lifetime of a task.
struct BoundKafkaCompatProxy: Sendable {
    let host: String
    let port: Int
    fileprivate let serverChannel: any Channel
    fileprivate let connections: ProxiedChannels

    /// "host:port" to hand to Kafka clients.
    var address: String { "\(host):\(port)" }

    /// Proxies until the calling task is cancelled, then closes the listener and every
    /// proxied connection.
    func run() async {
        await withTaskCancellationHandler {
            try? await serverChannel.closeFuture.get()
        } onCancel: {
            serverChannel.close(promise: nil)
        }
        await close()
    }

    /// Stops listening and closes every proxied connection. Safe to call more than once.
    func close() async {
        try? await serverChannel.close()
        await connections.closeAll()
    }
}

// MARK: - Per-connection wiring

/// Opens the upstream connection for each accepted client and glues the two pipelines.
private struct UpstreamConnector: Sendable {
    let host: String
    let port: Int
    let connections: ProxiedChannels
    let logger: Logger

    /// Runs as the accepted channel's initializer, so the client is not read from until
    /// the upstream connection exists; if the upstream refuses, the client is closed.
    func pair(with downstream: any Channel) -> EventLoopFuture<Void> {
        connections.track(downstream)
        let loop = downstream.eventLoop
        // Both channels live on one event loop, so the glue handlers may call each other
        // directly and share the tracker without locks.
        let tracker = ApiVersionsRequestTracker()
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
        let upstreamHandlers = NIOLoopBound((tracker, upstreamGlue), eventLoop: loop)
        let logger = logger
        let connections = connections
        let upstreamAddress = "\(host):\(port)"

        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { upstream in
                upstream.eventLoop.makeCompletedFuture {
                    connections.track(upstream)
                    let (tracker, glue) = upstreamHandlers.value
                    try upstream.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(KafkaFrameDecoder()),
                        ApiVersionsResponseRewriter(tracker: tracker, logger: logger),
                        glue
                    )
                }
            }
            .connect(host: host, port: port)
            .hop(to: loop)
            .assumeIsolated()
            .flatMapThrowing { upstream in
                do {
                    try downstream.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(KafkaFrameDecoder()),
                        ApiVersionsRequestRecorder(tracker: tracker),
                        downstreamGlue
                    )
                } catch {
                    upstream.close(promise: nil)
                    throw error
                }
                logger.debug(
                    "proxying connection",
                    metadata: ["client": "\(downstream.remoteAddress?.description ?? "?")", "upstream": "\(upstreamAddress)"])
            }
            .nonisolated()
            .always { result in
                if case .failure(let error) = result {
                    logger.warning(
                        "Kafka compat proxy cannot reach the upstream broker; closing the client connection. Is the broker running?",
                        metadata: ["upstream": "\(upstreamAddress)", "error": "\(error)"])
                }
            }
    }
}

/// The proxy's open channels, so that shutting down closes them too (closing a
/// listener in NIO leaves accepted channels open).
private final class ProxiedChannels: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.open[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    func closeAll() async {
        let channels = state.withLock { state in
            state.closed = true
            return Array(state.open.values)
        }
        for channel in channels {
            channel.close(promise: nil)
        }
        for channel in channels {
            try? await channel.closeFuture.get()
        }
    }
}

// MARK: - Channel handlers

/// Splits a Kafka byte stream into frames: a 4-byte big-endian length, then that many
/// bytes. Emits whole frames, length included, so unchanged frames are forwarded as
/// zero-copy slices.
struct KafkaFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// Far above Kafka's own limits (100 MiB requests, 50 MiB fetches by default):
    /// only catches a stream that is not Kafka at all.
    static let maxFrameLength = 512 * 1024 * 1024

    enum FrameError: Error {
        case invalidLength(Int32)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else {
            return .needMoreData
        }
        guard length >= 0, Int(length) <= Self.maxFrameLength else {
            throw FrameError.invalidLength(length)
        }
        guard let frame = buffer.readSlice(length: 4 + Int(length)) else {
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame left at EOF cannot be answered by anyone: drop it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Correlation ids of one connection's ApiVersions v3+ requests still awaiting their
/// response. Confined to the connection's event loop.
final class ApiVersionsRequestTracker {
    private var pending: [Int32: Int16] = [:]

    func expectResponse(correlationID: Int32, apiVersion: Int16) {
        pending[correlationID] = apiVersion
    }

    /// The request's api version if this response answers a tracked request.
    func takeRequest(correlationID: Int32) -> Int16? {
        pending.removeValue(forKey: correlationID)
    }
}

/// Client side: notes ApiVersions v3+ requests (a client may pipeline, so responses are
/// matched by correlation id, not by order).
final class ApiVersionsRequestRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let tracker: ApiVersionsRequestTracker

    init(tracker: ApiVersionsRequestTracker) {
        self.tracker = tracker
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // Request header: length, api_key int16, api_version int16, correlation_id int32.
        let start = frame.readerIndex + 4
        if let apiKey = frame.getInteger(at: start, as: Int16.self),
            let apiVersion = frame.getInteger(at: start + 2, as: Int16.self),
            let correlationID = frame.getInteger(at: start + 4, as: Int32.self),
            ApiVersionsRewriter.needsRewrite(apiKey: apiKey, apiVersion: apiVersion)
        {
            tracker.expectResponse(correlationID: correlationID, apiVersion: apiVersion)
        }
        context.fireChannelRead(data)
    }
}

/// Broker side: rewrites the responses to tracked ApiVersions requests, fixing the
/// frame length; every other frame passes untouched.
final class ApiVersionsResponseRewriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let tracker: ApiVersionsRequestTracker
    private let logger: Logger

    init(tracker: ApiVersionsRequestTracker, logger: Logger) {
        self.tracker = tracker
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let payloadStart = frame.readerIndex + 4
        guard let correlationID = frame.getInteger(at: payloadStart, as: Int32.self),
            let apiVersion = tracker.takeRequest(correlationID: correlationID),
            let payload = frame.getSlice(at: payloadStart, length: frame.readableBytes - 4)
        else {
            context.fireChannelRead(data)
            return
        }
        let rewritten = ApiVersionsRewriter.rewrite(payload, requestApiVersion: apiVersion, logger: logger)
        guard rewritten != payload else {
            context.fireChannelRead(data)
            return
        }
        var newFrame = context.channel.allocator.buffer(capacity: 4 + rewritten.readableBytes)
        newFrame.writeInteger(Int32(rewritten.readableBytes))
        newFrame.writeImmutableBuffer(rewritten)
        context.fireChannelRead(wrapInboundOut(newFrame))
    }
}

/// Joins two channels (NIO's standard glue pattern): what one reads, the other writes.
/// Backpressure: a side only reads while its partner is writable, and resumes when
/// the partner becomes writable again. Closing either side closes both.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    private init() {}

    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerClose() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // The partner may have asked to read before this side could take writes.
        partner?.partnerBecameWritable()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        partner?.partnerClose()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
