@testable import Stream
import Testing

/// `FloorDivisor` against exact floor division, around every place the reciprocal shortcut could
/// be off: multiples of the divisor and their neighbours, negative numbers, the 2^52 switch-over
/// and the extremes of Int64.
@Suite("FloorDivisor")
struct FloorDivisorTests {
    static func exact(_ x: Int64, _ d: Int64) -> (Int64, Int64) {
        let q = x / d
        let r = x % d
        return r < 0 ? (q - 1, r + d) : (q, r)
    }

    @Test("agrees with exact floor division", arguments: [Int64(1), 2, 7, 840, 2880, 60_000, 3_600_000, 86_400_000, 366 * 86_400_000, 1 << 40, .max])
    func agrees(divisor d: Int64) {
        let divisor = FloorDivisor(d)
        var random = SplitMix64(seed: UInt64(bitPattern: d))
        var samples: [Int64] = [0, 1, -1, .max, .min, .min + 1, .max - 1, 1 << 52, -(1 << 52), (1 << 52) - 1, -(1 << 52) + 1]
        for _ in 0..<20_000 {
            let magnitude = Int64.random(in: 0...62, using: &random)
            let x = Int64.random(in: -(1 << magnitude)...(1 << magnitude), using: &random)
            samples.append(x)
            // Multiples of the divisor and their neighbours, where a rounded product lands wrong.
            let (q, _) = Self.exact(x, d)
            let (m, overflow) = q.multipliedReportingOverflow(by: d)
            if !overflow { samples += [m, m &- 1, m &+ 1] }
        }
        for x in samples {
            let (q, r) = Self.exact(x, d)
            #expect(divisor.quotient(x) == q, "\(x) / \(d)")
            #expect(divisor.remainder(x) == r, "\(x) mod \(d)")
        }
    }
}
