/// The resource ids behind the hashes a shard's contributor sketches hold.
///
/// A name is copied (the one allocation) only when its hash enters a sketch and the table does
/// not have it yet, so an id that recurs costs a dictionary lookup at most, and only when it
/// re-enters a sketch. Bounded: at most `capacity(series:)` names of at most `maxNameBytes`
/// bytes each. When the table is full it drops the names no sketch holds any more, at most once
/// per clock hour of event time (a pass over the shard's sketches); a name that still finds no
/// room shows as its hash (`hashedNamePrefix` + 16 hex digits) until a later sweep.
final class ContributorNames {
    /// What an event without a resource id counts as.
    static let noResource = "(none)"
    static let hashedNamePrefix = "resource-hash:"
    /// Longer ids are kept to this many bytes, with "…" appended (their hash is over every byte).
    static let maxNameBytes = 128
    /// Names per series of the shard (one hour's full sketch), and never fewer than `minimumCapacity`.
    static let namesPerSeries = ContributorSketches.k
    static let minimumCapacity = 4096

    private var table: [UInt64: String] = [:]
    /// The hour of the last sweep (`ContributorSketches.noHour`: none yet).
    private var sweptHour = ContributorSketches.noHour
    /// Heap bytes of the names that do not fit in a String's inline storage (15 bytes).
    private var heapBytes = 0

    var count: Int { table.count }

    static func capacity(series: Int) -> Int { max(minimumCapacity, namesPerSeries * series) }

    /// Dictionary storage (key, value, metadata ≈ 25 B per bucket) plus the names' own heap bytes.
    var allocatedBytes: Int { table.capacity * 25 + heapBytes }

    /// Records the name of `id` unless known; may sweep (see the type's comment).
    func intern(_ id: UInt64, _ bytes: UnsafeRawBufferPointer, hour: Int64, sketches: ContributorSketches) {
        if table[id] != nil { return }
        insert(id, bytes, hour: hour, sketches: sketches)
    }

    private func insert(_ id: UInt64, _ bytes: UnsafeRawBufferPointer, hour: Int64, sketches: ContributorSketches) {
        let capacity = Self.capacity(series: sketches.seriesCapacity)
        if table.count >= capacity {
            guard hour > sweptHour else { return }
            sweep(sketches)
            sweptHour = hour
            guard table.count < capacity else { return }
        }
        let name: String
        if bytes.isEmpty {
            name = Self.noResource
        } else if bytes.count > Self.maxNameBytes {
            name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<Self.maxNameBytes]), as: UTF8.self) + "…"
        } else {
            name = String(decoding: bytes, as: UTF8.self)
        }
        heapBytes += Self.heapBytes(name)
        table[id] = name
    }

    /// Keeps only the names some sketch still holds.
    private func sweep(_ sketches: ContributorSketches) {
        var live = Set<UInt64>(minimumCapacity: table.count)
        sketches.forEachTrackedId { live.insert($0) }
        table = table.filter { live.contains($0.key) }
        heapBytes = table.values.reduce(0) { $0 + Self.heapBytes($1) }
    }

    private static func heapBytes(_ name: String) -> Int {
        let n = name.utf8.count
        return n > 15 ? n + 32 : 0
    }

    func name(_ id: UInt64) -> String {
        if let name = table[id] { return name }
        let hex = String(id, radix: 16)
        return Self.hashedNamePrefix + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A 64-bit hash of an id's bytes (8 bytes at a time, like `SeriesTable.hash`).
    @inline(__always)
    static func hash(_ v: UnsafeRawBufferPointer) -> UInt64 {
        SeriesTable.hash(v, into: 0x2545_F491_4F6C_DD1D)
    }

}
