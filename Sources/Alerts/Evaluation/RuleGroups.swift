/// A rule's groups of series, kept from one evaluation round to the next: a series is hashed
/// into its group once, and found again by its index in its shard (a dictionary of integers),
/// so a round over 100,000 series neither hashes their labels nor allocates a group again.
/// A series index is only trusted while the labels at it still equal the group's (a shard
/// that was reset or restored numbers its series anew).
///
/// `@unchecked Sendable`: it moves between rounds through the evaluator's mutex, and only the one
/// round running at a time touches it.
final class RuleGroups: @unchecked Sendable {
    let byIndex: [Int]
    private(set) var groups: [RuleProbe.Group] = []
    private var byHash: [Int: [Int]] = [:]
    /// Per shard key: series index → group index.
    private var bySeries: [String: [Int: Int]] = [:]
    private var currentShard = ""
    private var current: [Int: Int] = [:]

    init(byIndex: [Int]) { self.byIndex = byIndex }

    func group(of series: Int, shard: String, labels: [String]) -> RuleProbe.Group {
        if shard != currentShard { switchShard(to: shard) }
        if let g = current[series], same(groups[g].values, labels) { return groups[g] }
        var hasher = Hasher()
        for i in byIndex { hasher.combine(labels[i]) }
        let hash = hasher.finalize()
        let index: Int
        if let found = byHash[hash]?.first(where: { same(groups[$0].values, labels) }) {
            index = found
        } else {
            index = groups.count
            groups.append(RuleProbe.Group(values: byIndex.map { labels[$0] }))
            byHash[hash, default: []].append(index)
        }
        current[series] = index
        return groups[index]
    }

    @inline(__always)
    private func same(_ values: [String], _ labels: [String]) -> Bool {
        for (k, i) in byIndex.enumerated() where values[k] != labels[i] { return false }
        return true
    }

    private func switchShard(to shard: String) {
        if !currentShard.isEmpty { bySeries[currentShard] = current }
        current = bySeries.removeValue(forKey: shard) ?? [:]
        currentShard = shard
    }

    /// Files away the current shard's map (end of a scan).
    func finishScan() {
        if !currentShard.isEmpty { bySeries[currentShard] = current }
        currentShard = ""
        current = [:]
    }
}
