import Foundation
import Logging
@testable import Alerts
import Stream

/// A dispatcher over a real notifications.db in a temporary directory, and alerts to feed it.
final class DispatchBench {
    let directory: URL
    var database: SQLiteDatabase
    var silences: SilenceStore
    var dispatcher: Dispatcher
    let config: NotificationConfig
    static let t0: Int64 = 1_780_000_000_000

    init(_ config: NotificationConfig) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dispatch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.config = config
        (database, silences, dispatcher) = try Self.open(directory, config)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    private static func open(_ directory: URL, _ config: NotificationConfig) throws -> (SQLiteDatabase, SilenceStore, Dispatcher) {
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("notifications.db").path,
                                          schema: [Outbox.module, NotifySchema.module])
        let silences = try SilenceStore(database: database)
        let dispatcher = try Dispatcher(database: database, silences: silences, config: config,
                                        externalURL: "http://ingestd.test", logger: Logger(label: "test"))
        return (database, silences, dispatcher)
    }

    /// A new process over the same file.
    func restart() throws {
        (database, silences, dispatcher) = try Self.open(directory, config)
    }

    static func receiver(_ name: String, sendResolved: Bool = true) -> Receiver {
        var r = Receiver(name: name, kind: .webhook, url: Secret(value: "http://127.0.0.1:9/\(name)", source: .inline))
        r.sendResolved = sendResolved
        return r
    }

    static func alert(_ name: String, account: String, severity: String = "warning", state: Alert.State = .firing,
                      value: Double = 150, firedAt: Int64 = t0) -> Alert {
        let labels = ["alertname": name, "account": account, "severity": severity]
        return Alert(rule: "g/\(name)", fingerprint: AlertFingerprint.of(labels), labels: labels, state: state,
                     activeAt: firedAt, firedAt: state == .firing ? firedAt : nil, lastHeldAt: firedAt, value: value,
                     measure: value, annotations: ["summary": "\(account) spent \(value)"], owner: "http",
                     checkedAt: firedAt, checkedSum: value)
    }

    static func transition(_ a: Alert, _ state: AlertTransition.State, at: Int64) -> AlertTransition {
        AlertTransition(at: at, state: state, rule: a.rule, fingerprint: a.fingerprint, labels: a.labels,
                        annotations: a.annotations, value: a.value, measure: a.measure, activeAt: a.activeAt,
                        firedAt: a.firedAt, owner: a.owner)
    }

    /// The notification log row for a receiver, as stored.
    func logEntry(_ receiver: String, groupKey: String) throws -> NotificationLog.Entry? {
        try NotificationLog.load(database)[NotificationLog.Key(receiver: receiver, groupKey: groupKey)]
    }

    func queued(_ flush: Dispatcher.Flush) -> Int { flush.queued.values.reduce(0, +) }
}
