/// What one `EventParser` accepts.
public struct EventParserOptions: Sendable {
    public var format: EventFormat
    /// Tag or metadata keys kept as series labels, after account, service, region and currency.
    public var tagKeys: [String]
    /// Accepted ISO 4217 codes (matched ignoring ASCII case); the first one is the currency of
    /// an event that names none. An empty list accepts any three-letter code.
    public var currencies: [String]
    /// Code → factor into the first currency: amounts in these are converted at ingest and
    /// counted under the first currency. Each code must be listed in `currencies`, not first.
    public var conversionRates: [String: Double]
    /// Larger events are rejected as `.oversized` before they are read.
    public var maxEventBytes: Int
    /// Read an event by the shape of the one before when it has the same (`JSONSkeleton`).
    /// Off only to compare against the general scanner in tests and benchmarks.
    public var reusesShapes = true

    public init(
        format: EventFormat = .coststream,
        tagKeys: [String] = [],
        currencies: [String] = ["USD"],
        conversionRates: [String: Double] = [:],
        maxEventBytes: Int = 65536
    ) {
        self.format = format
        self.tagKeys = tagKeys
        self.currencies = currencies
        self.conversionRates = conversionRates
        self.maxEventBytes = maxEventBytes
    }
}
