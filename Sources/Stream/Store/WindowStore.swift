import Synchronization

/// The ring-buffered window store: a set of shards (one per input partition) over one
/// configuration and one cardinality budget. Queries merge all shards.
public final class WindowStore: Sendable {
    public let configuration: StoreConfiguration
    let budget: SeriesBudget
    private let shards = Mutex<[String: Shard]>([:])

    public init(configuration: StoreConfiguration) {
        self.configuration = configuration
        self.budget = SeriesBudget(limit: configuration.maxSeries)
    }

    /// The shard for a key, created empty on first use.
    public func shard(_ key: String) -> Shard {
        shards.withLock { map in
            if let s = map[key] { return s }
            let s = Shard(key: key, configuration: configuration, budget: budget)
            map[key] = s
            return s
        }
    }

    public func existingShard(_ key: String) -> Shard? { shards.withLock { $0[key] } }

    /// All shards, in key order (stable query and dump output).
    public var allShards: [Shard] { shards.withLock { Array($0.values) }.sorted { $0.key < $1.key } }

    /// Forgets a shard (its partition moved to another instance); frees its series budget.
    public func removeShard(_ key: String) {
        let removed = shards.withLock { $0.removeValue(forKey: key) }
        removed?.releaseBudget()
    }

    /// What installing a snapshot did.
    public struct InstallReport: Sendable {
        /// Set when the snapshot was of another store layout and was converted.
        public var layout: LayoutConversion.Report?
        /// Series the store now holds beyond `maxSeries` (0 when within it).
        public var seriesOverLimit: Int
    }

    /// Replaces (or adds) a shard with one decoded from a snapshot; a snapshot of another store
    /// layout is converted when `conversion` is given (the report says what changed).
    @discardableResult
    public func installShard(from snapshot: [UInt8], key: String,
                             conversion: LayoutConversion? = nil) throws(ShardCodec.DecodeError) -> InstallReport {
        let (state, layout) = try ShardCodec.decode(snapshot, configuration: configuration, source: PartitionKey.source(of: key), conversion: conversion)
        // Restored series count against the limit like new ones; a snapshot from a config with a
        // higher limit can overshoot it, which is reported (here and as ingestd_series above
        // ingestd_series_limit) but not refused: refusing would lose data. New series are then
        // refused until the count is back under the limit.
        budget.admit(state.seriesCount)
        let shard = Shard(key: key, restoring: state, budget: budget)
        let old = shards.withLock { map in
            let old = map[key]
            map[key] = shard
            return old
        }
        old?.releaseBudget()
        return InstallReport(layout: layout, seriesOverLimit: max(0, budget.count - budget.limit))
    }

    /// Replaces a shard with an empty one (its partition is rebuilt from the source).
    public func resetShard(_ key: String) {
        removeShard(key)
        _ = shard(key)
    }

    public var seriesCount: Int { budget.count }

    /// The newest event time in any shard: the clock of replay and backtest.
    public var watermarkMillis: Int64? {
        allShards.compactMap { $0.statistics.watermarkMillis }.max()
    }
}
