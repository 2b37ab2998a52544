/// What one `EventParser` accepts.
public struct EventParserOptions: Sendable {
    public var format: EventFormat
    /// Tag or metadata keys kept as series labels, after account, service and region.
    public var tagKeys: [String]
    /// Accepted ISO 4217 codes (matched ignoring ASCII case); the first one is the currency of
    /// an event that names none. An empty list accepts every currency.
    public var currencies: [String]
    /// Larger events are rejected as `.oversized` before they are read.
    public var maxEventBytes: Int

    public init(
        format: EventFormat = .coststream,
        tagKeys: [String] = [],
        currencies: [String] = ["USD"],
        maxEventBytes: Int = 65536
    ) {
        self.format = format
        self.tagKeys = tagKeys
        self.currencies = currencies
        self.maxEventBytes = maxEventBytes
    }
}
