import Stream

/// The expected value of a step from the same time of day on the previous seven days — their
/// median, with the MAD as its spread — plus the same hour one week back (day of week) and on the
/// first day of the previous month (monthly fees).
///
/// Why a median of the same hour: a nightly batch job is what happens at 03:00 every day, so it
/// is expected at 03:00 and nowhere else; one unusual day (an earlier incident, a weekend) moves
/// a median of seven by at most one rank. Days are kept at hourly slots whatever the step (a
/// 5-minute step is compared with the mean 5-minute step of that hour), so memory is fixed:
/// 8 days × 24 slots + 2 × 24 month-start slots, as Float (≈ 1 KiB a series).
struct SeasonalBaseline: Sendable {
    /// Rows of days kept: seven full previous days while the eighth fills.
    static let rows = 8
    static let daysUsed = 7
    /// Fewer same-slot days than this: not enough to trust a median.
    static let minDays = 3

    let stepMillis: Int64
    let slotsPerDay: Int
    /// `rows × slotsPerDay` per-step means (NaN: not seen).
    private(set) var values: [Float]
    /// The day number (UTC days since 1970) each row holds; Int32.min: none.
    private(set) var rowDay: [Int32]
    /// The slot being filled: its running sum and count of steps.
    private var fillKey: Int64 = -1
    private var fillSum = 0.0
    private var fillCount = 0.0
    /// Per-step means of the first day of an earlier month, and that day's number.
    private(set) var monthStart: [Float]
    private(set) var monthStartDay: Int32 = .min
    /// The first of the current month while it is being recorded; it replaces `monthStart` once
    /// a later day begins (until then, the 1st's later steps still compare with last month's).
    private var monthFilling: [Float]
    private var monthFillingDay: Int32 = .min

    init(stepSeconds: Int64) {
        stepMillis = stepSeconds * 1000
        slotsPerDay = Int(min(24, max(1, 86_400 / stepSeconds)))
        values = Array(repeating: .nan, count: Self.rows * slotsPerDay)
        rowDay = Array(repeating: .min, count: Self.rows)
        monthStart = Array(repeating: .nan, count: slotsPerDay)
        monthFilling = Array(repeating: .nan, count: slotsPerDay)
    }

    struct Expectation {
        var median: Double
        /// Robust standard deviation: 1.4826 × MAD of the same-slot values.
        var spread: Double
        var days: Int
        /// The same slot seven days back (same weekday), if seen.
        var sameWeekday: Double?
        /// The same slot on the first day of the previous month, when this step is on a first.
        var monthStart: Double?
    }

    private func day(_ t: Int64) -> Int64 { Int64(floorDiv(t, 86_400_000)) }
    func slot(_ t: Int64) -> Int { Int(floorDiv(t - day(t) * 86_400_000, 86_400_000 / Int64(slotsPerDay))) }
    private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// What the step starting at `t` is expected to be, from the days before its own.
    func expectation(at t: Int64) -> Expectation {
        let d = day(t), s = slot(t)
        var same: [Double] = []
        same.reserveCapacity(Self.daysUsed)
        var weekAgo: Double?
        for row in 0..<Self.rows {
            let rd = Int64(rowDay[row])
            guard rowDay[row] != .min, rd < d, rd >= d - Int64(Self.daysUsed) else { continue }
            let v = values[row * slotsPerDay + s]
            guard !v.isNaN else { continue }
            same.append(Double(v))
            if rd == d - 7 { weekAgo = Double(v) }
        }
        var month: Double?
        if UTCCalendar.monthStart(containing: t) == d * 86_400_000, monthStartDay != .min, Int64(monthStartDay) < d,
           Int64(monthStartDay) >= d - 62, !monthStart[s].isNaN {
            month = Double(monthStart[s])
        }
        guard !same.isEmpty else { return Expectation(median: 0, spread: 0, days: 0, sameWeekday: weekAgo, monthStart: month) }
        let median = Self.median(&same)
        var deviations = same.map { abs($0 - median) }
        return Expectation(median: median, spread: 1.4826 * Self.median(&deviations), days: same.count,
                           sameWeekday: weekAgo, monthStart: month)
    }

    /// Records the step starting at `t`: `learned` into the daily profile (anomalies enter it
    /// damped, see `AnomalyDetector`), `observed` as the month-start value on a first.
    mutating func record(at t: Int64, learned: Double, observed: Double) {
        let d = day(t), s = slot(t)
        let row = Int(d % Int64(Self.rows) + Int64(Self.rows)) % Self.rows
        if Int64(rowDay[row]) != d {
            rowDay[row] = Int32(clamping: d)
            for i in 0..<slotsPerDay { values[row * slotsPerDay + i] = .nan }
        }
        let key = d * Int64(slotsPerDay) + Int64(s)
        if key != fillKey { fillKey = key; fillSum = 0; fillCount = 0 }
        fillSum += learned
        fillCount += 1
        values[row * slotsPerDay + s] = Float(fillSum / fillCount)
        if monthFillingDay != .min, Int64(monthFillingDay) < d {
            monthStart = monthFilling
            monthStartDay = monthFillingDay
            monthFillingDay = .min
        }
        if UTCCalendar.monthStart(containing: t) == d * 86_400_000 {
            if Int64(monthFillingDay) != d {
                monthFillingDay = Int32(clamping: d)
                for i in 0..<slotsPerDay { monthFilling[i] = .nan }
            }
            monthFilling[s] = Float(observedMean(observed, slotKey: key))
        }
    }

    private var monthFill: (key: Int64, sum: Double, count: Double) = (-1, 0, 0)
    private mutating func observedMean(_ x: Double, slotKey: Int64) -> Double {
        if monthFill.key != slotKey { monthFill = (slotKey, 0, 0) }
        monthFill.sum += x
        monthFill.count += 1
        return monthFill.sum / monthFill.count
    }

    /// Scales what it learned of the daily profile (a planned change of level).
    mutating func rescale(by ratio: Double) {
        for i in values.indices where !values[i].isNaN { values[i] = Float(Double(values[i]) * ratio) }
        fillSum *= ratio
    }

    static func median(_ xs: inout [Double]) -> Double {
        xs.sort()
        let n = xs.count
        return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2
    }

    // MARK: State

    func encode(into w: inout ByteWriter) {
        w.put(values)
        for d in rowDay { w.put(d) }
        w.put(fillKey); w.put(fillSum); w.put(fillCount)
        w.put(monthStart)
        w.put(monthStartDay)
        w.put(monthFilling)
        w.put(monthFillingDay)
        w.put(monthFill.key); w.put(monthFill.sum); w.put(monthFill.count)
    }

    init(stepSeconds: Int64, from r: inout ByteReader) throws {
        self.init(stepSeconds: stepSeconds)
        let v = try r.floats(max: Self.rows * 24)
        guard v.count == values.count else { throw ByteReader.Truncated() }
        values = v
        for i in 0..<Self.rows { rowDay[i] = try r.get() }
        fillKey = try r.get(); fillSum = try r.double(); fillCount = try r.double()
        let m = try r.floats(max: 24)
        guard m.count == monthStart.count else { throw ByteReader.Truncated() }
        monthStart = m
        monthStartDay = try r.get()
        let f = try r.floats(max: 24)
        guard f.count == monthFilling.count else { throw ByteReader.Truncated() }
        monthFilling = f
        monthFillingDay = try r.get()
        monthFill = (try r.get(), try r.double(), try r.double())
    }
}
