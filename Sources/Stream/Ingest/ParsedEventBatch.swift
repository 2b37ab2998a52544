/// Events scanned on one thread and read and applied on another (`ReplayPipeline`): each
/// event's line copied whole into one arena (plus any string the scanner decoded), where its
/// values for the field plan's leaves are (kind, offset, length), and the scanner's rejections. Allocated once and reused for every batch; only a rejection
/// allocates (its detail text).
///
/// Unchecked exclusivity: a batch belongs to one thread at a time (the semaphores hand it over),
/// and the runtime's access checks on these fields were 4% of a replay.
final class ParsedEventBatch: @unchecked Sendable {
    let capacity: Int
    let leafCount: Int
    /// Events (scanned or rejected) in the batch, in line order.
    @exclusivity(unchecked) var count = 0
    let lineNumbers: UnsafeMutablePointer<Int>
    /// Event i's leaf j has kind kinds[i * leafCount + j], its bytes start at arena offset
    /// bounds[i * 2 * leafCount + j] and count bounds[i * 2 * leafCount + leafCount + j].
    let kinds: UnsafeMutablePointer<JSONScanner.Kind>
    let bounds: UnsafeMutablePointer<Int>
    @exclusivity(unchecked) private(set) var arena: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var arenaCapacity: Int
    @exclusivity(unchecked) private var arenaUsed = 0
    /// The scanner's rejections, by event index, ascending.
    @exclusivity(unchecked) var rejections: [(index: Int, rejection: EventRejection)] = []
    /// Set on the last batch of the input (possibly empty), with the reader's error if it failed.
    @exclusivity(unchecked) var isLast = false
    @exclusivity(unchecked) var error: Error?

    init(capacity: Int, leafCount: Int, arenaBytes: Int) {
        self.capacity = capacity
        self.leafCount = leafCount
        lineNumbers = .allocate(capacity: capacity)
        kinds = .allocate(capacity: max(capacity * leafCount, 1))
        bounds = .allocate(capacity: max(capacity * 2 * leafCount, 1))
        arenaCapacity = max(arenaBytes, 1)
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        lineNumbers.deallocate()
        kinds.deallocate()
        bounds.deallocate()
        arena.deallocate()
    }

    func reset() {
        count = 0
        arenaUsed = 0
        rejections.removeAll(keepingCapacity: true)
        isLast = false
        error = nil
    }

    var isFull: Bool { count == capacity }

    /// Whether `bytes` more bytes fit without growing the arena.
    @inline(__always)
    func fits(bytes: Int) -> Bool { arenaUsed + bytes <= arenaCapacity }

    /// At least the bytes `append` copies for `line`: the line itself, and the strings the
    /// scanner decoded into its scratch (those with escapes), never longer than their source.
    @inline(__always)
    static func bytesBound(line: UnsafeRawBufferPointer) -> Int { 2 * line.count }

    /// Appends `line`, which `parser` scanned last (`bytes` from `bytesBound(line:)`): the line is
    /// copied whole (one copy instead of one per value) and each value kept as its offset in it.
    /// The caller checked `isFull`; an event larger than the whole arena grows it (an empty
    /// batch, so nothing moves).
    @inline(__always)
    func append(_ parser: EventParser, line: UnsafeRawBufferPointer, bytes: Int, number: Int) {
        if !fits(bytes: bytes) {
            precondition(arenaUsed == 0, "append to a batch whose arena is full")
            arena.deallocate()
            arenaCapacity = bytes
            arena = .allocate(capacity: arenaCapacity)
        }
        let i = count
        let k = kinds + i * leafCount
        let b = bounds + i * 2 * leafCount
        let lineOffset = arenaUsed
        if let source = line.baseAddress, line.count > 0 {
            UnsafeMutableRawPointer(arena + lineOffset).copyMemory(from: source, byteCount: line.count)
        }
        arenaUsed += line.count
        let start = line.baseAddress.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) }
        for j in 0..<leafCount {
            let v = parser.leaf(j)
            k[j] = v.kind
            if let s = v.start, let start, v.count > 0 {
                if s >= start && s < start + line.count {
                    b[j] = lineOffset + (s - start)
                } else {
                    // Decoded into the scanner's scratch: copied on its own.
                    (arena + arenaUsed).update(from: s, count: v.count)
                    b[j] = arenaUsed
                    arenaUsed += v.count
                }
            } else {
                b[j] = lineOffset
            }
            b[leafCount + j] = v.count
        }
        lineNumbers[i] = number
        count = i + 1
    }

    func appendRejection(_ rejection: EventRejection, line: Int) {
        let i = count
        (bounds + i * 2 * leafCount).update(repeating: 0, count: 2 * leafCount)
        (kinds + i * leafCount).update(repeating: .absent, count: leafCount)
        rejections.append((i, rejection))
        lineNumbers[i] = line
        count = i + 1
    }

    /// Event i's leaves, pointing into the arena (valid until the batch is reset).
    @inline(__always)
    func loadLeaves(_ i: Int, into values: UnsafeMutablePointer<JSONScanner.Value>) {
        let k = kinds + i * leafCount
        let b = bounds + i * 2 * leafCount
        for j in 0..<leafCount {
            values[j] = JSONScanner.Value(kind: k[j], start: UnsafePointer(arena + b[j]), count: b[leafCount + j])
        }
    }
}
