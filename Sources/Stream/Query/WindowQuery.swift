/// A window query: which series, how to group them, which span and what to compute.
///
/// The span is a whole number of buckets of one resolution, the newest bucket being the one
/// that holds `at − offset`: "last 1h" at 10:30:15 on 1-minute buckets is 09:31–10:30:59.
/// Values per bucket are the group's summed spend; `avg`, `min` and `max` are over those bucket
/// values (empty buckets count as 0), `sum` is the total and `count` the number of events.
public struct WindowQuery: Sendable {
    public enum Aggregation: String, Sendable, CaseIterable { case sum, avg, min, max, count }

    public enum Span: Sendable, Equatable {
        case last(seconds: Int64)
        /// From midnight UTC on the 1st of the month holding `at − offset`.
        case monthToDate
    }

    public var matchers: [LabelMatcher]
    /// nil: one result per series; []: one total; otherwise grouped by these labels.
    public var by: [String]?
    public var aggregation: Aggregation
    public var span: Span
    public var offsetSeconds: Int64
    /// A resolution's step in seconds, or nil for the finest one that covers the span.
    public var stepSeconds: Int64?
    /// Also return each group's value per bucket (oldest first): a range query.
    public var includeBuckets: Bool

    public init(matchers: [LabelMatcher] = [], by: [String]? = nil, aggregation: Aggregation = .sum,
                span: Span, offsetSeconds: Int64 = 0, stepSeconds: Int64? = nil, includeBuckets: Bool = false) {
        self.matchers = matchers
        self.by = by
        self.aggregation = aggregation
        self.span = span
        self.offsetSeconds = offsetSeconds
        self.stepSeconds = stepSeconds
        self.includeBuckets = includeBuckets
    }
}

public struct WindowAnswer: Sendable {
    public struct Group: Sendable {
        public var labels: [String: String]
        public var value: Double
        public var sum: Double
        public var count: UInt64
        public var series: Int
        /// Per bucket, oldest first, when `includeBuckets` was asked for.
        public var buckets: [Double]?
        /// Some of the amounts are Cost Explorer estimates, which AWS may still restate.
        public var estimated = false
    }

    public var resolution: Resolution
    /// First instant covered and the end (exclusive) of the newest bucket.
    public var startMillis: Int64
    public var endMillis: Int64
    public var buckets: Int
    public var groups: [Group]
}

public struct QueryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The query itself is wrong (a parameter out of range, no resolution fits): fix the request.
        case invalid
        /// The query is fine but its answer is not a finite number (a total beyond ±1.8e308).
        case overflow
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(_ kind: Kind = .invalid, message: String) {
        self.kind = kind
        self.message = message
    }
}
