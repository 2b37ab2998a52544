/// The ranges a window query's numbers must lie in. Every number a query carries is checked
/// against these before any arithmetic, so that `at − offset`, bucket indexes and their
/// millisecond starts stay far inside Int64 (a request must never trap the process).
/// The bounds are generous: no configured ring holds more than 100 years (see `Resolution`).
public enum QueryLimits {
    /// `at`: 1970-01-01T00:00:00Z through 9999-12-31T23:59:59.999Z, in epoch milliseconds.
    public static let instantMillis: ClosedRange<Int64> = 0...253_402_300_799_999
    /// `window`: 1 s through 100 years (36,500 days).
    public static let windowSeconds: ClosedRange<Int64> = 1...maxDurationSeconds
    /// `offset`: 0 through 100 years.
    public static let offsetSeconds: ClosedRange<Int64> = 0...maxDurationSeconds
    /// `step`: 1 s through 100 years.
    public static let stepSeconds: ClosedRange<Int64> = 1...maxDurationSeconds

    public static let maxDurationSeconds: Int64 = 36_500 * 86_400

    /// Throws a `QueryError` naming the parameter and its allowed range.
    public static func check(_ q: WindowQuery, atMillis: Int64) throws(QueryError) {
        guard instantMillis.contains(atMillis) else {
            throw QueryError(message: "at must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (epoch ms \(instantMillis.lowerBound)...\(instantMillis.upperBound)), got \(atMillis)")
        }
        if case .last(let seconds) = q.span, !windowSeconds.contains(seconds) {
            throw QueryError(message: "window must be between 1s and 36500d (100 years), got \(seconds)s")
        }
        guard offsetSeconds.contains(q.offsetSeconds) else {
            throw QueryError(message: "offset must be between 0s and 36500d (100 years), got \(q.offsetSeconds)s")
        }
        if let step = q.stepSeconds, !stepSeconds.contains(step) {
            throw QueryError(message: "step must be between 1s and 36500d (100 years), got \(step)s")
        }
    }
}
