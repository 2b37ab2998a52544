/// What shapes the store: resolutions, which labels a series has, and its limits.
public struct StoreConfiguration: Sendable, Equatable {
    /// The labels an event carries: account, service, region, currency, then the configured
    /// tag/metadata keys (every `LabelSource`, and what snapshots and the HTTP journal store).
    public var inputLabelNames: [String]
    /// Every label a series has: the input labels, then `source`, which names the input the
    /// series came from (kafka, http, replay, cost-explorer). A shard has one input, so the
    /// store adds `source` from the shard key instead of every event carrying it.
    public var labelNames: [String] { inputLabelNames + [Self.sourceLabel] }
    public var resolutions: [Resolution]
    /// Most series (label set × shard) the store will hold; the memory bound.
    public var maxSeries: Int
    /// Sources that a selector without a `source` matcher leaves out (README: Sources): the
    /// daemon sets `cost-explorer` here when it both consumes Kafka and polls Cost Explorer, which
    /// usually report the same spend, so that rules and queries do not count it twice.
    public var sourcesOutsideDefault: [String] = []
    /// Live mode only: events further ahead of the wall clock are refused (a wrong clock upstream
    /// would otherwise advance every ring and wipe the history it holds).
    public var maxFutureSkewSeconds: Int64

    /// Currency is part of a series' identity: amounts in different currencies never share a
    /// bucket (README: Currencies).
    public static let builtinLabelNames = ["account", "service", "region", "currency"]
    /// Where `currency` sits in `labelNames` (and in every `LabelSource`).
    public static let currencyLabelIndex = 3
    public static let sourceLabel = "source"

    public init(tagKeys: [String] = [], resolutions: [Resolution] = StoreConfiguration.defaultResolutions,
                maxSeries: Int = 100_000, maxFutureSkewSeconds: Int64 = 600) {
        self.inputLabelNames = Self.builtinLabelNames + tagKeys
        self.resolutions = resolutions.sorted { $0.stepSeconds < $1.stepSeconds }
        self.maxSeries = maxSeries
        self.maxFutureSkewSeconds = maxFutureSkewSeconds
    }

    /// A layout as a snapshot recorded it (its input label names in full).
    init(inputLabelNames: [String], resolutions: [Resolution], maxSeries: Int, maxFutureSkewSeconds: Int64) {
        self.inputLabelNames = inputLabelNames
        self.resolutions = resolutions.sorted { $0.stepSeconds < $1.stepSeconds }
        self.maxSeries = maxSeries
        self.maxFutureSkewSeconds = maxFutureSkewSeconds
    }

    public static let defaultResolutions = [
        Resolution(step: 60, retention: 48 * 3600),
        Resolution(step: 3600, retention: 35 * 86_400),
    ]

    /// The matchers a selector stands for: as written when it names `source`; otherwise with
    /// `source!="…"` for each of `sourcesOutsideDefault` added.
    public func selecting(_ matchers: [LabelMatcher]) -> [LabelMatcher] {
        guard !matchers.contains(where: { $0.name == Self.sourceLabel }) else { return matchers }
        // `!=` matchers never throw (only regexes are checked).
        return matchers + sourcesOutsideDefault.compactMap { try? LabelMatcher(Self.sourceLabel, .notEqual, $0) }
    }

    /// Fixed bytes of ring storage per series (README: memory per series).
    public var ringBytesPerSeries: Int { resolutions.reduce(0) { $0 + $1.bytesPerSeries } }

    public var longestRetentionSeconds: Int64 { resolutions.map(\.retentionSeconds).max() ?? 0 }
}
