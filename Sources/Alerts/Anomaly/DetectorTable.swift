import Stream
import Synchronization

/// Every anomaly detector of this instance, by owning partition: registered with the
/// `PartitionEngine` as the "detectors" state, so a detector's baseline is saved with the
/// windows and offset it learned from, and a restart or a rebalance resumes learning where it
/// stopped instead of warming up again. Changes happen only under the owner's shard lock (the
/// evaluator's `apply`), like alerts; a detector stays with the partition it was created in.
public final class DetectorTable: PartitionState {
    public let name = "detectors"

    public struct Entry: Sendable {
        public var owner: String
        public var detector: AnomalyDetector
        /// The group's alert labels (what `GET /v1/series/baseline` selects on).
        public var labels: [String: String]
    }

    private struct Stored {
        var detector: AnomalyDetector
        var labels: [String: String]
    }

    private struct Partition {
        var detectors: [AlertKey: Stored] = [:]
        /// Feedback applied since the last committed save: written in that save's transaction,
        /// so the stored verdict and the detector it changed become durable together.
        var unsaved: [(seq: Int64, feedback: AnomalyFeedback)] = []
    }

    private let partitions = Mutex<[String: Partition]>([:])
    private let rules = Mutex<Set<String>?>(nil)
    private let sequence = Atomic<Int64>(0)

    public init() {}

    /// The detectors of one rule, by alert key (read once a round).
    public func detectors(rule: String) -> [AlertKey: Entry] {
        partitions.withLock { map in
            var out: [AlertKey: Entry] = [:]
            for (owner, p) in map {
                for (key, d) in p.detectors where key.rule == rule { out[key] = Entry(owner: owner, detector: d.detector, labels: d.labels) }
            }
            return out
        }
    }

    public func detector(_ key: AlertKey) -> Entry? {
        partitions.withLock { map in
            for (owner, p) in map { if let d = p.detectors[key] { return Entry(owner: owner, detector: d.detector, labels: d.labels) } }
            return nil
        }
    }

    /// The keys of every detector with this fingerprint (one, unless two rules share labels).
    public func keys(fingerprint: String) -> [AlertKey] {
        partitions.withLock { map in map.values.flatMap { $0.detectors.keys.filter { $0.fingerprint == fingerprint } } }
            .sorted { $0.rule < $1.rule }
    }

    /// Every detector, by key.
    public func all() -> [AlertKey: Entry] {
        partitions.withLock { map in
            var out: [AlertKey: Entry] = [:]
            for (owner, p) in map { for (key, d) in p.detectors { out[key] = Entry(owner: owner, detector: d.detector, labels: d.labels) } }
            return out
        }
    }

    public var count: Int { partitions.withLock { $0.values.reduce(0) { $0 + $1.detectors.count } } }

    /// Applies feedback to a detector of `partition` (called under its shard lock) and queues
    /// the record for the next save. Returns the detector after, or nil if it is not there.
    public func apply(_ feedback: AnomalyFeedback, key: AlertKey, partition: String) -> AnomalyDetector? {
        partitions.withLock { map in
            guard var d = map[partition]?.detectors[key]?.detector else { return nil }
            d.apply(feedback.verdict)
            map[partition]!.detectors[key]!.detector = d
            map[partition]!.unsaved.append((sequence.wrappingAdd(1, ordering: .relaxed).newValue, feedback))
            return d
        }
    }

    /// Feedback given but not yet durable (in the store after the next save).
    public var unsavedFeedback: [AnomalyFeedback] {
        partitions.withLock { map in map.values.flatMap { $0.unsaved } }.sorted { $0.seq < $1.seq }.map(\.feedback)
    }

    /// Stores detectors of one partition (called under its shard lock).
    public func apply(partition: String, _ changes: [(AlertKey, AnomalyDetector, [String: String])]) {
        guard !changes.isEmpty else { return }
        partitions.withLock { map in
            for (key, d, labels) in changes { map[partition, default: Partition()].detectors[key] = Stored(detector: d, labels: labels) }
        }
    }

    /// Forgets detectors of rules that no longer exist (reload); those that remain keep learning.
    public func retain(rules: Set<String>) {
        self.rules.withLock { $0 = rules }
        partitions.withLock { map in
            for key in map.keys { map[key]!.detectors = map[key]!.detectors.filter { rules.contains($0.key.rule) } }
        }
    }

    // MARK: PartitionState

    public func encode(partition: String) -> [UInt8]? {
        guard let detectors = partitions.withLock({ $0[partition]?.detectors }), !detectors.isEmpty else { return nil }
        var w = ByteWriter()
        w.put(UInt32(detectors.count))
        for (key, d) in detectors.sorted(by: { ($0.key.rule, $0.key.fingerprint) < ($1.key.rule, $1.key.fingerprint) }) {
            let bytes = d.detector.encode()
            w.put(key.rule); w.put(key.fingerprint)
            w.put(UInt32(d.labels.count))
            for (name, value) in d.labels.sorted(by: { $0.key < $1.key }) { w.put(name); w.put(value) }
            w.put(UInt32(bytes.count))
            w.bytes.append(contentsOf: bytes)
        }
        return w.bytes
    }

    public func restore(partition: String, from bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let n = Int(try r.get(UInt32.self))
        let inForce = rules.withLock { $0 }
        var detectors: [AlertKey: Stored] = [:]
        for _ in 0..<n {
            let key = AlertKey(rule: try r.string(), fingerprint: try r.string())
            let labelCount = Int(try r.get(UInt32.self))
            guard labelCount <= 1000 else { throw ByteReader.Truncated() }
            var labels: [String: String] = [:]
            for _ in 0..<labelCount { labels[try r.string()] = try r.string() }
            let d = try AnomalyDetector(decoding: try r.bytes(Int(try r.get(UInt32.self))))
            if inForce?.contains(key.rule) ?? true { detectors[key] = Stored(detector: d, labels: labels) }
        }
        guard r.isAtEnd else { throw ByteReader.Truncated() }
        partitions.withLock { $0[partition] = Partition(detectors: detectors) }
    }

    public func reset(partition: String) {
        partitions.withLock { _ = $0.removeValue(forKey: partition) }
    }

    public func journal(partition: String) -> PartitionJournal? {
        guard let unsaved = partitions.withLock({ $0[partition]?.unsaved }), let last = unsaved.last else { return nil }
        let rows = unsaved.map(\.feedback)
        return PartitionJournal(through: last.seq) { connection in try AnomalyFeedback.insert(rows, on: connection) }
    }

    public func committed(partition: String, journal: PartitionJournal) {
        partitions.withLock { map in map[partition]?.unsaved.removeAll { $0.seq <= journal.through } }
    }

    public func hasUnsavedChanges(partition: String) -> Bool {
        partitions.withLock { !($0[partition]?.unsaved.isEmpty ?? true) }
    }
}
