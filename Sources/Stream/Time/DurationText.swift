/// Durations as operators write them: `90s`, `5m`, `1h`, `7d`, `1w`, and sums like `1h30m`.
public enum DurationText {
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let text: String
        public var description: String { "invalid duration \"\(text)\": use a number and a unit (s, m, h, d, w), e.g. 90s, 5m, 1h30m, 7d" }
    }

    public static func seconds(_ text: String) throws(Invalid) -> Int64 {
        var total: Int64 = 0
        var number: Int64 = -1
        var sawUnit = false
        for ch in text.utf8 {
            switch ch {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int64(ch - UInt8(ascii: "0"))
                let (m, o1) = max(number, 0).multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 { throw Invalid(text: text) }
                number = a
            default:
                guard number >= 0, let unit = unitSeconds(ch) else { throw Invalid(text: text) }
                let (p, o1) = number.multipliedReportingOverflow(by: unit)
                let (s, o2) = total.addingReportingOverflow(p)
                if o1 || o2 { throw Invalid(text: text) }
                total = s
                number = -1
                sawUnit = true
            }
        }
        guard sawUnit, number < 0 else { throw Invalid(text: text) }
        return total
    }

    public static func format(seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        for (unit, size) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    private static func unitSeconds(_ ch: UInt8) -> Int64? {
        switch ch {
        case UInt8(ascii: "s"): 1
        case UInt8(ascii: "m"): 60
        case UInt8(ascii: "h"): 3600
        case UInt8(ascii: "d"): 86_400
        case UInt8(ascii: "w"): 604_800
        default: nil
        }
    }
}
