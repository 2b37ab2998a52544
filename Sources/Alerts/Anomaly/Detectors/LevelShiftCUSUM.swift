/// A one-sided CUSUM of standardized residuals: it adds up how far each step lies above the
/// baseline beyond a drift of one standard deviation, and forgets when steps fall back. A
/// level shift or a ramp too gentle for any single step to leave the band still accumulates
/// and crosses the limit within hours; noise (mean residual 0) drains away. Each step's
/// contribution is capped, so one spike cannot keep it high long after it ended.
struct LevelShiftCUSUM: Sendable {
    static let drift = 1.0

    private(set) var sum = 0.0
    /// Excess (observed − expected) and expected amount over the steps since it last was 0.
    private(set) var impact = 0.0
    private(set) var expected = 0.0

    mutating func add(z: Double, residual: Double, expected e: Double, cap: Double) {
        sum = max(0, sum + max(-cap, min(cap, z)) - Self.drift)
        if sum > 0 {
            impact += residual
            expected += e
        } else {
            impact = 0
            expected = 0
        }
    }

    /// Clears it (a planned change: the new level is the baseline).
    mutating func reset() { sum = 0; impact = 0; expected = 0 }

    func encode(into w: inout ByteWriter) { w.put(sum); w.put(impact); w.put(expected) }

    init() {}

    init(from r: inout ByteReader) throws {
        sum = try r.double()
        impact = try r.double()
        expected = try r.double()
    }
}
