import Foundation
import Logging
import Stream
import Synchronization

/// From alerts to queued notifications (Alertmanager's dispatcher and notify pipeline in one
/// place): each evaluation round's firing and resolved alerts are routed into aggregation
/// groups; when a group is due, its alerts pass inhibition and silences, the notification log
/// decides whether the receiver must hear about it, and the notification is written to the
/// outbox together with the log entry, in one transaction. Delivery takes it from there.
///
/// Only firing alerts are notified (pending ones are not news yet); a resolved alert is
/// notified only to receivers that were told it fired, and only with `send_resolved`.
public final class Dispatcher: Sendable {
    /// One alert as the dispatcher follows it.
    struct Tracked {
        var alert: NotificationMessage.Alert
        /// Evaluation time of the latest `amended` transition; 0 as it fired.
        var amendedAt: Int64
    }

    struct State {
        var config: NotificationConfig
        var tracked: [String: Tracked] = [:]
        var groups: [String: AggregationGroup] = [:]
        var log: NotificationLog
    }

    /// What a flush queued, for waking delivery workers and for metrics.
    public struct Flush: Sendable {
        public var queued: [String: Int] = [:]
        /// The outbox rows written.
        public var queuedIDs: [Int64] = []
        /// Firing alerts held back by a silence or an inhibit rule.
        public var silenced = 0
        public var inhibited = 0
    }

    private let database: SQLiteDatabase
    private let silences: SilenceStore
    private let externalURL: String
    private let logger: Logger
    private let state: Mutex<State>

    public init(database: SQLiteDatabase, silences: SilenceStore, config: NotificationConfig,
                externalURL: String, logger: Logger) throws {
        self.database = database
        self.silences = silences
        self.externalURL = externalURL
        self.logger = logger
        state = Mutex(State(config: config, log: try NotificationLog.load(database)))
    }

    static func id(rule: String, fingerprint: String) -> String { "\(rule)#\(fingerprint)" }

    /// New routes, receivers and inhibit rules (a reload): groups are rebuilt under the new tree
    /// and wait `group_wait` again; the log keeps receivers from hearing twice.
    public func configure(_ config: NotificationConfig, now: Int64) {
        state.withLock { s in
            guard s.config != config else { return }
            s.config = config
            s.groups = [:]
            Self.route(Set(s.tracked.keys), in: &s, now: now)
        }
    }

    /// One evaluation round: `active` is every alert the table holds now, `transitions` the
    /// round's. A firing alert that disappears without resolving (its partition moved to another
    /// instance, or its rule was removed) is dropped without a notification.
    public func observe(active: [Alert], transitions: [AlertTransition], now: Int64) {
        state.withLock { s in
            var changed = Set<String>()
            var amended: [String: Int64] = [:]
            for t in transitions {
                let id = Self.id(rule: t.rule, fingerprint: t.fingerprint)
                switch t.state {
                case .amended:
                    amended[id] = t.at
                case .resolved where t.firedAt != nil || s.tracked[id] != nil:
                    // (A pending alert that ends was never news to anyone.)
                    var tracked = s.tracked[id] ?? Tracked(alert: Self.alert(t), amendedAt: 0)
                    tracked.alert.status = .resolved
                    tracked.alert.endsAt = t.at
                    tracked.alert.value = t.value
                    tracked.alert.measure = t.measure
                    tracked.alert.annotations = t.annotations
                    s.tracked[id] = tracked
                    changed.insert(id)
                case .pending, .firing, .resolved:
                    break
                }
            }
            var firing = Set<String>()
            for a in active where a.state == .firing {
                let id = Self.id(rule: a.rule, fingerprint: a.fingerprint)
                firing.insert(id)
                let before = s.tracked[id]
                var tracked = before?.alert.status == .firing ? before! : Tracked(alert: Self.alert(a), amendedAt: 0)
                tracked.alert.annotations = a.annotations
                tracked.alert.value = a.value
                tracked.alert.measure = a.measure
                if let at = amended[id] {
                    tracked.amendedAt = at
                    tracked.alert.revision += 1
                }
                if before == nil || before!.alert.status != .firing || amended[id] != nil { changed.insert(id) }
                s.tracked[id] = tracked
            }
            let gone = s.tracked.filter { $0.value.alert.status == .firing && !firing.contains($0.key) }.map(\.key)
            for id in gone { s.tracked[id] = nil }
            if !gone.isEmpty {
                for key in Array(s.groups.keys) { s.groups[key]!.ids.subtract(gone) }
            }
            Self.route(changed, in: &s, now: now)
        }
    }

    /// The oldest notification that told a receiver of alerts still firing (nil: none): history
    /// from then on holds every resolution a receiver may not have heard of.
    public var recoveryHorizon: Int64? {
        state.withLock { s in s.log.entries.values.filter { !$0.firing.isEmpty }.map(\.sentAt).min() }
    }

    /// After a restart: alerts that receivers were told fire, and whose last transition in
    /// `history` (oldest first) is `resolved`, resolved while the daemon was going down, before
    /// their group was flushed. They are grouped again so the resolution is still notified.
    public func recover(history: [AlertTransition], now: Int64) {
        state.withLock { s in
            let notified = Set(s.log.entries.values.flatMap(\.firing.keys))
            var last: [String: AlertTransition] = [:]
            for t in history {
                let id = Self.id(rule: t.rule, fingerprint: t.fingerprint)
                if notified.contains(id) { last[id] = t }
            }
            var seeded = Set<String>()
            for (id, t) in last where t.state == .resolved && s.tracked[id] == nil {
                var alert = Self.alert(t)
                alert.status = .resolved
                alert.endsAt = t.at
                s.tracked[id] = Tracked(alert: alert, amendedAt: 0)
                seeded.insert(id)
            }
            Self.route(seeded, in: &s, now: now)
        }
    }

    /// When the next group is due (nil: no group).
    public var nextDeadline: Int64? { state.withLock { s in s.groups.values.map(\.nextFlush).min() } }

    /// Flushes every group that is due at `now`. On a storage error nothing is marked as sent
    /// and the groups try again a second later.
    public func flushDue(now: Int64) -> Flush {
        state.withLock { s in
            let due = s.groups.values.filter { $0.nextFlush <= now }.map(\.key)
            guard !due.isEmpty else { return Flush() }
            var flush = Flush()
            let silences = silences.active(at: now)
            let inhibitor = Inhibitor(rules: s.config.inhibitRules,
                                      firing: s.tracked.filter { $0.value.alert.status == .firing }.map { ($0.key, $0.value.alert.labels) })
            var writes: [(NotificationLog.Key, NotificationLog.Entry, Outbox.Entry?)] = []
            for key in due {
                let group = s.groups[key]!
                guard let receiver = s.config.receivers[group.route.receiver] else { continue }
                var firing: [(String, Tracked)] = []
                var resolved: [(String, Tracked)] = []
                for id in group.ids {
                    guard let t = s.tracked[id] else { continue }
                    if t.alert.status == .resolved {
                        resolved.append((id, t))
                    } else if silences.contains(where: { $0.matchers.matches(t.alert.labels) }) {
                        flush.silenced += 1
                    } else if inhibitor.inhibits(id: id, labels: t.alert.labels) {
                        flush.inhibited += 1
                    } else {
                        firing.append((id, t))
                    }
                }
                let logKey = NotificationLog.Key(receiver: receiver.name, groupKey: group.key)
                let entry = s.log[logKey]
                // Resolved alerts matter only to a receiver that was told they fired.
                let known = resolved.filter { entry?.firing[$0.0] != nil }
                if Self.needsNotification(entry: entry, firing: firing, resolvedKnown: known, repeatMillis: group.route.repeatIntervalMillis, now: now) {
                    let newEntry = NotificationLog.Entry(firing: Dictionary(uniqueKeysWithValues: firing.map { ($0.0, $0.1.amendedAt) }),
                                                         resolved: Set(known.map(\.0)), sentAt: now)
                    let alerts = firing.map(\.1.alert) + (receiver.sendResolved ? known.map(\.1.alert) : [])
                    let outbox = alerts.isEmpty ? nil : Outbox.Entry(
                        receiver: receiver.name, fallback: group.route.fallback,
                        idempotencyKey: UUID().uuidString.lowercased(), createdAtMillis: now,
                        message: message(group: group, receiver: receiver, alerts: alerts))
                    writes.append((logKey, newEntry, outbox))
                }
            }
            do {
                if !writes.isEmpty {
                    flush.queuedIDs = try database.transaction { c in
                        var ids: [Int64] = []
                        for (key, entry, outbox) in writes {
                            try NotificationLog.write(key, entry, on: c)
                            if let outbox { ids.append(try Outbox.insert(outbox, on: c)) }
                        }
                        return ids
                    }
                }
            } catch {
                logger.error("notifications could not be queued; retrying in a second", metadata: ["error": "\(error)"])
                for key in due { s.groups[key]!.nextFlush = now + 1000 }
                return Flush()
            }
            for (key, entry, outbox) in writes {
                s.log.commit(key, entry)
                if let outbox { flush.queued[outbox.receiver, default: 0] += 1 }
            }
            // Resolved alerts have been dealt with in these groups; one in no group is done.
            for key in due {
                var group = s.groups[key]!
                group.ids = group.ids.filter { s.tracked[$0]?.alert.status != .resolved }
                group.nextFlush = now + group.route.groupIntervalMillis
                s.groups[key] = group.ids.isEmpty ? nil : group
            }
            let grouped = Set(s.groups.values.flatMap(\.ids))
            s.tracked = s.tracked.filter { $0.value.alert.status == .firing || grouped.contains($0.key) }
            return flush
        }
    }

    /// Alertmanager's dedup rule, plus amendments: notify when an alert fires that the receiver
    /// has not heard of (or was amended since), when everything it heard of has resolved, when
    /// some of it resolved, or when `repeat_interval` has passed with alerts still firing.
    static func needsNotification(entry: NotificationLog.Entry?, firing: [(String, Tracked)], resolvedKnown: [(String, Tracked)],
                                  repeatMillis: Int64, now: Int64) -> Bool {
        guard let entry else { return !firing.isEmpty }
        for (id, t) in firing {
            guard let notified = entry.firing[id], notified >= t.amendedAt else { return true }
        }
        if !resolvedKnown.isEmpty { return true }
        if firing.isEmpty { return false }
        return now - entry.sentAt >= repeatMillis
    }

    private func message(group: AggregationGroup, receiver: Receiver, alerts all: [NotificationMessage.Alert]) -> NotificationMessage {
        let sorted = all.sorted { ($0.status == .firing ? 0 : 1, $0.startsAt, $0.fingerprint) < ($1.status == .firing ? 0 : 1, $1.startsAt, $1.fingerprint) }
        let kept = receiver.maxAlerts > 0 ? Array(sorted.prefix(receiver.maxAlerts)) : sorted
        func common(_ maps: [[String: String]]) -> [String: String] {
            guard var out = maps.first else { return [:] }
            for m in maps.dropFirst() { out = out.filter { m[$0.key] == $0.value } }
            return out
        }
        return NotificationMessage(
            receiver: receiver.name, status: all.contains { $0.status == .firing } ? .firing : .resolved,
            groupKey: group.key, groupLabels: group.labels,
            commonLabels: common(all.map(\.labels)), commonAnnotations: common(all.map(\.annotations)),
            alerts: kept, truncatedAlerts: sorted.count - kept.count, externalURL: externalURL)
    }

    private static func route(_ ids: Set<String>, in s: inout State, now: Int64) {
        guard let root = s.config.route else { return }
        for id in ids {
            guard let t = s.tracked[id] else { continue }
            for node in root.match(t.alert.labels) {
                var group = AggregationGroup(route: node, labels: node.groupLabels(t.alert.labels), now: now)
                if let existing = s.groups[group.key] { group = existing }
                group.ids.insert(id)
                s.groups[group.key] = group
            }
        }
    }

    private static func alert(_ a: Alert) -> NotificationMessage.Alert {
        NotificationMessage.Alert(status: .firing, labels: a.labels, annotations: a.annotations, startsAt: a.firedAt ?? a.activeAt,
                                  endsAt: nil, fingerprint: a.fingerprint, value: a.value, measure: a.measure, revision: 0)
    }

    private static func alert(_ t: AlertTransition) -> NotificationMessage.Alert {
        NotificationMessage.Alert(status: .firing, labels: t.labels, annotations: t.annotations, startsAt: t.firedAt ?? t.activeAt,
                                  endsAt: nil, fingerprint: t.fingerprint, value: t.value, measure: t.measure, revision: 0)
    }
}
