import Foundation
import Testing
@testable import Alerts
import Stream

/// Each rule kind and life-cycle edge on hand-built series in a real store, evaluated at chosen times.
@Suite struct AlertLifecycleTests {
    typealias B = AlertBench
    let m = AlertBench.minute
    let t0 = AlertBench.t0

    func rule(_ name: String = "High", threshold: Double = 100, for f: Int64 = 0, keep: Int64 = 0,
              resolve: Double? = nil, window: Int64 = 3600, by: [String] = [], match: String = "",
              noData: Int64? = nil, kind: Rule.Kind = .threshold, comparison: Rule.Comparison = .above) throws -> Rule {
        Rule(name: name, kind: kind, matchers: try SeriesSelector.parse(match), matchText: match, by: by, windowSeconds: window,
             comparison: comparison, threshold: threshold, resolveThreshold: resolve, forSeconds: f, keepFiringForSeconds: keep,
             noDataSeconds: noData)
    }

    @Test func thresholdGoesPendingFiresAfterForAndResolves() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 100, for: 300)
        b.add(at: t0, cost: 150)
        #expect(b.states(b.evaluate([r], at: t0 + 1 * m)) == ["pending"])
        #expect(b.states(b.evaluate([r], at: t0 + 5 * m)).isEmpty) // 4 minutes pending: for: 5m not reached
        let fired = b.evaluate([r], at: t0 + 6 * m)
        #expect(b.states(fired) == ["firing"])
        #expect(fired.first?.activeAt == t0 + 1 * m)
        #expect(fired.first?.firedAt == t0 + 6 * m)
        #expect(fired.first?.value == 150)
        // The event leaves the 1h window at t0 + 60m: the sum is 0 then.
        #expect(b.states(b.evaluate([r], at: t0 + 59 * m)).isEmpty)
        #expect(b.states(b.evaluate([r], at: t0 + 61 * m)) == ["resolved"])
        #expect(b.table.active.isEmpty)
    }

    @Test func pendingThatStopsMatchingEndsSilently() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 100, for: 600)
        b.add(at: t0, cost: 150)
        #expect(b.states(b.evaluate([r], at: t0 + m)) == ["pending"])
        b.add(at: t0 + 2 * m, cost: -100)
        #expect(b.states(b.evaluate([r], at: t0 + 3 * m)).isEmpty)
        #expect(b.table.active.isEmpty)
        // Matching again starts a new pending period.
        b.add(at: t0 + 4 * m, cost: 100)
        let again = b.evaluate([r], at: t0 + 5 * m)
        #expect(b.states(again) == ["pending"])
        #expect(again.first?.activeAt == t0 + 5 * m)
    }

    @Test func keepFiringForHoldsThroughAShortDipAndEndsAfterIt() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 100, keep: 600)
        b.add(at: t0, cost: 150)
        #expect(b.states(b.evaluate([r], at: t0 + m)) == ["pending", "firing"])
        b.add(at: t0 + 2 * m, cost: -100) // sum 50: below
        #expect(b.states(b.evaluate([r], at: t0 + 3 * m)).isEmpty)   // 2 minutes since it last held
        #expect(b.states(b.evaluate([r], at: t0 + 10 * m)).isEmpty)  // 9 minutes: still kept
        b.add(at: t0 + 10 * m, cost: 100) // back above within keep_firing_for
        #expect(b.states(b.evaluate([r], at: t0 + 11 * m)).isEmpty)
        b.add(at: t0 + 12 * m, cost: -100)
        #expect(b.states(b.evaluate([r], at: t0 + 20 * m)).isEmpty)  // 9 minutes after 11
        #expect(b.states(b.evaluate([r], at: t0 + 21 * m)) == ["resolved"]) // exactly 10 minutes: kept no longer
    }

    @Test func hysteresisStopsAFlappingSeries() throws {
        // A value hovering around 100: without a resolve threshold it fires and resolves each
        // round; with resolve_below: 80 it fires once and stays firing.
        func run(resolve: Double?) throws -> [String] {
            let b = try AlertBench()
            let r = try rule(threshold: 100, resolve: resolve)
            var states: [String] = []
            var total = 0.0
            for i in 0..<10 {
                let target = i % 2 == 0 ? 105.0 : 95.0
                b.add(at: t0 + Int64(i) * m, cost: target - total)
                total = target
                states += b.states(b.evaluate([r], at: t0 + Int64(i) * m + 30_000))
            }
            return states
        }
        #expect(try run(resolve: nil).filter { $0 == "firing" }.count == 5)
        #expect(try run(resolve: 80) == ["pending", "firing"])
    }

    @Test func belowWithResolveAbove() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 10, resolve: 20, comparison: .below)
        b.add(at: t0, cost: 5)
        #expect(b.states(b.evaluate([r], at: t0 + m)) == ["pending", "firing"])
        b.add(at: t0 + m, cost: 10) // 15: above 10 but not above 20
        #expect(b.states(b.evaluate([r], at: t0 + 2 * m)).isEmpty)
        b.add(at: t0 + 2 * m, cost: 10) // 25
        #expect(b.states(b.evaluate([r], at: t0 + 3 * m)) == ["resolved"])
    }

    @Test func noDataFiresWhenASeriesStopsInsteadOfResolvingSilently() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 1_000_000, noData: 1800)
        for i in 0..<10 { b.add(at: t0 + Int64(i) * m, cost: 1) }
        #expect(b.states(b.evaluate([r], at: t0 + 10 * m)).isEmpty)
        // The last event is in the 9th minute's bucket; 30 one-minute buckets ending with the
        // 38th still hold it, those ending with the 39th do not.
        #expect(b.states(b.evaluate([r], at: t0 + 38 * m)).isEmpty)
        let silent = b.evaluate([r], at: t0 + 39 * m)
        #expect(b.states(silent) == ["pending", "firing"])
        #expect(silent.first?.labels["no_data"] == "true")
        #expect(silent.first?.labels["alertname"] == "High")
        b.add(at: t0 + 41 * m, cost: 1)
        #expect(b.states(b.evaluate([r], at: t0 + 42 * m)) == ["resolved"])
    }

    @Test func matchersAndByMakeOneAlertPerGroupOfMatchingSeries() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 100, by: ["account"], match: #"{service=~"Amazon(EC2|RDS)"}"#)
        b.add(account: "111", service: "AmazonEC2", at: t0, cost: 60)
        b.add(account: "111", service: "AmazonRDS", at: t0, cost: 60)   // 111: 120 → fires
        b.add(account: "111", service: "AWSLambda", at: t0, cost: 1000) // not matched
        b.add(account: "222", service: "AmazonEC2", at: t0, cost: 90)   // 222: 90 → not
        b.add(account: "333", service: "AmazonEC2", currency: "EUR", at: t0, cost: 70, partition: "kafka/costs/1")
        b.add(account: "333", service: "AmazonEC2", currency: "USD", at: t0, cost: 70, partition: "kafka/costs/1")
        let fired = b.evaluate([r], at: t0 + m).filter { $0.state == .firing }
        #expect(fired.map { $0.labels["account"]! } == ["111"])
        #expect(fired.first?.value == 120)
        #expect(fired.first?.labels["currency"] == "USD")
        #expect(fired.first?.owner == "kafka/costs/0")
        // 70 EUR + 70 USD are never one 140: account 333 stays quiet.
        #expect(b.table.active.count == 1)
    }

    @Test func changeFiresOnlyWithAMaterialAbsoluteChange() throws {
        let b = try AlertBench()
        let week: Int64 = 7 * 86_400
        let r = try rule("Jump", threshold: 50, window: 3600, by: ["account"], kind: .change(offsetSeconds: 86_400, minChange: 20))
        _ = week
        // Yesterday's hour: 100 for 111, 1 for 222. Today: 200 (+100 %, +100) and 3 (+200 %, only +2).
        let now = t0 + 30 * AlertBench.hour
        b.add(account: "111", at: now - 86_400_000 - 10 * m, cost: 100)
        b.add(account: "222", at: now - 86_400_000 - 10 * m, cost: 1)
        b.add(account: "111", at: now - 10 * m, cost: 200)
        b.add(account: "222", at: now - 10 * m, cost: 3)
        let fired = b.evaluate([r], at: now).filter { $0.state == .firing }
        #expect(fired.map { $0.labels["account"]! } == ["111"])
        #expect(fired.first?.measure == 100)
        #expect(fired.first?.value == 200)
    }

    @Test func budgetActualAndForecastAcrossAMonthBoundary() throws {
        let b = try AlertBench()
        let r = try rule("Budget", threshold: 100, kind: .budget(amount: 3000, bases: [.actual, .forecast]))
        // November has 30 days; 2026-11-11T00:00Z is 10 days in. 1,200 spent by then forecasts 3,600.
        let nov11 = t0 + 9 * 86_400_000
        for day in 0..<10 { b.add(at: t0 - 86_400_000 + Int64(day) * 86_400_000 + AlertBench.hour, cost: 120) }
        let firing = b.evaluate([r], at: nov11).filter { $0.state == .firing }
        #expect(firing.map { $0.labels["basis"]! } == ["forecast"])
        #expect(abs(firing[0].value - 3600) < 1e-6)
        #expect(abs(firing[0].measure - 120) < 1e-6)
        // Spending on to 3,100 by Nov 30 makes the actual fire too.
        for day in 10..<29 { b.add(at: t0 - 86_400_000 + Int64(day) * 86_400_000 + AlertBench.hour, cost: 100) }
        let nov30 = t0 + 28 * 86_400_000 + 2 * AlertBench.hour
        #expect(b.evaluate([r], at: nov30).filter { $0.state == .firing }.map { $0.labels["basis"]! } == ["actual"])
        // December 1st: month-to-date starts again at 0; both resolve, and no forecast is made
        // from less than a day of the month.
        let dec1 = UTCCalendar.nextMonthStart(containing: nov30) + AlertBench.hour
        b.add(at: dec1 - 30 * m, cost: 500)
        let december = b.evaluate([r], at: dec1)
        #expect(Set(december.map { "\($0.state.rawValue) \($0.labels["basis"]!)" }) == ["resolved actual", "resolved forecast"])
    }

    @Test func aLateEventAmendsAFiringAlertInsteadOfRefiringIt() throws {
        let b = try AlertBench()
        let r = try rule(threshold: 100)
        b.add(at: t0, cost: 150)
        #expect(b.states(b.evaluate([r], at: t0 + 5 * m)) == ["pending", "firing"])
        // On-time traffic moves nothing that was already evaluated: no amendment.
        b.add(at: t0 + 6 * m, cost: 1)
        #expect(b.states(b.evaluate([r], at: t0 + 7 * m)).isEmpty)
        // A late event for minute 2 (closed when the alert was last evaluated) changes the window behind it.
        b.add(at: t0 + 2 * m, cost: 60)
        let late = b.evaluate([r], at: t0 + 8 * m)
        #expect(b.states(late) == ["amended"])
        #expect(late.first?.value == 211)
        #expect(b.table.active.first?.firedAt == t0 + 5 * m)
    }

    @Test func aRuleWhoseWindowNoRingHoldsIsUnhealthyAndSaysWhy() throws {
        let b = try AlertBench()
        let bad = try rule("TooLong", window: 90 * 86_400)
        b.add(at: t0, cost: 1)
        #expect(b.evaluate([bad], at: t0 + m).isEmpty)
        let health = b.evaluator.health("g/TooLong")
        #expect(health.status == .err)
        #expect(health.lastError?.contains("no resolution covers") == true)
    }

    @Test func groupsStayRightWhenAShardIsRebuiltWithItsSeriesInAnotherOrder() throws {
        // Rounds remember which group each series index belongs to; a rebuilt shard numbers
        // its series anew, and the old numbers must not put spend into the wrong account.
        let b = try AlertBench()
        let r = try rule(threshold: 100, by: ["account"])
        b.add(account: "111", at: t0, cost: 150)
        b.add(account: "222", at: t0, cost: 50)
        #expect(b.evaluate([r], at: t0 + m).filter { $0.state == .firing }.map { $0.labels["account"]! } == ["111"])
        b.engine.reset("kafka/costs/0")
        b.add(account: "222", at: t0, cost: 150)
        b.add(account: "111", at: t0, cost: 50)
        let fired = b.evaluate([r], at: t0 + 2 * m).filter { $0.state == .firing }
        #expect(fired.map { $0.labels["account"]! } == ["222"])
        #expect(fired.first?.value == 150)
        #expect(b.table.active.map { $0.labels["account"]! } == ["222"])
    }
}
