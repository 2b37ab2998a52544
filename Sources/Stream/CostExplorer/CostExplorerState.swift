import Foundation
import Synchronization

/// What the poller has put into the `cost-explorer` partition: the amount it applied for each
/// (series, period) that can still be restated, and how far polls have completed. Registered
/// with the `PartitionEngine`, so it is saved in the same transaction as the windows it
/// describes: after kill -9 both are from the same cut, and the next restatement replaces
/// exactly the amount the windows hold (a delta against anything else would drift).
public final class CostExplorerState: PartitionState {
    public let name = "cost-explorer"

    struct Key: Hashable, Sendable {
        var labels: [String]
        var periodStartMillis: Int64
    }

    struct Entry: Sendable, Equatable {
        var amount: Double
        var estimated: Bool
    }

    private struct Inner {
        var values: [Key: Entry] = [:]
        /// The end of the last poll whose every page arrived.
        var fetchedThrough: Int64?
        var dirty = false
    }

    private let inner = Mutex(Inner())
    /// What the amounts are of: endpoint, metric, granularity and grouping. A snapshot of other
    /// amounts (the config changed) is not restored: the partition starts over and the first
    /// poll fetches `lookback` again, rather than mixing two metrics or groupings in one series.
    let identity: String

    public init(identity: String) {
        self.identity = identity
    }

    public convenience init(configuration c: CostExplorerConfiguration) {
        self.init(identity: "\(c.endpoint) \(c.region) \(c.metric) \(c.granularity.rawValue) "
                  + c.groupBy.map { "\($0.type):\($0.key)=\($0.label)" }.joined(separator: ","))
    }

    public var fetchedThroughMillis: Int64? { inner.withLock { $0.fetchedThrough } }
    public var count: Int { inner.withLock { $0.values.count } }

    /// What applying a page did.
    public struct ApplyReport: Sendable, Equatable {
        public var new = 0
        public var replaced = 0
        public var unchanged = 0
        /// The store refused the value: reason → count (too old for every ring, series limit, …).
        public var refused: [String: Int] = [:]
    }

    /// Applies polled values to the partition's windows: a new (series, period) is added, a known
    /// one replaced by the difference, so sums never grow with repeated polls. Call inside
    /// `PartitionEngine.update(PartitionKey.costExplorer)`.
    public func apply(_ values: [CostAndUsagePage.Value], writer: borrowing ShardWriter) -> ApplyReport {
        var report = ApplyReport()
        inner.withLock { s in
            for v in values {
                let key = Key(labels: v.labels, periodStartMillis: v.periodStartMillis)
                let previous = s.values[key]
                if let previous, previous.amount == v.amount {
                    report.unchanged += 1
                    if previous.estimated != v.estimated { s.values[key]!.estimated = v.estimated; s.dirty = true }
                    continue
                }
                if let reason = writer.replace(StringLabels(v.labels), timestampMillis: v.periodStartMillis,
                                               previous: previous?.amount, with: v.amount) {
                    report.refused[reason.rawValue, default: 0] += 1
                    continue
                }
                s.values[key] = Entry(amount: v.amount, estimated: v.estimated)
                s.dirty = true
                if previous == nil { report.new += 1 } else { report.replaced += 1 }
            }
            Self.markEstimated(s.values, writer: writer)
        }
        return report
    }

    /// A complete poll reached `end`: periods before `keepFrom` will not be asked again, so their
    /// amounts are final and need not be remembered.
    public func completed(through end: Int64, keepFrom: Int64) {
        inner.withLock { s in
            s.fetchedThrough = max(s.fetchedThrough ?? end, end)
            s.values = s.values.filter { $0.key.periodStartMillis >= keepFrom }
            s.dirty = true
        }
    }

    /// After a restore: the windows do not save which of their amounts are estimates; this does.
    public func markEstimated(writer: borrowing ShardWriter) {
        inner.withLock { s in Self.markEstimated(s.values, writer: writer) }
    }

    private static func markEstimated(_ values: [Key: Entry], writer: borrowing ShardWriter) {
        var earliest: [[String]: Int64] = [:]
        var series: Set<[String]> = []
        for (key, entry) in values {
            series.insert(key.labels)
            if entry.estimated { earliest[key.labels] = min(earliest[key.labels] ?? .max, key.periodStartMillis) }
        }
        for labels in series { writer.markEstimated(StringLabels(labels), fromMillis: earliest[labels]) }
    }

    // MARK: PartitionState

    private struct Saved: Codable {
        var version = 1
        var identity: String
        var fetchedThrough: Int64?
        var labels: [[String]]
        var periods: [Int64]
        var amounts: [Double]
        var estimated: [Bool]
    }

    public func encode(partition: String) -> [UInt8]? {
        guard partition == PartitionKey.costExplorer else { return nil }
        return inner.withLock { s in
            let sorted = s.values.sorted { ($0.key.periodStartMillis, $0.key.labels.joined(separator: "\u{1}")) < ($1.key.periodStartMillis, $1.key.labels.joined(separator: "\u{1}")) }
            let saved = Saved(identity: identity, fetchedThrough: s.fetchedThrough, labels: sorted.map(\.key.labels), periods: sorted.map(\.key.periodStartMillis),
                              amounts: sorted.map(\.value.amount), estimated: sorted.map(\.value.estimated))
            s.dirty = false
            // Finite amounts (the page refuses others) and strings: encoding cannot fail.
            return (try? JSONEncoder().encode(saved)).map { Array($0) }
        }
    }

    public struct RestoreError: Error, CustomStringConvertible {
        public let description: String
    }

    public func restore(partition: String, from bytes: [UInt8]) throws {
        guard partition == PartitionKey.costExplorer else { return }
        let saved: Saved
        do { saved = try JSONDecoder().decode(Saved.self, from: Data(bytes)) } catch {
            throw RestoreError(description: "cost-explorer state does not decode: \(error)")
        }
        guard saved.identity == identity else {
            throw RestoreError(description: "the saved amounts are of \(saved.identity), the config now asks for \(identity): starting over")
        }
        let n = saved.labels.count
        guard saved.version == 1, saved.periods.count == n, saved.amounts.count == n, saved.estimated.count == n else {
            throw RestoreError(description: "cost-explorer state version \(saved.version) or its columns do not match")
        }
        var values: [Key: Entry] = [:]
        for i in 0..<n { values[Key(labels: saved.labels[i], periodStartMillis: saved.periods[i])] = Entry(amount: saved.amounts[i], estimated: saved.estimated[i]) }
        inner.withLock { $0 = Inner(values: values, fetchedThrough: saved.fetchedThrough) }
    }

    public func reset(partition: String) {
        guard partition == PartitionKey.costExplorer else { return }
        inner.withLock { $0 = Inner() }
    }

    public func hasUnsavedChanges(partition: String) -> Bool {
        partition == PartitionKey.costExplorer && inner.withLock { $0.dirty }
    }
}
