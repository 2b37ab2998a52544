/// Why an input event was not counted. The raw value is the `reason` label of
/// `ingestd_events_bad_total` and the `reason` column of the quarantine, so it stays low-cardinality;
/// specifics (which field, which byte) go into `EventRejection.detail`.
public enum RejectReason: String, Sendable, CaseIterable, Codable {
    case invalidJSON = "invalid_json"
    case missingField = "missing_field"
    case wrongType = "wrong_type"
    case invalidTimestamp = "invalid_timestamp"
    case invalidCost = "invalid_cost"          // NaN, infinite, unparseable decimal
    case negativeCost = "negative_cost"        // negative and not marked as a credit/refund
    case unknownCurrency = "unknown_currency"
    case oversized = "oversized"
    // Decided by the window store, not the parser:
    case tooOld = "too_old"                    // older than every resolution's retention
    case futureTimestamp = "future_timestamp"  // further ahead of the clock than store.max_future_skew
    case seriesLimit = "series_limit"          // would create a series beyond store.max_series
    case costOverflow = "cost_overflow"        // would make a bucket's sum infinite
    // Decided by the request's access scope (HTTP only; last, so the indexes above keep their meaning):
    case forbiddenAccount = "forbidden_account" // the token may not post events for this account
}

/// A rejected event: the reason and a human-readable detail ("field \"cost\": expected a number
/// or a decimal string"). Built only on the bad path, so it may allocate.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: RejectReason
    public var detail: String

    public init(_ reason: RejectReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
