import Stream

/// Whether the store can answer what a rule will ask of it, checked at load so a rule never
/// fails at evaluation with "no resolution covers this window" (README: Rules).
extension StoreConfiguration {
    /// nil when some resolution tiles `seconds` (window % step == 0) and still holds it `offset`
    /// back; otherwise why each resolution cannot. Only the layout is judged: events stamped
    /// ahead of the clock (up to `store.max_future_skew`) can move rings past a window at run
    /// time, which the evaluation reports in the rule's health instead — a file valid with one
    /// skew setting must not be refused with another.
    func spanProblem(_ seconds: Int64, offset: Int64 = 0) -> String? {
        var reasons: [String] = []
        for r in resolutions {
            let step = r.stepSeconds
            guard seconds > 0, seconds % step == 0 else {
                reasons.append("\(Self.text(step)) buckets do not tile \(Self.text(seconds))")
                continue
            }
            guard seconds + Self.roundUp(offset, to: step) <= r.retentionSeconds else {
                reasons.append("\(Self.text(step)) buckets keep only \(Self.text(r.retentionSeconds))")
                continue
            }
            return nil
        }
        return reasons.joined(separator: "; ")
    }

    /// Month-to-date needs buckets that start at midnight (step divides 1 day) and a ring that
    /// holds the longest month, 31 days.
    var monthToDateProblem: String? {
        let month: Int64 = 31 * 86_400
        for r in resolutions where 86_400 % r.stepSeconds == 0
            && month <= r.retentionSeconds {
            return nil
        }
        return "budget rules need a resolution whose step divides 1d and whose retention holds 31d; store.resolutions has "
            + resolutions.map { "\(Self.text($0.stepSeconds)) × \(Self.text($0.retentionSeconds))" }.joined(separator: ", ")
    }

    private static func roundUp(_ seconds: Int64, to step: Int64) -> Int64 { (seconds + step - 1) / step * step }
    private static func text(_ seconds: Int64) -> String { DurationText.format(seconds: seconds) }
}
