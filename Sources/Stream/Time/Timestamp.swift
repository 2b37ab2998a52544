/// Event-time parsing to epoch milliseconds (UTC), without Foundation formatters or allocation.
public enum Timestamp {
    /// `YYYY-MM-DD[(T|t| )HH:MM:SS[(.|,)fraction][Z|z|±HH:MM|±HHMM]]`.
    ///
    /// The fraction may have any number of digits and is truncated to milliseconds; no offset
    /// means UTC, and a date alone means midnight UTC. Fields are range-checked (day against the
    /// month's length in the proleptic Gregorian calendar, second 60 allowed for a leap second,
    /// which then counts as the first second of the next minute).
    public static func parseISO8601(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        parseISO8601(bytes, dayCache: nil)
    }

    /// The date part ("YYYY-MM-DD") `parseISO8601` last read and its day number: events come in
    /// time order, so most repeat the previous event's date (the parser keeps one).
    struct DayCache {
        var head: UInt64 = 0
        var tail: UInt16 = 0
        var days: Int64 = 0
        var valid = false
    }

    /// `parseISO8601`, skipping the date's validation and calendar arithmetic when its ten bytes
    /// are those of the cached one.
    @inline(__always)
    static func parseISO8601(_ bytes: UnsafeRawBufferPointer, dayCache: UnsafeMutablePointer<DayCache>?) -> Int64? {
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count >= 10 else { return nil }
        let n = bytes.count
        let head = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        let tail = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        let days: Int64
        if let cache = dayCache, cache.pointee.valid, cache.pointee.head == head, cache.pointee.tail == tail {
            days = cache.pointee.days
        } else {
            guard let d = parseDate(p) else { return nil }
            days = d
            dayCache?.pointee = DayCache(head: head, tail: tail, days: d, valid: true)
        }
        if n == 10 { return days * 86_400_000 }

        let separator = p[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " "),
              n >= 19,
              let hour = digits(p, 11, 2), p[13] == UInt8(ascii: ":"),
              let minute = digits(p, 14, 2), p[16] == UInt8(ascii: ":"),
              let second = digits(p, 17, 2),
              hour < 24, minute < 60, second <= 60
        else { return nil }

        var i = 19
        var millis: Int64 = 0
        if i < n && (p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: ",")) {
            i += 1
            let first = i
            while i < n, case let d = p[i] &- UInt8(ascii: "0"), d < 10 {
                if i - first < 3 { millis = millis * 10 + Int64(d) }
                i += 1
            }
            guard i > first else { return nil }
            for _ in min(i - first, 3)..<3 { millis *= 10 }
        }

        var offsetSeconds: Int64 = 0
        if i < n {
            switch p[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                i += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign: Int64 = p[i] == UInt8(ascii: "-") ? -1 : 1
                guard let offsetHour = digits(p, i + 1, 2, limit: n) else { return nil }
                var at = i + 3
                if at < n && p[at] == UInt8(ascii: ":") { at += 1 }
                guard let offsetMinute = digits(p, at, 2, limit: n),
                      offsetHour < 24, offsetMinute < 60 else { return nil }
                offsetSeconds = sign * (offsetHour * 3600 + offsetMinute * 60)
                i = at + 2
            default:
                return nil
            }
        }
        guard i == n else { return nil }

        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1000 + millis
    }

    /// An epoch number, as a JSON number or the text of a string: `[+-]? digits ('.' digits)?
    /// ([eE] [+-]? digits)?`. Seconds when |value| < 1e11 (that is, before year 5138), else
    /// milliseconds; the result is exact decimal arithmetic floored to whole milliseconds.
    /// nil when malformed or beyond ±1e18 ms.
    public static func parseEpoch(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return nil }
        let n = bytes.count
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "+") {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        // The value is 0.d1d2d3… × 10^point with d1 != 0. Keep the first 18 significant digits
        // (enough for any result that fits) and whether any later digit is non-zero.
        var head: Int64 = 0
        var headCount = 0
        var tailNonZero = false
        var point = 0
        var seenNonZero = false

        func take(_ d: UInt8) {
            if !seenNonZero && d == 0 { return }
            seenNonZero = true
            if headCount < 18 {
                head = head * 10 + Int64(d)
                headCount += 1
            } else if d != 0 {
                tailNonZero = true
            }
        }

        let integerStart = i
        while i < n, case let d = p[i] &- UInt8(ascii: "0"), d < 10 {
            take(d)
            if seenNonZero { point += 1 }
            i += 1
        }
        guard i > integerStart else { return nil }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, case let d = p[i] &- UInt8(ascii: "0"), d < 10 {
                if !seenNonZero && d == 0 { point -= 1 }
                take(d)
                i += 1
            }
            guard i > fractionStart else { return nil }
        }
        if i < n && (p[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var exponentNegative = false
            if i < n && (p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+")) {
                exponentNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            let exponentStart = i
            var exponent = 0
            while i < n, case let d = p[i] &- UInt8(ascii: "0"), d < 10 {
                if exponent < 10_000 { exponent = exponent * 10 + Int(d) }
                i += 1
            }
            guard i > exponentStart else { return nil }
            point += exponentNegative ? -exponent : exponent
        }
        guard i == n else { return nil }
        guard seenNonZero else { return 0 }

        // value < 10^point, and value >= 1e11 exactly when point > 11.
        let scale = point <= 11 ? point + 3 : point  // digits before the decimal point, in ms
        guard scale <= 18 else { return nil }
        var millis: Int64
        var remainderNonZero: Bool
        if scale <= 0 {
            millis = 0
            remainderNonZero = true
        } else if scale >= headCount {
            millis = head
            for _ in headCount..<scale { millis *= 10 }
            remainderNonZero = tailNonZero
        } else {
            var divisor: Int64 = 1
            for _ in scale..<headCount { divisor *= 10 }
            millis = head / divisor
            remainderNonZero = head % divisor != 0 || tailNonZero
        }
        if negative {
            millis = -millis - (remainderNonZero ? 1 : 0)  // floor, like a truncated ISO fraction
        }
        return millis
    }

    /// "YYYY-MM-DD" at `p` (ten bytes readable) as days since 1970-01-01, range-checked.
    private static func parseDate(_ p: UnsafePointer<UInt8>) -> Int64? {
        guard let year = digits(p, 0, 4), p[4] == UInt8(ascii: "-"),
              let month = digits(p, 5, 2), p[7] == UInt8(ascii: "-"),
              let day = digits(p, 8, 2),
              (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        return UTCCalendar.days(year: year, month: month, day: day)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `count` ASCII digits at `p[at...]` as a number; nil if any is not a digit or they run
    /// past `limit`.
    @inline(__always)
    private static func digits(_ p: UnsafePointer<UInt8>, _ at: Int, _ count: Int, limit: Int = .max) -> Int64? {
        guard at + count <= limit else { return nil }
        var value: Int64 = 0
        for i in at..<at + count {
            let d = p[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            value = value * 10 + Int64(d)
        }
        return value
    }
}
