/// Civil (proleptic Gregorian, UTC) date arithmetic on day numbers since 1970-01-01, after
/// Howard Hinnant's days_from_civil/civil_from_days: exact, branch-light, no Foundation calendar.
public enum UTCCalendar {
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }

    /// Midnight UTC on the first day of the month that contains `millis`.
    public static func monthStart(containing millis: Int64) -> Int64 {
        let day = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let (y, m, _) = civil(days: day)
        return days(year: y, month: m, day: 1) * 86_400_000
    }

    /// Midnight UTC on the first day of the month after the one that contains `millis`.
    public static func nextMonthStart(containing millis: Int64) -> Int64 {
        monthStart(containing: monthStart(containing: millis) + 32 * 86_400_000)
    }

    /// The start of the `stepMillis`-long period (an hour, a day) holding `millis`, also before 1970.
    public static func periodStart(containing millis: Int64, stepMillis: Int64) -> Int64 {
        millis - ((millis % stepMillis) + stepMillis) % stepMillis
    }

    /// `2026-06-01T00:00:00Z` for whole seconds (the CSV dump and API answers).
    public static func iso8601(millis: Int64) -> String {
        let secs = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let day = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = secs - day * 86_400
        let (y, m, d) = civil(days: day)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60))Z"
    }

    /// RFC 3339 with milliseconds (`2026-06-01T10:00:00.250Z`), as Alertmanager's payload carries them.
    public static func iso8601WithMillis(millis: Int64) -> String {
        let ms = millis >= 0 ? millis % 1000 : (1000 + millis % 1000) % 1000
        let text = iso8601(millis: millis)
        let digits = String(ms + 1000).dropFirst()
        return text.dropLast() + ".\(digits)Z"
    }
}
