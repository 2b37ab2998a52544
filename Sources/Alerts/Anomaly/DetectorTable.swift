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
    }

    private let partitions = Mutex<[String: [AlertKey: AnomalyDetector]]>([:])
    private let rules = Mutex<Set<String>?>(nil)

    public init() {}

    /// The detectors of one rule, by alert key (read once a round).
    public func detectors(rule: String) -> [AlertKey: Entry] {
        partitions.withLock { map in
            var out: [AlertKey: Entry] = [:]
            for (owner, detectors) in map {
                for (key, d) in detectors where key.rule == rule { out[key] = Entry(owner: owner, detector: d) }
            }
            return out
        }
    }

    public func detector(_ key: AlertKey) -> Entry? {
        partitions.withLock { map in
            for (owner, detectors) in map { if let d = detectors[key] { return Entry(owner: owner, detector: d) } }
            return nil
        }
    }

    public var count: Int { partitions.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Stores detectors of one partition (called under its shard lock).
    public func apply(partition: String, _ changes: [(AlertKey, AnomalyDetector)]) {
        guard !changes.isEmpty else { return }
        partitions.withLock { map in
            for (key, d) in changes { map[partition, default: [:]][key] = d }
        }
    }

    /// Forgets detectors of rules that no longer exist (reload); those that remain keep learning.
    public func retain(rules: Set<String>) {
        self.rules.withLock { $0 = rules }
        partitions.withLock { map in
            for key in map.keys { map[key] = map[key]!.filter { rules.contains($0.key.rule) } }
        }
    }

    // MARK: PartitionState

    public func encode(partition: String) -> [UInt8]? {
        guard let detectors = partitions.withLock({ $0[partition] }), !detectors.isEmpty else { return nil }
        var w = ByteWriter()
        w.put(UInt32(detectors.count))
        for (key, d) in detectors.sorted(by: { ($0.key.rule, $0.key.fingerprint) < ($1.key.rule, $1.key.fingerprint) }) {
            let bytes = d.encode()
            w.put(key.rule); w.put(key.fingerprint)
            w.put(UInt32(bytes.count))
            w.bytes.append(contentsOf: bytes)
        }
        return w.bytes
    }

    public func restore(partition: String, from bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        let n = Int(try r.get(UInt32.self))
        let inForce = rules.withLock { $0 }
        var detectors: [AlertKey: AnomalyDetector] = [:]
        for _ in 0..<n {
            let key = AlertKey(rule: try r.string(), fingerprint: try r.string())
            let d = try AnomalyDetector(decoding: try r.bytes(Int(try r.get(UInt32.self))))
            if inForce?.contains(key.rule) ?? true { detectors[key] = d }
        }
        guard r.isAtEnd else { throw ByteReader.Truncated() }
        partitions.withLock { $0[partition] = detectors }
    }

    public func reset(partition: String) {
        partitions.withLock { _ = $0.removeValue(forKey: partition) }
    }
}
