import NIOCore
import Synchronization

/// One connected `/v1/stream` client: its subscriptions and its socket. A client that has
/// `queueLimit` messages not yet written to its socket is cut off (close code 4000) instead of
/// slowing anyone else: publishing never waits for a client.
final class StreamClient: Sendable {
    enum CloseReason: Sendable, Equatable {
        case tooSlow
        case shuttingDown
        /// The client closed the connection (or its reader ended).
        case clientGone
    }

    let id: Int
    let scope: AccessScope
    let socket: StreamSocket
    /// Ends when the client is closed: the connection's watch then ends the connection.
    let closed: AsyncStream<Void>
    private let closedContinuation: AsyncStream<Void>.Continuation
    let queueLimit: Int

    private struct Entry {
        var subscription: StreamSubscription
        /// While the missed events are read from the log, live ones wait here (same bound).
        var replaying: Bool
        var held: [ByteBuffer] = []
    }

    private struct State {
        var subscriptions: [String: Entry] = [:]
        var closed: CloseReason?
    }

    private let state = Mutex(State())

    init(id: Int, scope: AccessScope, queueLimit: Int, socket: StreamSocket) {
        self.id = id
        self.scope = scope
        self.queueLimit = queueLimit
        self.socket = socket
        (closed, closedContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    var closeReason: CloseReason? { state.withLock { $0.closed } }
    var subscriptionCount: Int { state.withLock { $0.subscriptions.count } }

    func subscription(_ id: String) -> StreamSubscription? { state.withLock { $0.subscriptions[id]?.subscription } }

    /// Queues a message; false (and the client is cut off) when its queue is full.
    @discardableResult
    func send(_ text: String) -> Bool {
        let message = ByteBuffer(string: text)
        return state.withLock { s in enqueue(message, &s) }
    }

    /// Under the client's lock, so that messages reach the socket in the order they were queued.
    private func enqueue(_ message: ByteBuffer, _ s: inout State) -> Bool {
        guard s.closed == nil else { return false }
        guard socket.unwritten < queueLimit else {
            close(.tooSlow, &s)
            return false
        }
        socket.write(message)
        return true
    }

    /// Called by the hub, in sequence order, for every published event.
    func deliver(_ event: StreamEvent) {
        var messages = StreamEventMessages(event)
        deliver(&messages)
    }

    /// The same, with the event's messages shared among the clients of one publish.
    func deliver(_ messages: inout StreamEventMessages) {
        let event = messages.event
        state.withLock { s in
            guard s.closed == nil else { return }
            // Iterates a copy-on-write view: only a replaying entry's `held` is written meanwhile.
            for (key, entry) in s.subscriptions where entry.subscription.matches(event) {
                let message = messages.message(for: entry.subscription)
                if entry.replaying {
                    guard entry.held.count < queueLimit else { return close(.tooSlow, &s) }
                    s.subscriptions[key]!.held.append(message)
                } else if !enqueue(message, &s) {
                    return
                }
            }
        }
    }

    func add(_ subscription: StreamSubscription, replaying: Bool) {
        state.withLock { $0.subscriptions[subscription.id] = Entry(subscription: subscription, replaying: replaying) }
    }

    /// The replay is written: what arrived meanwhile follows it.
    func endReplay(_ id: String) {
        state.withLock { s in
            guard let entry = s.subscriptions[id] else { return }
            s.subscriptions[id]!.replaying = false
            s.subscriptions[id]!.held = []
            for message in entry.held where !enqueue(message, &s) { return }
        }
    }

    func remove(_ id: String) -> Bool {
        state.withLock { $0.subscriptions.removeValue(forKey: id) != nil }
    }

    func close(_ reason: CloseReason) {
        state.withLock { s in close(reason, &s) }
    }

    private func close(_ reason: CloseReason, _ s: inout State) {
        guard s.closed == nil else { return }
        s.closed = reason
        closedContinuation.finish()
    }
}
