import Alerts
import Foundation
import Logging
import ServiceLifecycle
import Stream
import Synchronization

/// What the daemon tells the stream: alert transitions (per evaluation round), rule reloads, and
/// notification receipts (the outbox reports changed rows from any thread; they are read and
/// published in batches every 100 ms, off the delivery workers).
final class StreamPublisher: Sendable {
    let hub: StreamHub
    private let outbox: Outbox
    private let changedReceipts = Mutex<[Int64]>([])

    init(hub: StreamHub, outbox: Outbox) {
        self.hub = hub
        self.outbox = outbox
        outbox.observeChanges { [weak self] id in self?.changedReceipts.withLock { $0.append(id) } }
    }

    func alerts(_ transitions: [AlertTransition]) {
        hub.publish(transitions.map { t in
            StreamEvent(kind: .alert, atMillis: t.at, labels: [t.labels], data: Self.json(AlertsEndpoint.HistoryRow(t, seq: nil, includesSeq: false)))
        })
    }

    func reload(_ status: RuleRegistry.ReloadStatus) {
        hub.publish([StreamEvent(kind: .reload, atMillis: status.atMillis, labels: [],
                                 data: Self.json(RulesEndpoint.Reload(status)))])
    }

    /// Publishes the receipts that changed since the last call.
    func flushReceipts() throws {
        let ids = changedReceipts.withLock { ids in defer { ids = [] }; return ids }
        guard !ids.isEmpty else { return }
        let now = WallClock.nowMillis()
        hub.publish(try outbox.receipts(ids: ids).map { receipt, message in
            StreamEvent(kind: .notification, atMillis: now, labels: message.alerts.map(\.labels),
                        data: Self.json(NotificationsEndpoint.Row(receipt)))
        })
    }

    private static func json(_ value: some Encodable) -> String {
        (try? String(decoding: JSONResponse.encode(value), as: UTF8.self)) ?? "null"
    }
}

/// Publishes receipts, prunes the stream log, and at shutdown closes every client (1001) before
/// the HTTP server stops, so open sockets never hold the shutdown up.
struct StreamService: Service {
    let publisher: StreamPublisher
    let logger: Logger

    func run() async throws {
        var lastPrune: Int64 = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do { try publisher.flushReceipts() } catch {
                logger.warning("notification receipts could not be read for the stream", metadata: ["error": "\(error)"])
            }
            let now = WallClock.nowMillis()
            if now - lastPrune > 60_000 {
                do { try publisher.hub.log.prune(now: now) } catch { logger.warning("stream log prune failed", metadata: ["error": "\(error)"]) }
                lastPrune = now
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
        }
        publisher.hub.shutdown()
        // The HTTP server's own graceful shutdown closes any socket still open with 1000 and no
        // reason; wait (bounded) until every connection has written its 1001 and gone.
        let deadline = ContinuousClock.now + .seconds(2)
        while publisher.hub.clientCount > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
        }
    }
}
