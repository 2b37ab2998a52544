import Foundation
import Logging
import Stream
import Synchronization
@testable import Alerts

/// A real notifications.db in a temporary directory, its outbox, and a NotificationDelivery
/// whose logs are captured (to check that no URL or secret ever reaches them).
final class DeliveryBench: Sendable {
    let directory: URL
    let database: SQLiteDatabase
    let outbox: Outbox
    let delivery: NotificationDelivery
    let logs: LogCapture

    init(directory: URL? = nil, logs: LogCapture = LogCapture()) throws {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("delivery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        database = try SQLiteDatabase(path: directory.appendingPathComponent("notifications.db").path, schema: [Outbox.module])
        outbox = Outbox(database: database)
        self.logs = logs
        let logger = Logger(label: "test.delivery") { _ in logs.handler() }
        delivery = NotificationDelivery(outbox: outbox, logger: logger, userAgent: "ingestd-test/1")
    }

    /// Queues one notification the way the dispatcher does (insert in a transaction, then wake).
    @discardableResult
    func queue(_ receiver: String, key: String, fallback: String? = nil, message: NotificationMessage? = nil,
               createdAt: Int64 = WallClock.nowMillis()) throws -> Int64 {
        let entry = Outbox.Entry(receiver: receiver, fallback: fallback, idempotencyKey: key, createdAtMillis: createdAt,
                                 message: message ?? Self.message(receiver: receiver, alert: key))
        let id = try database.transaction { connection in try Outbox.insert(entry, on: connection) }
        delivery.wake(receiver: receiver)
        return id
    }

    func receipt(_ key: String) throws -> Receipt? {
        try outbox.receipts(receiver: nil, state: nil, limit: 10_000).first { $0.idempotencyKey == key }
    }

    func state(_ key: String) throws -> Receipt.State? { try receipt(key)?.state }

    static func receiver(_ name: String, _ server: LoopbackReceiver, kind: Receiver.Kind = .webhook, secret: String? = nil,
                         timeoutMillis: Int64 = 10_000, maxAgeMillis: Int64 = 600_000,
                         initialBackoffMillis: Int64 = 20, maxBackoffMillis: Int64 = 200) -> Receiver {
        var r = Receiver(name: name, kind: kind, url: Secret(value: server.url, source: .environment("TEST_URL")))
        r.signingSecret = secret.map { Secret(value: $0, source: .inline) }
        r.timeoutMillis = timeoutMillis
        r.maxAgeMillis = maxAgeMillis
        r.initialBackoffMillis = initialBackoffMillis
        r.maxBackoffMillis = maxBackoffMillis
        return r
    }

    static func message(receiver: String, alert: String, status: NotificationMessage.Status = .firing,
                        alerts: Int = 1, truncated: Int = 0) -> NotificationMessage {
        let list = (0..<alerts).map { i in
            NotificationMessage.Alert(
                status: status, labels: ["alertname": "HighSpend", "account": "1234567890\(i)", "service": "AmazonEC2"],
                annotations: ["summary": "EC2 spend for \(alert) is high", "threshold": "100"],
                startsAt: 1_767_225_600_000, endsAt: status == .resolved ? 1_767_229_200_000 : nil,
                fingerprint: "fp\(i)", value: 150.5, measure: 1234.25, revision: 0)
        }
        return NotificationMessage(
            receiver: receiver, status: status, groupKey: "{}:{alertname=\"HighSpend\"}", groupLabels: ["alertname": "HighSpend"],
            commonLabels: ["alertname": "HighSpend", "service": "AmazonEC2"], commonAnnotations: [:], alerts: list,
            truncatedAlerts: truncated, externalURL: "http://ingestd.example:9090")
    }
}

/// Every log line (message and metadata, rendered as text) a logger wrote.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func handler() -> some LogHandler { Handler(capture: self) }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
