/// One ring per series at this granularity: `buckets` buckets of `stepSeconds` each, so it
/// covers `stepSeconds × buckets` of history (the default config: 1m × 2880 = 48h, 1h × 840 = 35d).
public struct Resolution: Sendable, Hashable, CustomStringConvertible {
    public let stepSeconds: Int64
    public let buckets: Int
    /// Division by the step in milliseconds, made once (derived: equal steps, equal divisors).
    private let step: FloorDivisor

    public init(stepSeconds: Int64, buckets: Int) {
        precondition(stepSeconds > 0 && buckets > 0, "a resolution needs a positive step and bucket count")
        self.stepSeconds = stepSeconds
        self.buckets = buckets
        step = FloorDivisor(stepSeconds.multipliedReportingOverflow(by: 1000).overflow ? .max : stepSeconds * 1000)
    }

    public init(step: Int64, retention: Int64) {
        self.init(stepSeconds: step, buckets: Int((retention + step - 1) / step))
    }

    /// Bounds a configuration must respect (checked where it is read): they keep every bucket
    /// index and millisecond in range of Int64, and one chunk of `BucketRing.seriesPerChunk`
    /// series at most 256 × 100,000 × 12 bytes ≈ 300 MB.
    public static let maxStepSeconds: Int64 = 366 * 86_400
    public static let maxRetentionSeconds: Int64 = 36_500 * 86_400
    public static let maxBuckets = 100_000

    public var stepMillis: Int64 { stepSeconds * 1000 }
    public var retentionSeconds: Int64 { stepSeconds * Int64(buckets) }

    /// The bucket that holds an instant: floor division, so times before 1970 still land right.
    @inline(__always)
    public func bucket(containing millis: Int64) -> Int64 {
        step.quotient(millis)
    }

    public var description: String {
        "\(DurationText.format(seconds: stepSeconds)) × \(buckets) (\(DurationText.format(seconds: retentionSeconds)))"
    }

    /// Bytes one series costs in this ring: a Double sum and a UInt32 count per bucket, plus the head.
    public var bytesPerSeries: Int { buckets * (MemoryLayout<Double>.size + MemoryLayout<UInt32>.size) + 8 }
}
