/// What shapes the store: resolutions, which labels a series has, and its limits.
public struct StoreConfiguration: Sendable, Equatable {
    /// account, service, region, currency, then the configured tag/metadata keys.
    public var labelNames: [String]
    public var resolutions: [Resolution]
    /// Most series (label set × shard) the store will hold; the memory bound.
    public var maxSeries: Int
    /// Live mode only: events further ahead of the wall clock are refused (a wrong clock upstream
    /// would otherwise advance every ring and wipe the history it holds).
    public var maxFutureSkewSeconds: Int64

    /// Currency is part of a series' identity: amounts in different currencies never share a
    /// bucket (README: Currencies).
    public static let builtinLabelNames = ["account", "service", "region", "currency"]
    /// Where `currency` sits in `labelNames` (and in every `LabelSource`).
    public static let currencyLabelIndex = 3

    public init(tagKeys: [String] = [], resolutions: [Resolution] = StoreConfiguration.defaultResolutions,
                maxSeries: Int = 100_000, maxFutureSkewSeconds: Int64 = 600) {
        self.labelNames = Self.builtinLabelNames + tagKeys
        self.resolutions = resolutions.sorted { $0.stepSeconds < $1.stepSeconds }
        self.maxSeries = maxSeries
        self.maxFutureSkewSeconds = maxFutureSkewSeconds
    }

    /// A layout as a snapshot recorded it (its label names in full).
    init(labelNames: [String], resolutions: [Resolution], maxSeries: Int, maxFutureSkewSeconds: Int64) {
        self.labelNames = labelNames
        self.resolutions = resolutions.sorted { $0.stepSeconds < $1.stepSeconds }
        self.maxSeries = maxSeries
        self.maxFutureSkewSeconds = maxFutureSkewSeconds
    }

    public static let defaultResolutions = [
        Resolution(step: 60, retention: 48 * 3600),
        Resolution(step: 3600, retention: 35 * 86_400),
    ]

    /// Fixed bytes of ring storage per series (README: memory per series).
    public var ringBytesPerSeries: Int { resolutions.reduce(0) { $0 + $1.bytesPerSeries } }

    public var longestRetentionSeconds: Int64 { resolutions.map(\.retentionSeconds).max() ?? 0 }
}
