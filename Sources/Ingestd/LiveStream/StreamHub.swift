import Foundation
import Logging
import Metrics
import Synchronization

/// Fans published events out to every connected client, in sequence order. Publishing stores the
/// events in the stream log (which numbers them) and queues them for the clients under one lock,
/// so no client sees them out of order, and a subscription registered at sequence N gets every
/// event after N live and every event up to N from the log: no gap, no repeat.
final class StreamHub: Sendable {
    let log: StreamLog
    let queueLimit: Int
    let maxClients: Int
    private let logger: Logger

    private struct State {
        var clients: [Int: StreamClient] = [:]
        var nextID = 1
        var latest: Int64
        var shuttingDown = false
    }

    private let state: Mutex<State>

    init(log: StreamLog, queueLimit: Int = 1024, maxClients: Int = 10_000, logger: Logger) throws {
        self.log = log
        self.queueLimit = queueLimit
        self.maxClients = maxClients
        self.logger = logger
        state = Mutex(State(latest: try log.latestSeq()))
    }

    var latestSeq: Int64 { state.withLock { $0.latest } }
    var clientCount: Int { state.withLock { $0.clients.count } }

    /// Stores and fans out; an event that cannot be stored is logged and dropped (live clients
    /// would otherwise see what a reconnecting one never could).
    func publish(_ events: [StreamEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { s in
            let stored: [StreamEvent]
            do { stored = try log.append(events) } catch {
                logger.error("stream events could not be stored; not published", metadata: ["error": "\(error)", "events": "\(events.count)"])
                return
            }
            s.latest = stored.last?.seq ?? s.latest
            for e in stored {
                var messages = StreamEventMessages(e)
                for client in s.clients.values { client.deliver(&messages) }
            }
        }
        Counter(label: "ingestd_stream_events_total").increment(by: events.count)
    }

    /// A new client, or nil when `maxClients` are connected (or the daemon is stopping).
    func connect(scope: AccessScope, socket: StreamSocket) -> StreamClient? {
        let client: StreamClient? = state.withLock { s in
            guard !s.shuttingDown, s.clients.count < maxClients else { return nil }
            let client = StreamClient(id: s.nextID, scope: scope, queueLimit: queueLimit, socket: socket)
            s.nextID += 1
            s.clients[client.id] = client
            Self.recordCount(s)
            return client
        }
        return client
    }

    func disconnect(_ client: StreamClient) {
        state.withLock { s in
            _ = s.clients.removeValue(forKey: client.id)
            Self.recordCount(s)
        }
        if client.closeReason == .tooSlow { Counter(label: "ingestd_stream_slow_clients_total").increment() }
    }

    /// Under the lock: two connects recording after it could leave the older count in the gauge.
    private static func recordCount(_ s: borrowing State) {
        Gauge(label: "ingestd_stream_clients").record(s.clients.count)
    }

    /// Registers a subscription and queues its `subscribed` message, before any event for it
    /// (under the lock publishing takes); with `replaying`, live events wait until `endReplay`.
    /// - Returns: the last sequence number before it: the replay covers up to it.
    func subscribe(_ client: StreamClient, _ subscription: StreamSubscription, replaying: Bool) -> Int64 {
        state.withLock { s in
            client.send("{\"type\":\"subscribed\",\"id\":\"\(subscription.id)\",\"seq\":\(s.latest)}")
            client.add(subscription, replaying: replaying)
            return s.latest
        }
    }

    /// Closes every client (1001, going away) and refuses new ones.
    func shutdown() {
        let clients = state.withLock { s in
            s.shuttingDown = true
            return Array(s.clients.values)
        }
        for c in clients { c.close(.shuttingDown) }
    }
}
