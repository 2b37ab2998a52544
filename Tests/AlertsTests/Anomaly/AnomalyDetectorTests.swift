import Foundation
import Testing
@testable import Alerts

/// Each detector behaviour on synthetic series with a known answer: a steady daily shape with a
/// little deterministic noise, 14 days of history, then the pattern under test.
@Suite struct AnomalyDetectorTests {
    static let day: Int64 = 86_400_000
    static let hour: Int64 = 3_600_000
    /// 2026-06-01T00:00:00Z, a Monday and the first of a month.
    static let t0: Int64 = 1_780_272_000_000
    static let settings = AnomalySettings(minImpactAmount: 20, minImpactPercent: 50)

    /// A series with an office-hours shape: 10/h at night, 20/h from 09 to 18, ±3 % noise.
    static func normal(_ t: Int64) -> Double {
        let hourOfDay = Int((t % day) / hour)
        let base = (9..<18).contains(hourOfDay) ? 20.0 : 10.0
        let noise = sin(Double(t / hour) * 1.7) * 0.03
        return base * (1 + noise)
    }

    struct Run {
        var decisions: [AnomalyDecision] = []
        var detector: AnomalyDetector
        var firstAlert: Int64? { decisions.first(where: \.isAnomalous)?.stepStart }
        func alerts(after t: Int64) -> [AnomalyDecision] { decisions.filter { $0.isAnomalous && $0.stepStart >= t } }
    }

    /// Feeds `steps` steps of `stepSeconds` from t0 with value `value(t)`.
    static func run(stepSeconds: Int64 = 3600, steps: Int, settings: AnomalySettings = settings,
                    _ value: (Int64) -> Double) -> Run {
        var run = Run(detector: AnomalyDetector(stepSeconds: stepSeconds, method: settings.method))
        for i in 0..<steps {
            let t = t0 + Int64(i) * stepSeconds * 1000
            run.decisions.append(run.detector.observe(value(t), stepStart: t, settings: settings))
        }
        return run
    }

    static let incident = t0 + 20 * day + 14 * hour

    @Test func steadySeriesNeverAlerts() {
        let r = Self.run(steps: 40 * 24, Self.normal)
        #expect(r.firstAlert == nil)
    }

    @Test func warmUpLastsThreeDaysAndSaysSo() {
        let r = Self.run(steps: 5 * 24, Self.normal)
        #expect(r.decisions.prefix(3 * 24).allSatisfy { $0.warmingUp })
        #expect(!r.decisions[3 * 24].warmingUp)
    }

    @Test func spikeAlertsTheHourItHappensWithItsWhy() throws {
        let r = Self.run(steps: 25 * 24) { t in
            (Self.incident..<Self.incident + 3 * Self.hour).contains(t) ? Self.normal(t) * 6 : Self.normal(t)
        }
        #expect(r.firstAlert == Self.incident)
        let d = try #require(r.decisions.first { $0.isAnomalous })
        #expect(d.reason == .spike)
        #expect(abs(d.expected - 20) < 1.5)
        #expect(d.observed > d.upper)
        #expect(abs(d.impact - (d.observed - d.expected)) < 1e-9)
        // It ends with the spike (the CUSUM may hold a few hours, not days).
        #expect(r.alerts(after: Self.incident + 12 * Self.hour).isEmpty)
    }

    @Test func levelShiftAlertsWithinHours() throws {
        let r = Self.run(steps: 28 * 24) { t in t >= Self.incident ? Self.normal(t) * 1.6 : Self.normal(t) }
        let first = try #require(r.firstAlert as Int64?)
        #expect(first >= Self.incident && first <= Self.incident + 6 * Self.hour)
    }

    @Test func shiftTooSmallForAnyHourIsCaughtByTheCUSUM() throws {
        // +15 %: every hour stays inside the band; together they are material (min 10 %).
        let settings = AnomalySettings(minImpactAmount: 20, minImpactPercent: 10)
        let r = Self.run(steps: 28 * 24, settings: settings) { t in t >= Self.incident ? Self.normal(t) * 1.15 : Self.normal(t) }
        let alerts = r.alerts(after: Self.incident)
        let first = try #require(alerts.first)
        #expect(first.stepStart <= Self.incident + 12 * Self.hour)
        #expect(first.reason == .shift)
        #expect(r.decisions.filter { $0.reason == .spike }.isEmpty)
    }

    @Test func slowRampIsCaughtBeforeItDoubles() throws {
        // +2 % of the level per hour: no single hour leaves the band at first.
        let r = Self.run(steps: 28 * 24) { t in
            t < Self.incident ? Self.normal(t) : Self.normal(t) * (1 + 0.02 * Double((t - Self.incident) / Self.hour))
        }
        let first = try #require(r.firstAlert as Int64?)
        #expect(first >= Self.incident && first < Self.incident + 50 * Self.hour)
    }

    @Test func dropDoesNotAlert() {
        let r = Self.run(steps: 28 * 24) { t in
            (Self.incident..<Self.incident + 30 * Self.hour).contains(t) ? Self.normal(t) * 0.1 : Self.normal(t)
        }
        #expect(r.firstAlert == nil)
    }

    @Test func nightlyBatchJobIsLearnedNotAlerted() {
        // 03:00-05:00 every night costs 10× — from the first day on.
        let r = Self.run(steps: 30 * 24) { t in
            let h = (t % Self.day) / Self.hour
            return (3..<5).contains(h) ? Self.normal(t) * 10 : Self.normal(t)
        }
        #expect(r.firstAlert == nil)
    }

    @Test func batchJobAtAnUnusualHourStillAlerts() {
        let r = Self.run(steps: 30 * 24) { t in
            let h = (t % Self.day) / Self.hour
            let nightly = (3..<5).contains(h) ? 10.0 : 1.0
            let stray = (Self.incident..<Self.incident + Self.hour).contains(t) ? 10.0 : 1.0
            return Self.normal(t) * nightly * stray
        }
        #expect(r.firstAlert == Self.incident)
    }

    @Test func firstOfMonthFeeRecursWithoutAlerting() {
        // 500 at 00:00 on the 1st (June 1 is the first step, July 1 day 30), both at 1h and 5m.
        for step: Int64 in [3600, 300] {
            let r = Self.run(stepSeconds: step, steps: Int(45 * 86_400 / step)) { t in
                let fee = (t == Self.t0 || t == Self.t0 + 30 * Self.day) ? 500.0 : 0
                return Self.normal(t) * Double(step) / 3600 + fee
            }
            #expect(r.firstAlert == nil, "step \(step)s: \(String(describing: r.decisions.first { $0.isAnomalous }))")
        }
    }

    @Test func smallWobbleBelowTheMinimumImpactDoesNotAlert() {
        // 3× for one hour of a 1/h series: far outside the band, but 2 USD of impact.
        let r = Self.run(steps: 25 * 24) { t in
            let x = Self.normal(t) / 10
            return (Self.incident..<Self.incident + Self.hour).contains(t) ? x * 3 : x
        }
        #expect(r.firstAlert == nil)
    }

    @Test func fiveMinuteStepsCatchASpikeBeforeTheHourEnds() throws {
        // Bursty: each hour's cost arrives as one charge at a varying minute.
        let r = Self.run(stepSeconds: 300, steps: 25 * 288) { t in
            let hourStart = t - t % Self.hour
            let chargeAt = hourStart + ((hourStart / Self.hour) % 12) * 300_000
            guard t == chargeAt else { return 0 }
            return (Self.incident..<Self.incident + 3 * Self.hour).contains(t - t % Self.hour) ? Self.normal(t) * 6 : Self.normal(t)
        }
        let first = try #require(r.firstAlert as Int64?)
        #expect(first >= Self.incident && first < Self.incident + Self.hour)
        #expect(r.decisions.filter { $0.isAnomalous }.allSatisfy { $0.stepStart >= Self.incident && $0.stepStart < Self.incident + 12 * Self.hour })
    }

    @Test func stateRestoredMidStreamDecidesExactlyAsAnUninterruptedRun() throws {
        func value(_ t: Int64) -> Double {
            (Self.incident..<Self.incident + 5 * Self.hour).contains(t) ? Self.normal(t) * 4 : Self.normal(t)
        }
        let whole = Self.run(steps: 25 * 24, value)
        for cut in [2 * 24 + 5, 20 * 24 + 15] {
            var d = AnomalyDetector(stepSeconds: 3600, method: .seasonal)
            var decisions: [AnomalyDecision] = []
            for i in 0..<(25 * 24) {
                if i == cut { d = try AnomalyDetector(decoding: d.encode()) }
                let t = Self.t0 + Int64(i) * Self.hour
                decisions.append(d.observe(value(t), stepStart: t, settings: Self.settings))
            }
            #expect(decisions == whole.decisions, "cut at step \(cut)")
        }
    }

    @Test func stateSizeStaysWithinItsBound() {
        // README: at most 1.9 KiB per detector, whatever its step and whatever it saw.
        for step: Int64 in [3600, 300, 60, 86_400] {
            let bound = 1900
            let r = Self.run(stepSeconds: step, steps: Int(40 * 86_400 / step)) { t in Self.normal(t) * Double(step) / 3600 }
            #expect(r.detector.encode().count <= bound, "step \(step)s: \(r.detector.encode().count) bytes")
        }
    }

    @Test func truncatedStateIsRefused() {
        let r = Self.run(steps: 4 * 24, Self.normal)
        let bytes = r.detector.encode()
        #expect(throws: (any Error).self) { try AnomalyDetector(decoding: Array(bytes.dropLast(3))) }
        #expect(throws: (any Error).self) { try AnomalyDetector(decoding: bytes + [0]) }
        #expect(throws: (any Error).self) { try AnomalyDetector(decoding: [9] + bytes.dropFirst()) }
    }

    @Test func rollingZScoreAlertsOnTheNightlyJobThatTheSeasonalOneLearns() {
        let z = AnomalySettings(method: .zscore, minImpactAmount: 0, minImpactPercent: 0)
        let r = Self.run(steps: 10 * 24, settings: z) { t in
            (3..<5).contains((t % Self.day) / Self.hour) ? Self.normal(t) * 10 : Self.normal(t)
        }
        #expect(r.decisions.filter { $0.isAnomalous }.count >= 5)
    }
}

/// Feedback changes the next decisions as README "Anomaly rules" says.
@Suite struct AnomalyFeedbackTests {
    typealias T = AnomalyDetectorTests

    /// 20 days of normal, then from `T.incident` the level is 3×; feedback after the first alert.
    func run(_ feedback: AnomalyDetector.Feedback?) -> [AnomalyDecision] {
        var d = AnomalyDetector(stepSeconds: 3600, method: .seasonal)
        var out: [AnomalyDecision] = []
        var told = false
        for i in 0..<(24 * 24) {
            let t = T.t0 + Int64(i) * T.hour
            let x = t >= T.incident ? T.normal(t) * 3 : T.normal(t)
            let decision = d.observe(x, stepStart: t, settings: T.settings)
            out.append(decision)
            if decision.isAnomalous, !told, let feedback {
                d.apply(feedback)
                told = true
                if feedback != .real { #expect(d.last?.isAnomalous == false, "feedback ends the current anomaly") }
            }
        }
        return out
    }

    @Test func withoutFeedbackANewLevelAlertsForHours() {
        let anomalous = run(nil).filter { $0.isAnomalous }
        #expect(anomalous.count >= 12)
    }

    @Test func plannedMakesTheNewLevelTheBaselineAtOnce() throws {
        let decisions = run(.planned)
        let first = try #require(decisions.firstIndex { $0.isAnomalous })
        // Every later hour is expected at the new level and none alerts.
        #expect(decisions[(first + 1)...].allSatisfy { !$0.isAnomalous })
        let next = decisions[first + 1]
        #expect(next.expected > 2 * T.normal(next.stepStart), "expected \(next.expected) for an observed \(next.observed)")
    }

    @Test func notRealWidensTheBandAtThatHourOnly() throws {
        var d = AnomalyDetector(stepSeconds: 3600, method: .seasonal)
        var spikes: [Int64] = []
        // The same 3× one-hour spike a day later at the same hour, and two days later at
        // another hour; not_real after the first.
        let sameHour = T.incident + 24 * T.hour
        let otherHour = T.incident + 50 * T.hour
        for i in 0..<(24 * 24) {
            let t = T.t0 + Int64(i) * T.hour
            let x = [T.incident, sameHour, otherHour].contains(t) ? T.normal(t) * 3 : T.normal(t)
            if d.observe(x, stepStart: t, settings: T.settings).isAnomalous {
                spikes.append(t)
                if t == T.incident { d.apply(.notReal) }
            }
        }
        #expect(spikes == [T.incident, otherHour])
        let hour = Int((T.incident % T.day) / T.hour)
        #expect(d.spikeTolerance[hour] > 3 && d.spikeTolerance.enumerated().allSatisfy { $0.offset == hour || $0.element == 0 })
        #expect(d.shiftMargin == 1)
        // Survives a save and restore.
        let restored = try AnomalyDetector(decoding: d.encode())
        #expect(restored.spikeTolerance == d.spikeTolerance)
    }

    @Test func realChangesNothing() {
        #expect(run(.real).map(\.isAnomalous) == run(nil).map(\.isAnomalous))
    }
}
