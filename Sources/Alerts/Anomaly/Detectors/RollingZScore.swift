/// The plain detector a backtest compares with: the z-score of a step against the mean and
/// standard deviation of the previous day of steps (at most 288). No seasonality, no
/// robustness: a nightly batch job looks like an incident every night.
struct RollingZScore: Sendable {
    static let threshold = 3.0
    private(set) var window: [Float] = []
    private var next = 0
    let capacity: Int

    init(stepSeconds: Int64) { capacity = Int(max(3, min(288, 86_400 / stepSeconds))) }

    /// Mean and standard deviation of the window, or nil before it holds a day.
    var stats: (mean: Double, sd: Double)? {
        guard window.count == capacity else { return nil }
        let mean = window.reduce(0.0) { $0 + Double($1) } / Double(capacity)
        let variance = window.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(capacity - 1)
        return (mean, variance.squareRoot())
    }

    mutating func add(_ x: Double) {
        if window.count < capacity { window.append(Float(x)) } else { window[next] = Float(x) }
        next = (next + 1) % capacity
    }

    func encode(into w: inout ByteWriter) { w.put(window); w.put(Int64(next)) }

    init(stepSeconds: Int64, from r: inout ByteReader) throws {
        self.init(stepSeconds: stepSeconds)
        window = try r.floats(max: capacity)
        next = Int(clamping: try r.get(Int64.self)) % capacity
    }
}
