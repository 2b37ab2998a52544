/// The last day of judged windows — observed, expected, upper band, verdict — so a person can
/// see why a detector fired (`GET /v1/series/baseline`). 24 entries of 17 bytes.
struct DecisionHistory: Sendable {
    static let capacity = 24

    struct Point: Sendable, Equatable {
        var start: Int64
        var observed: Double
        var expected: Double
        var upper: Double
        var anomalous: Bool
    }

    private var hours: [Int32] = []
    private var values: [Float] = []
    private var flags: [UInt8] = []
    private var next = 0

    /// Oldest first.
    var points: [Point] {
        let n = hours.count
        return (0..<n).map { i in
            let j = (next + i) % n
            return Point(start: Int64(hours[j]) * 3_600_000, observed: Double(values[3 * j]), expected: Double(values[3 * j + 1]),
                         upper: Double(values[3 * j + 2]), anomalous: flags[j] != 0)
        }
    }

    /// Records a whole judged window starting at `start` (hour-aligned: windows are an hour or
    /// a step of whole hours).
    mutating func record(start: Int64, observed: Double, expected: Double, upper: Double, anomalous: Bool) {
        let hour = Int32(clamping: start / 3_600_000)
        let row: [Float] = [Float(observed), Float(expected), Float(upper)]
        if hours.count < Self.capacity {
            hours.append(hour)
            values.append(contentsOf: row)
            flags.append(anomalous ? 1 : 0)
            next = hours.count % Self.capacity
        } else {
            hours[next] = hour
            values.replaceSubrange((3 * next)..<(3 * next + 3), with: row)
            flags[next] = anomalous ? 1 : 0
            next = (next + 1) % Self.capacity
        }
    }

    func encode(into w: inout ByteWriter) {
        w.put(UInt32(hours.count))
        for h in hours { w.put(h) }
        w.put(values)
        for f in flags { w.put(f) }
        w.put(Int64(next))
    }

    init() {}

    init(from r: inout ByteReader) throws {
        let n = Int(try r.get(UInt32.self))
        guard n <= Self.capacity else { throw ByteReader.Truncated() }
        hours = try (0..<n).map { _ in try r.get(Int32.self) }
        values = try r.floats(max: 3 * Self.capacity)
        guard values.count == 3 * n else { throw ByteReader.Truncated() }
        flags = try (0..<n).map { _ in try r.get(UInt8.self) }
        next = Int(clamping: try r.get(Int64.self))
        guard (n < Self.capacity && next == n) || (n == Self.capacity && next < n) else { throw ByteReader.Truncated() }
    }
}
