extension WindowStore {
    /// Answers a window query at `atMillis` (wall clock when live, the watermark in replay).
    public func query(_ q: WindowQuery, atMillis: Int64) throws(QueryError) -> WindowAnswer {
        let endInstant = atMillis - q.offsetSeconds * 1000
        let (resolution, ringIndex, first, last) = try plan(q, atMillis: atMillis, endInstant: endInstant)
        let n = Int(last - first + 1)
        let names = configuration.labelNames
        if let by = q.by {
            for label in by where !names.contains(label) {
                throw QueryError(message: "unknown label \"\(label)\" in by: the labels are \(names.joined(separator: ", "))")
            }
        }
        // Amounts in different currencies are never added: every group is also split by
        // currency, and its row says which (README: Currencies).
        let groupNames = q.by.map { by in
            by.contains("currency") || !names.contains("currency") ? by : by + ["currency"]
        }
        let byIndex = groupNames.map { $0.map { names.firstIndex(of: $0)! } }
        let matchers = q.matchers.map { LabelMatcher.Compiled($0, labelNames: names) }
        let needsBuckets = q.aggregation == .min || q.aggregation == .max || q.includeBuckets

        final class Accumulator {
            let key: [String]
            var sum = 0.0
            /// Saturates: counts of many series at UInt32.max could exceed UInt64 only in theory.
            var count: UInt64 = 0
            var series = 0
            var buckets: [Double]
            init(key: [String], buckets: Int) {
                self.key = key
                self.buckets = Array(repeating: 0, count: buckets)
            }
        }
        // Groups are found by a hash of the grouping values, so that a series joining an existing
        // group allocates nothing (a [String] key per series cost one allocation per series).
        var groups: [Accumulator] = []
        var groupsByHash: [Int: [Int]] = [:]
        func group(for labels: [String]) -> Accumulator {
            var hasher = Hasher()
            if let byIndex { for i in byIndex { hasher.combine(labels[i]) } } else { hasher.combine(labels) }
            let h = hasher.finalize()
            if let candidates = groupsByHash[h] {
                for g in candidates {
                    let key = groups[g].key
                    let same = byIndex.map { idx in idx.indices.allSatisfy { key[$0] == labels[idx[$0]] } } ?? (key == labels)
                    if same { return groups[g] }
                }
            }
            let acc = Accumulator(key: byIndex.map { $0.map { labels[$0] } } ?? labels, buckets: needsBuckets ? n : 0)
            groupsByHash[h, default: []].append(groups.count)
            groups.append(acc)
            return acc
        }

        for shard in allShards {
            var start = 0
            while true {
                // One chunk per lock hold: writers wait at most this long (see Shard).
                let done: Bool = shard.withState { s in
                    let end = min(start + BucketRing.seriesPerChunk, s.seriesCount)
                    let ring = s.rings[ringIndex]
                    var series = start
                    while series < end {
                        defer { series += 1 }
                        let labels = s.table.labels[series]
                        guard matchers.allSatisfy({ $0.matches(labels) }) else { continue }
                        let acc = group(for: labels)
                        acc.series += 1
                        if needsBuckets {
                            ring.forEachBucket(series: series, from: first, through: last) { b, sum, count in
                                acc.buckets[Int(b - first)] += sum
                                acc.sum += sum
                                acc.count = Self.saturatingAdd(acc.count, UInt64(count))
                            }
                        } else {
                            let t = ring.total(series: series, from: first, through: last)
                            acc.sum += t.sum
                            acc.count = Self.saturatingAdd(acc.count, t.count)
                        }
                    }
                    start = end
                    return end >= s.seriesCount
                }
                if done { break }
            }
        }

        let labelNamesOut = groupNames ?? names
        var result: [WindowAnswer.Group] = []
        result.reserveCapacity(groups.count)
        for acc in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let key = acc.key
            let value: Double = switch q.aggregation {
            case .sum: acc.sum
            case .count: Double(acc.count)
            case .avg: acc.sum / Double(n)
            case .min: acc.buckets.min() ?? 0
            case .max: acc.buckets.max() ?? 0
            }
            var labels: [String: String] = [:]
            for (name, v) in zip(labelNamesOut, key) { labels[name] = v }
            result.append(.init(labels: labels, value: value, sum: acc.sum, count: acc.count, series: acc.series,
                                buckets: q.includeBuckets ? acc.buckets : nil))
        }
        return WindowAnswer(resolution: resolution, startMillis: first * resolution.stepMillis,
                            endMillis: (last + 1) * resolution.stepMillis, buckets: n, groups: result)
    }

    @inline(__always)
    private static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : r
    }

    /// The finest resolution (or the requested one) whose buckets tile the span and still hold it.
    private func plan(_ q: WindowQuery, atMillis: Int64, endInstant: Int64)
        throws(QueryError) -> (Resolution, Int, Int64, Int64) {
        var reasons: [String] = []
        for (i, r) in configuration.resolutions.enumerated() {
            if let step = q.stepSeconds, step != r.stepSeconds { continue }
            let last = r.bucket(containing: endInstant)
            let first: Int64
            switch q.span {
            case .last(let seconds):
                guard seconds > 0, seconds % r.stepSeconds == 0 else {
                    reasons.append("\(DurationText.format(seconds: r.stepSeconds)) buckets do not tile \(DurationText.format(seconds: seconds))")
                    continue
                }
                first = last - seconds / r.stepSeconds + 1
            case .monthToDate:
                let start = UTCCalendar.monthStart(containing: endInstant)
                guard start % r.stepMillis == 0 else {
                    reasons.append("\(DurationText.format(seconds: r.stepSeconds)) buckets do not start at midnight")
                    continue
                }
                first = r.bucket(containing: start)
            }
            guard first > r.bucket(containing: atMillis) - Int64(r.buckets) else {
                reasons.append("\(DurationText.format(seconds: r.stepSeconds)) buckets keep only \(DurationText.format(seconds: r.retentionSeconds))")
                continue
            }
            return (r, i, first, last)
        }
        if let step = q.stepSeconds, !configuration.resolutions.contains(where: { $0.stepSeconds == step }) {
            throw QueryError(message: "no \(DurationText.format(seconds: step)) resolution is configured")
        }
        throw QueryError(message: "no resolution covers this window and offset: " + reasons.joined(separator: "; "))
    }
}
