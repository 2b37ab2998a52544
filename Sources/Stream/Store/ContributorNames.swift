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

    // An open-addressing table over the ids, which are already 64-bit hashes: their low bits
    // pick the slot, with no second hash. A `[UInt64: String]` ran SipHash on every lookup, one
    // per event whose id is not in its sketch (perf of a replay: 2.5 % of all samples, on the
    // applying thread). Id 0 marks a free slot; a real id 0 is kept aside. Unchecked
    // exclusivity: used only under the shard's mutex, like the sketches.
    @exclusivity(unchecked) private var ids: [UInt64] = Array(repeating: 0, count: 64)
    @exclusivity(unchecked) private var names: [String?] = Array(repeating: nil, count: 64)
    private var zeroName: String?
    private(set) var count = 0
    /// The hour of the last sweep (`ContributorSketches.noHour`: none yet).
    private var sweptHour = ContributorSketches.noHour
    /// Heap bytes of the names that do not fit in a String's inline storage (15 bytes).
    private var heapBytes = 0

    static func capacity(series: Int) -> Int { max(minimumCapacity, namesPerSeries * series) }

    /// The slot arrays (8 + 16 B per slot, at most half of them used) plus the names' own heap bytes.
    var allocatedBytes: Int { ids.capacity * 8 + names.capacity * 16 + heapBytes }

    /// Records the name of `id` unless known; may sweep (see the type's comment).
    @inline(__always)
    func intern(_ id: UInt64, _ bytes: UnsafeRawBufferPointer, hour: Int64, sketches: ContributorSketches) {
        if slot(of: id).found { return }
        insert(id, bytes, hour: hour, sketches: sketches)
    }

    /// Where `id` is, or the free slot where it would go (id 0: always "found" at -1 when named).
    @inline(__always)
    private func slot(of id: UInt64) -> (index: Int, found: Bool) {
        if id == 0 { return (-1, zeroName != nil) }
        let mask = ids.count - 1
        var i = Int(truncatingIfNeeded: id) & mask
        while true {
            let k = ids[i]
            if k == id { return (i, true) }
            if k == 0 { return (i, false) }
            i = (i + 1) & mask
        }
    }

    private func insert(_ id: UInt64, _ bytes: UnsafeRawBufferPointer, hour: Int64, sketches: ContributorSketches) {
        let capacity = Self.capacity(series: sketches.seriesCapacity)
        if count >= capacity {
            guard hour > sweptHour else { return }
            sweep(sketches)
            sweptHour = hour
            guard count < capacity else { return }
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
        store(id, name)
    }

    /// Adds a name not in the table, growing it to keep at most half of the slots used.
    private func store(_ id: UInt64, _ name: String) {
        count += 1
        if id == 0 {
            zeroName = name
            return
        }
        if count * 2 > ids.count { rehash(slots: ids.count * 2) }
        let i = slot(of: id).index
        ids[i] = id
        names[i] = name
    }

    private func rehash(slots: Int) {
        let oldIds = ids, oldNames = names
        ids = Array(repeating: 0, count: slots)
        names = Array(repeating: nil, count: slots)
        for (i, id) in oldIds.enumerated() where id != 0 {
            let j = slot(of: id).index
            ids[j] = id
            names[j] = oldNames[i]
        }
    }

    /// Keeps only the names some sketch still holds.
    private func sweep(_ sketches: ContributorSketches) {
        var live = Set<UInt64>(minimumCapacity: count)
        sketches.forEachTrackedId { live.insert($0) }
        let kept = zip(ids, names).filter { $0.0 != 0 && live.contains($0.0) }
        let keptZero = live.contains(0) ? zeroName : nil
        ids = Array(repeating: 0, count: 64)
        names = Array(repeating: nil, count: 64)
        zeroName = nil
        count = 0
        heapBytes = 0
        for (id, name) in kept {
            guard let name else { continue }
            heapBytes += Self.heapBytes(name)
            store(id, name)
        }
        if let keptZero {
            heapBytes += Self.heapBytes(keptZero)
            store(0, keptZero)
        }
    }

    private static func heapBytes(_ name: String) -> Int {
        let n = name.utf8.count
        return n > 15 ? n + 32 : 0
    }

    func name(_ id: UInt64) -> String {
        let (i, found) = slot(of: id)
        if found, let name = i < 0 ? zeroName : names[i] { return name }
        let hex = String(id, radix: 16)
        return Self.hashedNamePrefix + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A 64-bit hash of an id's bytes (8 bytes at a time, like `SeriesTable.hash`).
    @inline(__always)
    static func hash(_ v: UnsafeRawBufferPointer) -> UInt64 {
        SeriesTable.hash(v, into: 0x2545_F491_4F6C_DD1D)
    }

}
