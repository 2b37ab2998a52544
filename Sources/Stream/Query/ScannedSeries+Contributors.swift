/// The top contributors of a series' hour, for an alert's "why" (README: Anomaly rules).
extension ScannedSeries {
    /// Top contributors (resource ids) by cost in the clock hour containing `hourStartMillis`
    /// (any millisecond of the hour selects it), largest first, at most `contributorsPerHour`.
    /// Empty when the series has no sketch of that hour: only the newest hour it has seen and the
    /// one before are kept, and not across a restart or a rebalance (see `contributedCost`).
    public func contributors(hourStartMillis: Int64) -> [Contributor] {
        state.contributors.sketch(series: series, hourContaining: hourStartMillis)?.top ?? []
    }

    /// The cost the hour's sketch took in, nil without a sketch of that hour. Less than the
    /// hour's window total when part of the hour arrived before a restart or from a source
    /// without resource ids (the HTTP journal replayed at start), or was a credit.
    public func contributedCost(hourStartMillis: Int64) -> Double? {
        state.contributors.sketch(series: series, hourContaining: hourStartMillis)?.total
    }

    /// Entries per sketch (k of the Space-Saving top-k).
    public static var contributorsPerHour: Int { ContributorSketches.k }
}
