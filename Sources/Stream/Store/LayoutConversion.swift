/// Converts a shard saved under another store layout (`store.resolutions`, `store.labels`)
/// into the configured one, so that changing the layout never silently drops history.
///
/// - Labels: a label the saved layout lacks takes `labelDefaults[name]` (or ""); a label the
///   new layout lacks is dropped, and the series that then share all remaining labels merge
///   (their buckets add up).
/// - Resolutions: a new ring is filled from the saved ring whose step divides its step (its
///   buckets tile the new ones exactly) and that reaches furthest back; buckets older than the
///   new ring keeps fall out as they would live. A new ring that no saved ring tiles (a finer
///   step, or a step that is not a multiple) cannot be derived: it is reported in `lost`.
public struct LayoutConversion: Sendable {
    public var labelDefaults: [String: String]
    /// Accept a conversion that leaves some new rings without their history.
    public var allowLoss: Bool

    public init(labelDefaults: [String: String] = [:], allowLoss: Bool = false) {
        self.labelDefaults = labelDefaults
        self.allowLoss = allowLoss
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var from: [Resolution]
        public var fromLabels: [String]
        public var to: [Resolution]
        public var toLabels: [String]
        /// New resolutions whose history could not be derived from the saved rings.
        public var lost: [Resolution]

        public var description: String {
            var text = "store layout changed from resolutions [\(from.map(\.description).joined(separator: ", "))] labels \(fromLabels) "
                + "to [\(to.map(\.description).joined(separator: ", "))] labels \(toLabels)"
            if !lost.isEmpty {
                text += "; no saved resolution tiles \(lost.map(\.description).joined(separator: ", ")), so its history cannot be derived"
            }
            return text
        }
    }

    /// One series' label values under `oldNames`, as the same series reads under `newNames`.
    public func labels(_ values: [String], from oldNames: [String], to newNames: [String]) -> [String] {
        newNames.map { name in oldNames.firstIndex(of: name).map { values[$0] } ?? labelDefaults[name] ?? "" }
    }

    func convert(_ old: ShardState, to configuration: StoreConfiguration) -> (ShardState, Report) {
        let new = ShardState(configuration: configuration, source: old.source)
        new.watermarkMillis = old.watermarkMillis
        new.nextOffset = old.nextOffset
        new.lastMessage = old.lastMessage
        new.applied = old.applied
        new.rejected = old.rejected
        let oldNames = old.configuration.inputLabelNames
        // For each new ring: the saved ring that tiles it and reaches furthest back.
        let sources: [Int?] = new.rings.map { ring in
            old.rings.indices
                .filter { ring.resolution.stepSeconds % old.rings[$0].resolution.stepSeconds == 0 }
                .max { old.rings[$0].resolution.retentionSeconds < old.rings[$1].resolution.retentionSeconds }
        }
        for series in 0..<old.seriesCount {
            let labels = StringLabels(self.labels(Array(old.table.labels[series].dropLast()), from: oldNames, to: configuration.inputLabelNames))
            let hash = SeriesTable.hash(labels)
            let id: Int
            if let existing = new.table.find(labels, hash: hash) {
                id = Int(existing)
            } else {
                id = Int(new.table.insert(labels, hash: hash, extra: new.source))
                for ring in new.rings { ring.addSeries() }
            }
            for (r, ring) in new.rings.enumerated() {
                guard let source = sources[r] else { continue }
                let from = old.rings[source]
                let ratio = ring.resolution.stepSeconds / from.resolution.stepSeconds
                from.forEachBucket(series: series, from: .min / 2, through: .max / 2) { bucket, sum, count in
                    // Floor division: bucket indices before 1970 are negative.
                    let target = bucket >= 0 ? bucket / ratio : -((-bucket + ratio - 1) / ratio)
                    // The converted sums bound the buckets' |sum| as applied events would.
                    if ring.add(series: id, bucket: target, amount: sum, count: count) { new.appliedMagnitude += sum.magnitude }
                }
            }
        }
        let report = Report(from: old.configuration.resolutions, fromLabels: oldNames,
                            to: configuration.resolutions, toLabels: configuration.inputLabelNames,
                            lost: new.rings.indices.filter { sources[$0] == nil }.map { new.rings[$0].resolution })
        return (new, report)
    }
}
