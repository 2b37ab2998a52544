import Foundation

/// An exponentially weighted mean of squared residuals (observed − expected): how far this
/// series usually strays from its baseline, recently. It complements the seasonal MAD, which
/// sees only seven points per slot; with a half-life of a day it also widens the band after
/// the series turned noisier and narrows it again as it calms.
struct ResidualEWMA: Sendable {
    static let halfLifeSeconds = 86_400.0

    let alpha: Double
    private(set) var variance = 0.0
    private(set) var samples = 0

    init(stepSeconds: Int64) {
        alpha = 1 - pow(2, -Double(stepSeconds) / Self.halfLifeSeconds)
    }

    var standardDeviation: Double { variance.squareRoot() }

    /// Adds a residual, clipped to ±`clip` so one incident does not blow the band open for days.
    mutating func add(_ residual: Double, clip: Double) {
        let r = max(-clip, min(clip, residual))
        variance = samples == 0 ? r * r : (1 - alpha) * variance + alpha * r * r
        if !variance.isFinite { variance = 0 }
        samples += 1
    }

    mutating func rescale(by factor: Double) {
        variance *= factor
        if !variance.isFinite { variance = 0 }
    }

    func encode(into w: inout ByteWriter) { w.put(variance); w.put(Int64(samples)) }

    init(stepSeconds: Int64, from r: inout ByteReader) throws {
        self.init(stepSeconds: stepSeconds)
        variance = try r.double()
        samples = Int(clamping: try r.get(Int64.self))
    }
}
