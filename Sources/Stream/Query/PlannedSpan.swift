/// A span resolved to one ring: the buckets `first...last` of `resolution` (ring `ring` of the
/// store). Planned once per query or evaluation round; reading it is a loop over buckets.
public struct PlannedSpan: Sendable, Hashable {
    public let resolution: Resolution
    public let ring: Int
    public let first: Int64
    public let last: Int64

    public var buckets: Int { Int(last - first + 1) }

    /// The span without its newest bucket (the one still filling at the time it was planned for),
    /// or nil when that is all it has.
    public var closed: PlannedSpan? {
        last > first ? PlannedSpan(resolution: resolution, ring: ring, first: first, last: last - 1) : nil
    }
    public var startMillis: Int64 { first * resolution.stepMillis }
    /// The end (exclusive) of the newest bucket.
    public var endMillis: Int64 { (last + 1) * resolution.stepMillis }
}

extension WindowStore {
    /// Plans a span the way `query` does (same limits, same choice of ring by what the rings
    /// hold), for callers that read many series over the same spans (the rule evaluator).
    public func plan(_ span: WindowQuery.Span, offsetSeconds: Int64 = 0, stepSeconds: Int64? = nil,
                     atMillis: Int64) throws(QueryError) -> PlannedSpan {
        let q = WindowQuery(span: span, offsetSeconds: offsetSeconds, stepSeconds: stepSeconds)
        try QueryLimits.check(q, atMillis: atMillis)
        let (resolution, ring, first, last) = try plan(q, endInstant: atMillis - offsetSeconds * 1000,
                                                       newestMillis: newestEventMillis)
        return PlannedSpan(resolution: resolution, ring: ring, first: first, last: last)
    }
}
