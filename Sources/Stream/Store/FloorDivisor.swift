/// Floor division by a positive divisor fixed at init, without a hardware division for
/// dividends below 2^52 in magnitude: a multiplication by the Double reciprocal, exact to within
/// one, then one correction. Bucket and slot numbers of every event go through this (two 64-bit
/// divisions per ring and event were a tenth of the store's time). Larger dividends divide.
struct FloorDivisor: Sendable, Hashable {
    let divisor: Int64
    private let reciprocal: Double

    init(_ divisor: Int64) {
        precondition(divisor > 0, "a FloorDivisor needs a positive divisor")
        self.divisor = divisor
        reciprocal = 1 / Double(divisor)
    }

    /// ⌊x / divisor⌋.
    @inline(__always)
    func quotient(_ x: Int64) -> Int64 {
        // Below 2^52 the Double product is within 2^-52 relative of x / divisor (x and the
        // reciprocal each rounded once), so truncating it (one instruction; `rounded(.down)`
        // would call floor()) is off the floor by at most two; q * divisor stays within
        // x ± 2 divisors, far from overflow.
        if x.magnitude < 1 << 52 {
            var q = Int64(Double(x) * reciprocal)
            var r = x &- q &* divisor
            while r < 0 { q -= 1; r += divisor }
            while r >= divisor { q += 1; r -= divisor }
            return q
        }
        let q = x / divisor
        return x % divisor < 0 ? q - 1 : q
    }

    /// x - ⌊x / divisor⌋ × divisor, in 0..<divisor.
    @inline(__always)
    func remainder(_ x: Int64) -> Int64 {
        x &- quotient(x) &* divisor
    }
}
