import Foundation

/// The body of one `GetCostAndUsage` request: a period range, and the page token after the first page.
public struct CostAndUsageRequest: Sendable, Equatable {
    public var startMillis: Int64
    public var endMillis: Int64
    public var nextPageToken: String?

    public init(startMillis: Int64, endMillis: Int64, nextPageToken: String? = nil) {
        self.startMillis = startMillis
        self.endMillis = endMillis
        self.nextPageToken = nextPageToken
    }

    /// The periods a poll at `nowMillis` asks for: from the first period that can still change
    /// (or the first one never fetched, or `lookback` on a first poll) through the one in progress.
    /// `fetchedThrough`: the end of the last complete poll.
    public static func range(nowMillis: Int64, fetchedThrough: Int64?, configuration c: CostExplorerConfiguration) -> (start: Int64, end: Int64) {
        let step = c.granularity.stepMillis
        let floor = { (t: Int64) in UTCCalendar.periodStart(containing: t, stepMillis: step) }
        let earliest = floor(nowMillis - c.lookbackSeconds * 1000)
        let unsettled = floor(nowMillis - c.settleSeconds * 1000)
        let start = max(earliest, min(fetchedThrough ?? earliest, unsettled))
        return (start, floor(nowMillis) + step)
    }

    public func body(_ c: CostExplorerConfiguration) -> [UInt8] {
        struct Period: Encodable { let Start: String; let End: String }
        struct Group: Encodable { let `Type`: String; let Key: String }
        struct Body: Encodable {
            let TimePeriod: Period
            let Granularity: String
            let Metrics: [String]
            let GroupBy: [Group]
            let NextPageToken: String?
        }
        let body = Body(TimePeriod: Period(Start: Self.format(startMillis, c.granularity), End: Self.format(endMillis, c.granularity)),
                        Granularity: c.granularity.rawValue, Metrics: [c.metric],
                        GroupBy: c.groupBy.map { Group(Type: $0.type, Key: $0.key) }, NextPageToken: nextPageToken)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings and arrays: encoding cannot fail.
        return Array((try? encoder.encode(body)) ?? Data())
    }

    /// DAILY periods are dates; HOURLY ones are instants (Cost Explorer's two formats).
    static func format(_ millis: Int64, _ g: CostExplorerConfiguration.Granularity) -> String {
        let text = UTCCalendar.iso8601(millis: millis)
        return g == .daily ? String(text.prefix(10)) : text
    }
}
