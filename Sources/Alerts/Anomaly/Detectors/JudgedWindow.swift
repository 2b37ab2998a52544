/// The hour (or the step, when a step is an hour or longer) a detector judges, aligned to the
/// clock. Steps shorter than an hour add up into it: a 5-minute step of a bursty cost feed is
/// mostly 0 and sometimes one whole hourly charge, and even a sliding hour would see two charges
/// or none depending on where each fell; the aligned hour holds exactly its own. Its partial sum
/// is still useful before the hour ends: costs only add, so an hour already above its band
/// cannot end below it — a spike is caught minutes after it starts, not at the hour.
struct JudgedWindow: Sendable {
    let length: Int
    let stepMillis: Int64
    private(set) var start: Int64 = .min
    private(set) var partial = 0.0
    /// Steps added to the current window so far.
    private(set) var filled = 0

    init(stepSeconds: Int64) {
        length = Int(max(1, 3600 / stepSeconds))
        stepMillis = stepSeconds * 1000
    }

    var windowMillis: Int64 { Int64(length) * stepMillis }
    /// The window's length in seconds: what its sums cover.
    var seconds: Int64 { windowMillis / 1000 }

    /// Adds the step starting at `stepStart`; returns whether it ends its window.
    mutating func add(stepStart: Int64, _ x: Double) -> Bool {
        let w = windowMillis
        let windowStart = stepStart - ((stepStart % w) + w) % w
        if windowStart != start { start = windowStart; partial = 0; filled = 0 }
        partial += x
        filled += 1
        return stepStart + stepMillis == windowStart + w
    }

    /// The share of the window its steps so far cover.
    var fraction: Double { Double(min(filled, length)) / Double(length) }

    func encode(into w: inout ByteWriter) { w.put(start); w.put(partial); w.put(Int64(filled)) }

    init(stepSeconds: Int64, from r: inout ByteReader) throws {
        self.init(stepSeconds: stepSeconds)
        start = try r.get()
        partial = try r.double()
        filled = Int(clamping: max(0, try r.get(Int64.self)))
    }
}
