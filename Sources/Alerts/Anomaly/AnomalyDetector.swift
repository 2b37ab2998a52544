/// One series' (or group's) streaming anomaly detector: one point per step, one pass, no
/// look-ahead, fixed memory (≈ 1 KiB; `SeasonalBaseline`).
///
/// How the parts combine, and why:
/// - The **seasonal baseline** (median of the same hour on the last seven days) says what is
///   normal *now*: nightly batch jobs, office hours and weekends (the same hour a week back) and
///   first-of-month fees (the first of last month) are expected, so they never alert.
/// - Its **spread** is the larger of the seasonal MAD (how much that hour varies from day to
///   day) and an **EWMA of squared residuals** (how far the series strayed from its baseline
///   lately), with a floor of 5 % of the expected value: a flat series with no noise does not
///   alert on a cent.
/// - A **spike** is a step above the band (expected + k·spread). One bad hour is caught the
///   hour it ends.
/// - A **CUSUM** of the standardized residuals catches what no single step shows: a level shift
///   of +40 % or a ramp of a few percent a day adds up until it crosses its limit.
/// - Either way the **impact** — the excess since the anomaly began — must reach both the
///   rule's minimum amount and percentage before it counts: a $3 wobble never pages anyone.
/// - What the baseline learns from an anomalous step is damped (10 % of its excess), so an
///   incident does not teach the detector that incidents are normal, while a lasting new level
///   is learned over days (or at once, when an operator marks it planned).
public struct AnomalyDetector: Sendable {
    static let formatVersion: UInt8 = 1
    /// Share of an anomalous step's excess the baseline learns.
    static let anomalyLearningRate = 0.1
    /// The smallest spread, relative to the expected value and absolute.
    static let relativeFloor = 0.05
    static let absoluteFloor = 0.01
    /// Days of data before any alert.
    static let warmUpDays = 3

    public let stepSeconds: Int64
    public let method: AnomalySettings.Method
    private var seasonal: SeasonalBaseline
    private var residuals: ResidualEWMA
    private var cusum = LevelShiftCUSUM()
    private var window: JudgedWindow
    /// `not_real` feedback on a spike raises the band at that hour of the day (the pattern: a job
    /// nobody told us about) to 10 % above what was observed, as a multiple of the expected
    /// value (0: none); on a shift it raises the CUSUM limit ×1.5, at most ×10.
    public private(set) var spikeTolerance: [Float]
    public private(set) var shiftMargin = 1.0
    static let wideningStep = 1.5
    static let maxWidening = 10.0
    static let maxTolerance: Float = 1000
    /// The verdict of the last whole window (see `observeSeasonal`).
    private var windowVerdict: (reason: AnomalyDecision.Reason?, impact: Double) = (nil, 0)
    private var history = DecisionHistory()
    private var zscore: RollingZScore
    /// Excess and expected amount over the current run of steps above the band.
    private var runImpact = 0.0
    private var runExpected = 0.0
    private(set) var steps: Int64 = 0
    /// The last step judged and what was decided about it.
    public private(set) var last: AnomalyDecision?

    public init(stepSeconds: Int64, method: AnomalySettings.Method) {
        self.stepSeconds = stepSeconds
        self.method = method
        seasonal = SeasonalBaseline(stepSeconds: stepSeconds)
        spikeTolerance = Array(repeating: 0, count: seasonal.slotsPerDay)
        window = JudgedWindow(stepSeconds: stepSeconds)
        residuals = ResidualEWMA(stepSeconds: window.seconds)
        zscore = RollingZScore(stepSeconds: stepSeconds)
    }

    /// The start of the next step it expects (nil before the first).
    public var nextStepStart: Int64? { last.map { $0.stepStart + stepSeconds * 1000 } }

    private var warmUpSteps: Int64 { Int64(Self.warmUpDays) * 86_400 / stepSeconds }

    /// Judges the step starting at `start` (its sum `x`) and learns from it.
    @discardableResult
    public mutating func observe(_ x: Double, stepStart start: Int64, settings: AnomalySettings) -> AnomalyDecision {
        let x = x.isFinite ? x : 0
        let decision = method == .zscore ? observeZScore(x, start, settings) : observeSeasonal(x, start, settings)
        steps += 1
        last = decision
        return decision
    }

    private mutating func observeSeasonal(_ x: Double, _ start: Int64, _ settings: AnomalySettings) -> AnomalyDecision {
        let expectation = seasonal.expectation(at: start)
        guard expectation.days >= SeasonalBaseline.minDays else {
            seasonal.record(at: start, learned: x, observed: x)
            let e = expectation.days > 0 ? expectation.median : x
            return AnomalyDecision(stepStart: start, observed: x, expected: e, lower: e, upper: e, impact: 0, reason: nil, warmingUp: true)
        }
        let stepExpected = expectation.median
        let ends = window.add(stepStart: start, x)
        // Judged: the window's sum so far against what the whole window is expected to hold.
        let observed = window.partial
        let steps = Double(window.length)
        let e = stepExpected * steps
        let k = settings.sensitivity.bandSigmas
        let spread = max(expectation.spread * steps, residuals.standardDeviation, Self.relativeFloor * abs(e), Self.absoluteFloor)
        var upper = e + k * spread
        if let week = expectation.sameWeekday { upper = max(upper, week * steps * 1.1) }
        if let month = expectation.monthStart { upper = max(upper, month * steps * 1.2 + k * spread) }
        let tolerance = Double(spikeTolerance[seasonal.slot(start)])
        if tolerance > 0 { upper = max(upper, e * tolerance) }
        let lower = e - k * spread
        let residual = observed - e

        var reason: AnomalyDecision.Reason?
        var impact = 0.0
        if observed > upper, settings.isMaterial(impact: runImpact + residual, expected: runExpected + e) {
            reason = .spike
            impact = runImpact + residual
        }
        if ends {
            if observed > upper {
                runImpact += residual
                runExpected += e
            } else {
                runImpact = 0
                runExpected = 0
            }
            cusum.add(z: residual / spread, residual: residual, expected: e, cap: k)
            residuals.add(residual, clip: k * spread)
            if cusum.sum > settings.sensitivity.cusumLimit * shiftMargin && settings.isMaterial(impact: cusum.impact, expected: cusum.expected) {
                if reason == nil { reason = .shift }
                impact = max(impact, cusum.impact)
            }
            windowVerdict = (reason, impact)
            history.record(start: window.start, observed: observed, expected: e, upper: upper, anomalous: reason != nil)
        } else if reason == nil {
            // Before the window ends, the last whole window's verdict stands: an alert neither
            // resolves nor starts on a partial hour that is merely not above its band yet.
            (reason, impact) = windowVerdict
        }
        let learned = reason == nil ? x : stepExpected + Self.anomalyLearningRate * (x - stepExpected)
        seasonal.record(at: start, learned: learned, observed: x)
        return AnomalyDecision(stepStart: start, observed: observed, expected: e, lower: lower, upper: upper, impact: impact,
                               reason: reason, warmingUp: self.steps < warmUpSteps)
    }

    private mutating func observeZScore(_ x: Double, _ start: Int64, _ settings: AnomalySettings) -> AnomalyDecision {
        defer { zscore.add(x) }
        guard let (mean, sd) = zscore.stats else {
            return AnomalyDecision(stepStart: start, observed: x, expected: x, lower: x, upper: x, impact: 0, reason: nil, warmingUp: true)
        }
        let upper = mean + RollingZScore.threshold * sd
        if x > upper {
            runImpact += x - mean
            runExpected += mean
        } else {
            runImpact = 0
            runExpected = 0
        }
        let spike = x > upper && settings.isMaterial(impact: runImpact, expected: runExpected)
        return AnomalyDecision(stepStart: start, observed: x, expected: mean, lower: mean - RollingZScore.threshold * sd,
                               upper: upper, impact: spike ? runImpact : 0, reason: spike ? .spike : nil, warmingUp: false)
    }

    /// The last day of judged windows (oldest first) and the window in progress, if any.
    public var recentWindows: [(start: Int64, observed: Double, expected: Double, upper: Double, anomalous: Bool)] {
        history.points.map { ($0.start, $0.observed, $0.expected, $0.upper, $0.anomalous) }
    }

    // MARK: Feedback

    /// An operator's verdict on this detector's latest anomaly (README: Anomaly rules, feedback).
    public enum Feedback: String, Sendable, CaseIterable, Codable {
        /// Confirmed: recorded, nothing changes.
        case real
        /// A false alarm: this kind of excursion (a spike, or a shift) needs a wider margin here.
        case notReal = "not_real"
        /// An intended change: the current level is the baseline from now on.
        case planned
    }

    /// Applies feedback: `planned` rescales the learned profile to the level of the last judged
    /// window, `not_real` widens the band for the anomaly's kind; both end the current anomaly
    /// (the alert resolves at the next evaluation).
    public mutating func apply(_ feedback: Feedback) {
        guard feedback != .real else { return }
        let reason = last?.reason ?? windowVerdict.reason ?? .spike
        switch feedback {
        case .real:
            return
        case .planned:
            // The window so far, extrapolated to the whole window (a partial hour).
            if let d = last, d.expected > 0, d.observed > 0, d.observed.isFinite {
                let level = method == .seasonal ? d.observed / max(window.fraction, 1e-9) : d.observed
                let ratio = max(0.01, min(100, level / d.expected))
                seasonal.rescale(by: ratio)
                residuals.rescale(by: ratio * ratio)
            }
        case .notReal:
            if reason == .spike, let d = last, d.expected > 0, d.observed.isFinite {
                let slot = seasonal.slot(d.stepStart)
                spikeTolerance[slot] = min(Self.maxTolerance, max(spikeTolerance[slot], Float(1.1 * d.observed / d.expected)))
            } else {
                shiftMargin = min(Self.maxWidening, shiftMargin * Self.wideningStep)
            }
        }
        cusum.reset()
        runImpact = 0
        runExpected = 0
        windowVerdict = (nil, 0)
        if var d = last {
            d.reason = nil
            d.impact = 0
            last = d
        }
    }

    // MARK: State

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.put(Self.formatVersion)
        w.put(stepSeconds)
        w.put(UInt8(method == .seasonal ? 0 : 1))
        seasonal.encode(into: &w)
        residuals.encode(into: &w)
        window.encode(into: &w)
        w.put(UInt8(windowVerdict.reason == nil ? 0 : windowVerdict.reason == .spike ? 1 : 2)); w.put(windowVerdict.impact)
        cusum.encode(into: &w)
        zscore.encode(into: &w)
        w.put(runImpact); w.put(runExpected); w.put(steps)
        w.put(spikeTolerance); w.put(shiftMargin)
        history.encode(into: &w)
        w.put(last != nil)
        if let d = last {
            w.put(d.stepStart); w.put(d.observed); w.put(d.expected); w.put(d.lower); w.put(d.upper); w.put(d.impact)
            w.put(UInt8(d.reason == nil ? 0 : d.reason == .spike ? 1 : 2)); w.put(d.warmingUp)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        guard try r.get(UInt8.self) == Self.formatVersion else { throw ByteReader.Truncated() }
        let step: Int64 = try r.get()
        guard step >= 1, step <= 86_400 * 7 else { throw ByteReader.Truncated() }
        let method: AnomalySettings.Method = try r.get(UInt8.self) == 0 ? .seasonal : .zscore
        self.init(stepSeconds: step, method: method)
        seasonal = try SeasonalBaseline(stepSeconds: step, from: &r)
        residuals = try ResidualEWMA(stepSeconds: window.seconds, from: &r)
        window = try JudgedWindow(stepSeconds: step, from: &r)
        let verdict: UInt8 = try r.get()
        windowVerdict = (verdict == 1 ? .spike : verdict == 2 ? .shift : nil, try r.double())
        cusum = try LevelShiftCUSUM(from: &r)
        zscore = try RollingZScore(stepSeconds: step, from: &r)
        runImpact = try r.double(); runExpected = try r.double(); steps = try r.get()
        let margins = try r.floats(max: 24)
        shiftMargin = try r.double()
        guard margins.count == spikeTolerance.count, margins.allSatisfy({ $0 >= 0 && $0 <= Self.maxTolerance }),
              shiftMargin >= 1, shiftMargin <= Self.maxWidening else {
            throw ByteReader.Truncated()
        }
        spikeTolerance = margins
        history = try DecisionHistory(from: &r)
        if try r.bool() {
            let start: Int64 = try r.get()
            let observed = try r.double(), expected = try r.double(), lower = try r.double(), upper = try r.double(), impact = try r.double()
            let reasonCode: UInt8 = try r.get()
            let warming = try r.bool()
            last = AnomalyDecision(stepStart: start, observed: observed, expected: expected, lower: lower, upper: upper,
                                   impact: impact, reason: reasonCode == 1 ? .spike : (reasonCode == 2 ? .shift : nil), warmingUp: warming)
        }
        guard r.isAtEnd else { throw ByteReader.Truncated() }
    }
}
