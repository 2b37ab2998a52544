/// Little-endian bytes for detector state: compact (a Float per seasonal slot) and versioned
/// by its caller. JSON would be 3-4× larger, and state is saved for every series.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func put(_ v: Double) { put(v.bitPattern) }
    mutating func put(_ v: Float) { put(v.bitPattern) }
    mutating func put(_ v: Bool) { put(UInt8(v ? 1 : 0)) }
    mutating func put(_ values: [Float]) {
        put(UInt32(values.count))
        for v in values { put(v) }
    }
}

struct ByteReader {
    struct Truncated: Error, CustomStringConvertible {
        var description: String { "detector state is truncated or of another format" }
    }

    private let bytes: [UInt8]
    private var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at == bytes.count }
    var remaining: Int { bytes.count - at }
    func peek(_ n: Int) -> [UInt8] { Array(bytes[at..<at + n]) }
    mutating func skip(_ n: Int) { at += n }

    mutating func get<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - at >= size else { throw Truncated() }
        var v: T = 0
        for i in 0..<size { v |= T(truncatingIfNeeded: bytes[at + i]) << (8 * i) }
        at += size
        return v
    }

    mutating func double() throws -> Double { Double(bitPattern: try get(UInt64.self)) }
    mutating func float() throws -> Float { Float(bitPattern: try get(UInt32.self)) }
    mutating func bool() throws -> Bool { try get(UInt8.self) != 0 }
    mutating func floats(max: Int) throws -> [Float] {
        let n = Int(try get(UInt32.self))
        guard n <= max else { throw Truncated() }
        return try (0..<n).map { _ in try float() }
    }
}

extension ByteWriter {
    mutating func put(_ s: String) {
        let utf8 = Array(s.utf8)
        put(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

extension ByteReader {
    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0, remaining >= n else { throw Truncated() }
        defer { skip(n) }
        return peek(n)
    }

    mutating func string() throws -> String { String(decoding: try bytes(Int(try get(UInt32.self))), as: UTF8.self) }
}
