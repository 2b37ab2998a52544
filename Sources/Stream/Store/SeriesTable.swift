/// Interns label sets to dense series ids (0, 1, 2, …) for one shard.
///
/// Lookups hash and compare the label bytes where they lie (the parser's view of the message),
/// so a known series costs no allocation; only a new series copies its labels, once.
/// A class, not a struct: held in `ShardState`, a struct would be copied out and its five
/// arrays retained and released on every event (`make bench` parse+apply: 1.88 M events/s
/// before; 2.32 M with this and the unchecked exclusivity of the shard-locked state).
final class SeriesTable {
    /// Open addressing, linear probing; a slot holds series id + 1, 0 = empty. Power-of-two size.
    // Unchecked exclusivity: a table belongs to one shard and is used under its mutex.
    @exclusivity(unchecked) private var slots: [UInt32] = Array(repeating: 0, count: 1024)
    @exclusivity(unchecked) private var hashes: [UInt64] = []
    /// Every series' values back to back, each followed by 0xFF (a byte UTF-8 never contains).
    @exclusivity(unchecked) private var keyBytes: [UInt8] = []
    @exclusivity(unchecked) private var keyStart: [Int] = [0]
    /// The same labels as Strings, for queries and snapshots.
    private(set) var labels: [[String]] = []

    var count: Int { hashes.count }

    @inline(__always)
    static func hash<L: LabelSource>(_ source: L) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<source.labelCount { h = hash(source.labelValue(i), into: h) }
        return h
    }

    /// Folds one value's bytes into `h` (8 at a time, then the tail and the length): the label
    /// hash above, and the contributor ids' (`ContributorNames`).
    @inline(__always)
    static func hash(_ v: UnsafeRawBufferPointer, into seed: UInt64) -> UInt64 {
        var h = seed
        var p = 0
        while p + 8 <= v.count {
            h = mix(h ^ v.loadUnaligned(fromByteOffset: p, as: UInt64.self))
            p += 8
        }
        var tail: UInt64 = 0xFF
        while p < v.count {
            tail = (tail << 8) | UInt64(v[p])
            p += 1
        }
        return mix(h ^ tail ^ UInt64(v.count) << 56)
    }

    @inline(__always)
    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 31
        z = z &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 29)
    }

    @inline(__always)
    func find<L: LabelSource>(_ source: L, hash: UInt64) -> UInt32? {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { return nil }
            let id = Int(slot - 1)
            if hashes[id] == hash && keyEquals(id, source) { return UInt32(id) }
            i = (i + 1) & mask
        }
    }

    /// Adds a series known to be absent (after `find` returned nil). `extra` follows the values
    /// in `labels` only (the shard's `source`: the same for every series of the table, so it
    /// takes no part in hashing or comparing).
    func insert<L: LabelSource>(_ source: L, hash: UInt64, extra: String) -> UInt32 {
        let id = UInt32(hashes.count)
        var strings: [String] = []
        strings.reserveCapacity(source.labelCount + 1)
        for i in 0..<source.labelCount {
            let v = source.labelValue(i)
            keyBytes.append(contentsOf: v)
            keyBytes.append(0xFF)
            strings.append(String(decoding: v, as: UTF8.self))
        }
        keyStart.append(keyBytes.count)
        strings.append(extra)
        labels.append(strings)
        hashes.append(hash)
        if hashes.count * 2 > slots.count { grow() }
        place(id: id, hash: hash)
        return id
    }

    private func keyEquals<L: LabelSource>(_ id: Int, _ source: L) -> Bool {
        var p = keyStart[id]
        let end = keyStart[id + 1]
        return keyBytes.withUnsafeBytes { stored in
            for i in 0..<source.labelCount {
                let v = source.labelValue(i)
                guard p + v.count < end, stored[p + v.count] == 0xFF else { return false }
                if v.count > 0, !ByteEquality.equal(stored.baseAddress! + p, v.baseAddress!, v.count) { return false }
                p += v.count + 1
            }
            return p == end
        }
    }

    private func place(id: UInt32, hash: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = id + 1
    }

    private func grow() {
        slots = Array(repeating: 0, count: slots.count * 2)
        for (id, h) in hashes.enumerated() { place(id: UInt32(id), hash: h) }
    }

    /// Bytes held for label keys and the index (the part of a series' memory that depends on
    /// its label lengths rather than on the configuration).
    var indexBytes: Int {
        slots.count * 4 + hashes.count * 8 + keyBytes.count + keyStart.count * 8
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
