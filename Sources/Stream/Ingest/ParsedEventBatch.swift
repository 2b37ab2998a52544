/// Events parsed on one thread and applied on another (`ReplayPipeline`): numbers, label bytes
/// and the resource id (for the contributors) copied into one arena, and the parser's
/// rejections. Allocated once and reused for every batch; only a rejection allocates (its
/// detail text).
///
/// Unchecked exclusivity: a batch belongs to one thread at a time (the semaphores hand it over),
/// and the runtime's access checks on these fields were 4% of a replay.
final class ParsedEventBatch: @unchecked Sendable {
    let capacity: Int
    let labelCount: Int
    /// Events (parsed or rejected) in the batch, in line order.
    @exclusivity(unchecked) var count = 0
    let timestamps: UnsafeMutablePointer<Int64>
    let costs: UnsafeMutablePointer<Double>
    let lineNumbers: UnsafeMutablePointer<Int>
    /// Event i's label j is arena[bounds[i * stride + j] ..< bounds[… + j + 1]]; its resource id
    /// follows its labels (j = labelCount). stride = labelCount + 2.
    let bounds: UnsafeMutablePointer<Int>
    @exclusivity(unchecked) private(set) var arena: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var arenaCapacity: Int
    @exclusivity(unchecked) private var arenaUsed = 0
    /// The parser's rejections, by event index, ascending.
    @exclusivity(unchecked) var rejections: [(index: Int, rejection: EventRejection)] = []
    /// Set on the last batch of the input (possibly empty), with the reader's error if it failed.
    @exclusivity(unchecked) var isLast = false
    @exclusivity(unchecked) var error: Error?

    init(capacity: Int, labelCount: Int, arenaBytes: Int) {
        self.capacity = capacity
        self.labelCount = labelCount
        timestamps = .allocate(capacity: capacity)
        costs = .allocate(capacity: capacity)
        lineNumbers = .allocate(capacity: capacity)
        bounds = .allocate(capacity: capacity * (labelCount + 2))
        arenaCapacity = max(arenaBytes, 1)
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        timestamps.deallocate()
        costs.deallocate()
        lineNumbers.deallocate()
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

    /// Whether `bytes` more label bytes fit without growing the arena.
    @inline(__always)
    func fits(labelBytes bytes: Int) -> Bool { arenaUsed + bytes <= arenaCapacity }

    /// Appends the event the parser holds (its labels and resource id copied; `labelBytes` counts
    /// both). The caller checked `isFull`; an
    /// event larger than the whole arena grows it (an empty batch, so nothing moves).
    @inline(__always)
    func append(_ parser: EventParser, labelBytes: Int, line: Int) {
        if !fits(labelBytes: labelBytes) {
            precondition(arenaUsed == 0, "append to a batch whose arena is full")
            arena.deallocate()
            arenaCapacity = labelBytes
            arena = .allocate(capacity: arenaCapacity)
        }
        let i = count
        let b = bounds + i * (labelCount + 2)
        b[0] = arenaUsed
        for j in 0...labelCount {
            let v = j < labelCount ? parser.labelValue(j) : parser.resourceId
            if let source = v.baseAddress, v.count > 0 {
                UnsafeMutableRawPointer(arena + arenaUsed).copyMemory(from: source, byteCount: v.count)
                arenaUsed += v.count
            }
            b[j + 1] = arenaUsed
        }
        timestamps[i] = parser.timestampMillis
        costs[i] = parser.cost
        lineNumbers[i] = line
        count = i + 1
    }

    func appendRejection(_ rejection: EventRejection, line: Int) {
        let i = count
        let b = bounds + i * (labelCount + 2)
        for j in 0...(labelCount + 1) { b[j] = arenaUsed }
        rejections.append((i, rejection))
        lineNumbers[i] = line
        count = i + 1
    }

    @inline(__always)
    func labels(_ i: Int) -> Labels {
        Labels(arena: arena, bounds: bounds + i * (labelCount + 2), labelCount: labelCount)
    }

    /// One event's labels and resource id, where the arena holds them.
    struct Labels: LabelSource {
        let arena: UnsafeMutablePointer<UInt8>
        let bounds: UnsafeMutablePointer<Int>
        let labelCount: Int

        @inline(__always)
        func labelValue(_ index: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: arena + bounds[index], count: bounds[index + 1] - bounds[index])
        }

        @inline(__always)
        var contributorId: UnsafeRawBufferPointer? {
            UnsafeRawBufferPointer(start: arena + bounds[labelCount], count: bounds[labelCount + 1] - bounds[labelCount])
        }
    }
}
