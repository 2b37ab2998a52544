import Foundation
import Stream
import Synchronization

/// Every active alert of this instance, by owning partition, and the transitions not yet saved.
///
/// Registered with the `PartitionEngine` as the "alerts" state: a partition's alerts and its new
/// transitions are captured under the partition's shard lock with its windows and offset, and
/// written in the same SQLite transaction (history rows included). A restore brings back the
/// alerts exactly as saved (same `activeAt`, same state); the transitions after that save were
/// never written, and the next evaluation — over the same restored windows — makes them again,
/// once. Changes happen only inside `PartitionEngine.update(owner)` (the evaluator's `apply`).
public final class AlertTable: PartitionState {
    public let name = "alerts"

    private struct Partition {
        var alerts: [AlertKey: Alert] = [:]
        /// Transitions since the last committed save, oldest first, numbered by `seq`.
        var unsaved: [(seq: Int64, transition: AlertTransition)] = []
    }

    private let partitions = Mutex<[String: Partition]>([:])
    /// The rules in force (nil: not told yet). A partition restored later — a Kafka assignment
    /// long after start — must not bring back alerts of rules removed while it was away.
    private let rules = Mutex<Set<String>?>(nil)
    private let sequence = Atomic<Int64>(0)

    public init() {}

    // MARK: Evaluation (called under the owner's shard lock)

    /// Every alert of every partition, by rule and key (the evaluator's input, read once a round).
    public func alertsByRule() -> [String: [AlertKey: Alert]] {
        partitions.withLock { map in
            var out: [String: [AlertKey: Alert]] = [:]
            for p in map.values { for (k, a) in p.alerts { out[k.rule, default: [:]][k] = a } }
            return out
        }
    }

    /// Replaces (or removes, with nil) alerts of one partition and queues their transitions.
    public func apply(partition: String, changes: [(AlertKey, Alert?)], transitions: [AlertTransition]) {
        partitions.withLock { map in
            var p = map[partition] ?? Partition()
            for (key, alert) in changes { p.alerts[key] = alert }
            for t in transitions {
                let seq = sequence.wrappingAdd(1, ordering: .relaxed).newValue
                p.unsaved.append((seq, t))
            }
            map[partition] = p
        }
    }

    /// Drops the alerts of rules that no longer exist (start, reload) now and in every later
    /// restore: they end without a transition, as in Prometheus; the rules that remain keep
    /// their state.
    public func retain(rules: Set<String>) {
        self.rules.withLock { $0 = rules }
        partitions.withLock { map in
            for key in map.keys { map[key]!.alerts = map[key]!.alerts.filter { rules.contains($0.key.rule) } }
        }
    }

    // MARK: Reading (API)

    public var active: [Alert] {
        partitions.withLock { map in map.values.flatMap { $0.alerts.values } }
            .sorted { ($0.rule, $0.fingerprint) < ($1.rule, $1.fingerprint) }
    }

    /// Transitions made but not yet durable (they are in history after the next save).
    public var unsavedTransitions: [AlertTransition] {
        partitions.withLock { map in map.values.flatMap { $0.unsaved } }.sorted { $0.seq < $1.seq }.map(\.transition)
    }

    // MARK: PartitionState

    public func encode(partition: String) -> [UInt8]? {
        let alerts = partitions.withLock { $0[partition].map { Array($0.alerts.values) } } ?? []
        guard !alerts.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Values are kept finite, but a non-finite one must never make a save fail.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return try? Array(encoder.encode(alerts.sorted { ($0.rule, $0.fingerprint) < ($1.rule, $1.fingerprint) }))
    }

    public func restore(partition: String, from bytes: [UInt8]) throws {
        let alerts = try AlertHistory.decoder().decode([Alert].self, from: Data(bytes))
        let inForce = rules.withLock { $0 }
        partitions.withLock { map in
            var p = Partition()
            for a in alerts where inForce?.contains(a.rule) ?? true { p.alerts[a.key] = a }
            map[partition] = p
        }
    }

    public func reset(partition: String) {
        partitions.withLock { _ = $0.removeValue(forKey: partition) }
    }

    public func journal(partition: String) -> PartitionJournal? {
        guard let unsaved = partitions.withLock({ $0[partition]?.unsaved }), let last = unsaved.last else { return nil }
        let transitions = unsaved.map(\.transition)
        return PartitionJournal(through: last.seq) { connection in try AlertHistory.insert(transitions, on: connection) }
    }

    public func committed(partition: String, journal: PartitionJournal) {
        partitions.withLock { map in map[partition]?.unsaved.removeAll { $0.seq <= journal.through } }
    }

    public func hasUnsavedChanges(partition: String) -> Bool {
        partitions.withLock { !($0[partition]?.unsaved.isEmpty ?? true) }
    }
}
