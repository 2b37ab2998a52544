import Synchronization
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import Stream

/// `GET /v1/stream`: the WebSocket protocol of README "Live stream". Each connection runs two
/// tasks: the reader (client messages: subscribe, unsubscribe; replays from the log) and a watch
/// that ends the connection when the client fell behind (4000) or the daemon stops (1001). Every
/// message the daemon sends goes through the client's `StreamSocket`, in order.
struct StreamEndpoint {
    let hub: StreamHub
    let store: WindowStore
    let logger: Logger

    static let maxMessageBytes = 16 << 10
    static let maxSubscriptions = 16
    static let replayChunk = 1000
    static let protocolName = "ingestd.v1"

    func register(on router: Router<IngestdRequestContext>) {
        router.ws("/v1/stream", shouldUpgrade: { request, _ in
            // Browsers send the token as a subprotocol beside ours; the answer names only ours.
            let offered = request.headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
            var headers = HTTPFields()
            if offered.contains(Self.protocolName) { headers[.secWebSocketProtocol] = Self.protocolName }
            return .upgrade(headers)
        }) { inbound, outbound, context in
            try await serve(inbound, outbound, channel: context.requestContext.channel, scope: context.requestContext.scope)
        }
    }

    private func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, channel: any Channel, scope: AccessScope) async throws {
        guard let client = hub.connect(scope: scope, socket: StreamSocket(channel: channel)) else {
            try await outbound.close(.unknown(1013), reason: "too many stream clients, or the daemon is stopping: retry later")
            return
        }
        defer { hub.disconnect(client) }
        client.send("{\"type\":\"hello\",\"seq\":\(hub.latestSeq)}")
        let ticks = TickTasks()
        defer { ticks.cancelAll() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
                        guard case .text(let text) = message else {
                            client.send(Self.error(nil, "send JSON text frames, not binary"))
                            continue
                        }
                        try await handle(text, client: client, ticks: ticks)
                    }
                } catch {}
                client.close(.clientGone)
            }
            group.addTask {
                // Too slow or shutting down: end the group so the reader is cancelled and the
                // close frame follows what was queued.
                for await _ in client.closed {}
            }
            await group.next()
            client.close(.clientGone)
            group.cancelAll()
        }
        switch client.closeReason {
        case .tooSlow:
            try? await outbound.close(.unknown(4000), reason: "too slow: the client fell \(hub.queueLimit) messages behind")
        case .shuttingDown:
            try? await outbound.close(.goingAway, reason: "the daemon is stopping")
        default:
            break
        }
    }

    private func handle(_ text: String, client: StreamClient, ticks: TickTasks) async throws {
        let request: StreamRequest
        do { request = try StreamRequest.parse(text, scope: client.scope) } catch {
            client.send(Self.error(error.id, error.message))
            return
        }
        switch request {
        case .unsubscribe(let id):
            ticks.cancel(id)
            let removed = client.remove(id)
            client.send(removed ? "{\"type\":\"unsubscribed\",\"id\":\"\(id)\"}" : Self.error(id, "no subscription has id \(id)"))
        case .subscribe(let subscription, let since):
            guard client.subscription(subscription.id) == nil else {
                client.send(Self.error(subscription.id, "subscription \(subscription.id) exists: unsubscribe it first or pick another id"))
                return
            }
            guard client.subscriptionCount < Self.maxSubscriptions else {
                client.send(Self.error(subscription.id, "at most \(Self.maxSubscriptions) subscriptions per connection"))
                return
            }
            if let since, since > hub.latestSeq {
                client.send(Self.error(subscription.id, "since \(since) is ahead of the latest seq \(hub.latestSeq): this log is not the one you read (the data directory changed); subscribe without since"))
                return
            }
            let upTo = hub.subscribe(client, subscription, replaying: since != nil)
            if let since {
                try await replay(subscription, after: since, upTo: upTo, client: client)
                client.endReplay(subscription.id)
            }
            if let cost = subscription.cost { ticks.start(subscription.id, cost: cost, client: client, store: store) }
        }
    }

    /// The events a reconnecting client missed, from the log, straight to the socket (they wait
    /// for the client as long as it reads); live events for this subscription are held meanwhile.
    private func replay(_ subscription: StreamSubscription, after since: Int64, upTo: Int64, client: StreamClient) async throws {
        let log = hub.log
        if let oldest = try? log.oldestSeq(), oldest > since + 1, since < upTo {
            client.send(Self.error(subscription.id, "events \(since + 1) to \(oldest - 1) are older than the stream log keeps (24 h, 100,000 events): they are not replayed", code: "gap"))
        }
        var after = since
        while after < upTo {
            let from = after
            let events = try await NIOThreadPool.singleton.runIfActive { try log.events(after: from, upTo: upTo, limit: Self.replayChunk) }
            guard let last = events.last else { break }
            try await client.socket.writeAndWait(events.filter(subscription.matches).map { ByteBuffer(string: subscription.message($0)) })
            after = last.seq
        }
    }

    static func error(_ id: String?, _ message: String, code: String? = nil) -> String {
        struct Message: Encodable { let type = "error"; let id: String?; let code: String?; let message: String }
        return (try? String(decoding: JSONResponse.encode(Message(id: id, code: code, message: message)), as: UTF8.self)) ?? "{\"type\":\"error\"}"
    }
}

/// The `cost` ticks of one connection's subscriptions, one task each.
final class TickTasks: Sendable {
    private let tasks = Mutex<[String: Task<Void, Never>]>([:])

    func start(_ id: String, cost: StreamSubscription.CostTicks, client: StreamClient, store: WindowStore) {
        let task = Task {
            while !Task.isCancelled {
                let text: String
                do {
                    let at = WallClock.nowMillis()
                    let answer = try await NIOThreadPool.singleton.runIfActive { try store.query(cost.query, atMillis: at) }
                    text = CostTick(id: id, at: at, window: cost.windowText, answer: answer).json
                } catch {
                    text = StreamEndpoint.error(id, "cost: \(error)")
                }
                guard client.send(text) else { return }
                try? await Task.sleep(for: .milliseconds(cost.everyMillis))
            }
        }
        tasks.withLock { $0[id]?.cancel(); $0[id] = task }
    }

    func cancel(_ id: String) { tasks.withLock { $0.removeValue(forKey: id)?.cancel() } }

    func cancelAll() { tasks.withLock { t in for task in t.values { task.cancel() }; t = [:] } }
}

/// A `cost` message.
struct CostTick: Encodable {
    struct Row: Encodable { let labels: [String: String]; let value: Double }
    let type = "cost"
    let subscription: String
    let at: String
    let window: String
    let series: [Row]

    init(id: String, at: Int64, window: String, answer: WindowAnswer) {
        subscription = id
        self.at = UTCCalendar.iso8601WithMillis(millis: at)
        self.window = window
        series = answer.groups.map { Row(labels: $0.labels, value: $0.value) }
    }

    var json: String {
        (try? String(decoding: JSONResponse.encode(self), as: UTF8.self)) ?? StreamEndpoint.error(subscription, "cost: the answer could not be encoded")
    }
}
