/// The shape of the last event a parser read in full, to read the next one by: the bytes
/// between its scalar values (structure, keys, whitespace) and, for each value, whether it was a
/// string or a number and which field plan leaf it went to.
///
/// Events of one feed are written by one program: same keys in the same order, same spacing,
/// only the values change. Such an event is read by comparing each stretch of fixed bytes and
/// stepping over each value: no key lookup, no dispatch on the next byte, no nesting. On the dev
/// corpus a parse (fields included) takes 1,634 instructions this way, 2,536 scanned in full.
///
/// Exactness: an input matches only if every fixed stretch is byte for byte the learned one,
/// every string value is printable ASCII without escapes, and every number follows the JSON
/// grammar. Such an input is valid JSON with the learned document's structure, so the general
/// scanner would record the same values at the same leaves: strings as slices of the input,
/// numbers as their text. Anything else (escapes, non-ASCII, a literal where a number was, a
/// key renamed, different spacing, an invalid number) is not a match and the general scanner
/// reads the input from its start, with its own errors. A shape is learned only from a
/// document whose every recorded leaf is a plain slice at one of its scalar values; a leaf
/// holding an object, a literal or a decoded string, or a document with arrays or literals,
/// teaches nothing. The later of duplicate keys wins in the general scan; a value the scan did
/// not keep (an earlier duplicate) is learned as going to no leaf, so the result is the same.
///
/// All memory is allocated at init; `learn` copies the fixed stretches (at most the input's
/// size), `match` allocates nothing.
final class JSONSkeleton {
    /// At most this many scalar values: more, and the document is not learned.
    static let maxValues = 64

    private struct Slot {
        /// The fixed bytes before this value (for the last slot: after the last value).
        var fixedStart: Int32
        var fixedCount: Int32
        var kind: JSONScanner.Kind
        var leaf: Int32
    }

    private struct State {
        /// Values of the learned shape; 0: nothing learned.
        var valueCount = 0
        /// Failed matches since the last successful one.
        var misses = 0
        /// General scans since the last learning.
        var sinceLearned = 0
        /// Inputs read by a learned shape, and inputs tried, ever (for tests).
        var matched = 0
        var tried = 0
    }

    private let fixed: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private let slots: UnsafeMutablePointer<Slot>
    private let state: UnsafeMutablePointer<State>

    /// Larger events are not learned: they gain little, and offsets stay within Int32.
    static let maxLearnedBytes = 1 << 20

    /// `capacity`: the largest input that can be learned (the parser's `maxEventBytes`, at most
    /// `maxLearnedBytes`).
    init(capacity: Int) {
        self.capacity = min(max(capacity, 0), Self.maxLearnedBytes)
        fixed = .allocate(capacity: max(self.capacity, 1))
        slots = .allocate(capacity: Self.maxValues + 1)
        state = .allocate(capacity: 1)
        state.initialize(to: State())
    }

    deinit {
        fixed.deallocate()
        slots.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Inputs read by a learned shape so far, and inputs tried.
    var matched: Int { state.pointee.matched }
    var tried: Int { state.pointee.tried }

    /// Whether `match` is worth a try: always while learned shapes keep matching; after repeated
    /// misses (a feed whose shapes vary), only for the first input after each learning. On such
    /// a feed (the dev corpus with every line's keys shuffled) reading by shape then costs 0.6%
    /// more instructions than scanning in full; trying every input and learning from every scan,
    /// it cost 3.7% (IngestInstructions under callgrind).
    @inline(__always)
    var isWorthTrying: Bool {
        let s = state.pointee
        return s.valueCount > 0 && (s.misses <= Self.missesBeforeBackoff || s.sinceLearned == 0)
    }

    private static let missesBeforeBackoff = 4
    /// After repeated misses, one general scan in this many teaches its shape.
    private static let learnEvery = 256

    /// Reads `input` by the learned shape into `values` (which hold `.absent`). false: not a
    /// match, and some leaves may have been written; the caller resets them and scans in full.
    @inline(__always)
    func match(_ input: UnsafeRawBufferPointer, values: UnsafeMutablePointer<JSONScanner.Value>) -> Bool {
        state.pointee.tried &+= 1
        let n = state.pointee.valueCount
        guard n > 0, let raw = input.baseAddress else { return missed() }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        let end = input.count
        var p = 0
        for i in 0..<n {
            let slot = slots[i]
            let count = Int(slot.fixedCount)
            // `>`: the value needs at least one byte after its fixed stretch.
            guard end &- p > count, ByteEquality.equal(base + p, fixed + Int(slot.fixedStart), count) else {
                return missed()
            }
            p &+= count
            let start = p
            if slot.kind == .string {
                guard let close = JSONScanner.plainStringEnd(base, from: p, end: end) else { return missed() }
                p = close
            } else {
                guard let after = try? JSONScanner.numberEnd(base, from: p, end: end) else { return missed() }
                p = after
            }
            if slot.leaf >= 0 {
                values[Int(slot.leaf)] = JSONScanner.Value(kind: slot.kind, start: base + start, count: p &- start)
            }
        }
        let last = slots[n]
        guard end &- p == Int(last.fixedCount), ByteEquality.equal(base + p, fixed + Int(last.fixedStart), end &- p) else {
            return missed()
        }
        state.pointee.misses = 0
        state.pointee.matched &+= 1
        return true
    }

    private func missed() -> Bool {
        state.pointee.misses &+= 1
        return false
    }

    /// After the general scanner accepted `input` as an object and recorded `values` from it:
    /// learns its shape, unless matches keep failing (a feed whose shapes vary), when it learns
    /// from one scan in `learnEvery` only, to keep its cost off such a feed.
    func learnIfDue(_ input: UnsafeRawBufferPointer, values: UnsafePointer<JSONScanner.Value>, leafCount: Int) {
        let s = state.pointee
        if s.misses > Self.missesBeforeBackoff && s.sinceLearned < Self.learnEvery - 1 {
            state.pointee.sinceLearned += 1
            return
        }
        state.pointee.sinceLearned = 0
        learn(input, values: values, leafCount: leafCount)
    }

    /// Learns the shape of `input`, a JSON object the general scanner accepted and recorded
    /// `values` from; forgets the old shape whether or not this one can be learned.
    func learn(_ input: UnsafeRawBufferPointer, values: UnsafePointer<JSONScanner.Value>, leafCount: Int) {
        state.pointee.valueCount = 0
        guard let raw = input.baseAddress, input.count <= capacity else { return }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        let end = input.count
        var n = 0
        var used = 0
        var fixedFrom = 0  // where the current stretch of fixed bytes began
        var matchedLeaves = 0

        func addSlot(valueStart: Int, valueEnd: Int, kind: JSONScanner.Kind) -> Bool {
            guard n < Self.maxValues else { return false }
            let count = valueStart - fixedFrom
            (fixed + used).update(from: base + fixedFrom, count: count)
            var leaf: Int32 = -1
            for j in 0..<leafCount {
                let v = values[j]
                if v.kind == kind, v.start == base + valueStart, v.count == valueEnd - valueStart {
                    leaf = Int32(j)
                    matchedLeaves += 1
                    break
                }
            }
            slots[n] = Slot(fixedStart: Int32(used), fixedCount: Int32(count), kind: kind, leaf: leaf)
            used += count
            n += 1
            fixedFrom = valueEnd
            return true
        }

        // The input is valid JSON: strings end at their first unescaped quote, and a string
        // followed by a colon is a key (part of the fixed bytes).
        var p = 0
        while p < end {
            switch base[p] {
            case UInt8(ascii: "\""):
                var close = p + 1
                while close < end && base[close] != UInt8(ascii: "\"") {
                    close += base[close] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard close < end else { return }
                var after = close + 1
                while after < end, base[after] <= 0x20 { after += 1 }
                if after >= end || base[after] != UInt8(ascii: ":") {
                    guard addSlot(valueStart: p + 1, valueEnd: close, kind: .string) else { return }
                }
                p = close + 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard let after = try? JSONScanner.numberEnd(base, from: p, end: end),
                      addSlot(valueStart: p, valueEnd: after, kind: .number) else { return }
                p = after
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "["):
                return
            default:
                p += 1
            }
        }
        // Every leaf the scan recorded must be one of the values read by the shape.
        var recorded = 0
        for j in 0..<leafCount where values[j].kind != .absent { recorded += 1 }
        guard n > 0, recorded == matchedLeaves else { return }
        let count = end - fixedFrom
        (fixed + used).update(from: base + fixedFrom, count: count)
        slots[n] = Slot(fixedStart: Int32(used), fixedCount: Int32(count), kind: .absent, leaf: -1)
        state.pointee.valueCount = n
    }
}
