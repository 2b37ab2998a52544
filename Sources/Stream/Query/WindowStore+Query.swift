extension WindowStore {
    /// Answers a window query at `atMillis` (wall clock when live, the watermark in replay).
    /// Throws `QueryError` (`.invalid`) for numbers outside `QueryLimits` or a span no ring holds,
    /// and (`.overflow`) when a total would not be a finite number.
    public func query(_ q: WindowQuery, atMillis: Int64) throws(QueryError) -> WindowAnswer {
        try QueryLimits.check(q, atMillis: atMillis)
        let endInstant = atMillis - q.offsetSeconds * 1000
        let (resolution, ringIndex, first, last) = try plan(q, endInstant: endInstant, newestMillis: newestEventMillis)
        let n = Int(last - first + 1)
        let endMillis = (last + 1) * resolution.stepMillis
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
        let matchers = configuration.selecting(q.matchers).map { LabelMatcher.Compiled($0, labelNames: names) }
        let needsBuckets = q.aggregation == .min || q.aggregation == .max || q.includeBuckets

        final class Accumulator {
            let key: [String]
            var sum = 0.0
            /// Saturates: counts of many series at UInt32.max could exceed UInt64 only in theory.
            var count: UInt64 = 0
            var series = 0
            var estimated = false
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
                        if series < s.estimatedFrom.count, s.estimatedFrom[series] < endMillis { acc.estimated = true }
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

        // Each bucket is finite (the store refuses events that would overflow one), but a sum over
        // many buckets or series can still exceed ±1.8e308: say so rather than answer inf or NaN.
        for acc in groups where !acc.sum.isFinite || acc.buckets.contains(where: { !$0.isFinite }) {
            let labels = zip(groupNames ?? names, acc.key).map { "\($0)=\"\($1)\"" }.joined(separator: ",")
            throw QueryError(.overflow, message: "the total of {\(labels)} over this window is beyond ±1.8e308 and cannot be represented: narrow match or group with by=")
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
                                buckets: q.includeBuckets ? acc.buckets : nil, estimated: acc.estimated))
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
    ///
    /// What a ring holds is decided by its head, not by `at`: a series' ring keeps the
    /// `buckets` buckets up to the newest one it has seen, and the newest event any shard
    /// has applied (`newestMillis`) is the furthest any ring's head has moved. A span that
    /// starts after that head minus the ring's length is held by every series' ring; an older
    /// one may have been overwritten, even when `at` itself is old.
    func plan(_ q: WindowQuery, endInstant: Int64, newestMillis: Int64?)
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
            // No data yet: any ring long enough for the span holds it (all empty).
            let head = newestMillis.map { max(r.bucket(containing: $0), last) } ?? last
            guard first > head - Int64(r.buckets) else {
                let held = newestMillis.map { " back from the newest event (\(UTCCalendar.iso8601(millis: $0)))" } ?? ""
                reasons.append("\(DurationText.format(seconds: r.stepSeconds)) buckets keep only \(DurationText.format(seconds: r.retentionSeconds))\(held)")
                continue
            }
            return (r, i, first, last)
        }
        if let step = q.stepSeconds, !configuration.resolutions.contains(where: { $0.stepSeconds == step }) {
            throw QueryError(message: "no \(DurationText.format(seconds: step)) resolution is configured")
        }
        throw QueryError(message: "no resolution covers this window and offset: " + reasons.joined(separator: "; "))
    }

    /// The newest event time any shard has applied (nil before the first event).
    var newestEventMillis: Int64? {
        allShards.map { $0.withState { $0.watermarkMillis } }.filter { $0 != .min }.max()
    }
}
