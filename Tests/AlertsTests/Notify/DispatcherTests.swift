import Foundation
import Testing
@testable import Alerts
import Stream

/// Routing, grouping, dedup, silences and inhibition, against a real notifications.db.
@Suite struct DispatcherTests {
    let t0 = DispatchBench.t0
    let s: Int64 = 1000

    func config(groupBy: [String] = ["alertname"], wait: Int64 = 30_000, interval: Int64 = 300_000,
                repeatEvery: Int64 = 4 * 3_600_000, sendResolved: Bool = true, inhibit: [InhibitRule] = []) -> NotificationConfig {
        NotificationConfig(receivers: ["ops": DispatchBench.receiver("ops", sendResolved: sendResolved)],
                           route: Route(receiver: "ops", grouping: .labels(groupBy), groupWaitMillis: wait,
                                        groupIntervalMillis: interval, repeatIntervalMillis: repeatEvery),
                           inhibitRules: inhibit)
    }

    @Test func fiftyAlertsOfOneGroupGiveOneNotificationAfterGroupWaitThenOnePerInterval() throws {
        let b = try DispatchBench(config())
        let alerts = (0..<50).map { DispatchBench.alert("High", account: "a\($0)") }
        b.dispatcher.observe(active: alerts, transitions: alerts.map { DispatchBench.transition($0, .firing, at: t0) }, now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 29 * s)) == 0, "nothing before group_wait")
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 30 * s)) == 1, "one notification for the 50")
        let entry = try #require(try b.logEntry("ops", groupKey: "0:{alertname=\"High\"}"))
        #expect(entry.firing.count == 50)

        // A 51st alert joins the group: it waits for the group's interval, not a new group_wait.
        let late = DispatchBench.alert("High", account: "late", firedAt: t0 + 40 * s)
        b.dispatcher.observe(active: alerts + [late], transitions: [DispatchBench.transition(late, .firing, at: t0 + 40 * s)], now: t0 + 40 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 80 * s)) == 0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 329 * s)) == 0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 330 * s)) == 1, "the update, one group_interval after the first")
        #expect(try b.logEntry("ops", groupKey: "0:{alertname=\"High\"}")?.firing.count == 51)
        // Nothing new: the next intervals are quiet until repeat_interval.
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 630 * s)) == 0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 330 * s + 4 * 3_600 * s)) == 1, "repeat_interval")
    }

    @Test func groupWaitZeroQueuesInTheSameRound() throws {
        let b = try DispatchBench(config(wait: 0))
        let a = DispatchBench.alert("High", account: "1")
        b.dispatcher.observe(active: [a], transitions: [DispatchBench.transition(a, .firing, at: t0)], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 1)
    }

    @Test func groupByAccountSplitsGroups() throws {
        let b = try DispatchBench(config(groupBy: ["account"], wait: 0))
        let alerts = ["1", "2", "3"].map { DispatchBench.alert("High", account: $0) }
        b.dispatcher.observe(active: alerts, transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 3)
    }

    @Test func resolvedIsSentOnlyWithSendResolvedAndOnlyForWhatWasNotified() throws {
        for sendResolved in [true, false] {
            let b = try DispatchBench(config(wait: 0, sendResolved: sendResolved))
            let a = DispatchBench.alert("High", account: "1")
            b.dispatcher.observe(active: [a], transitions: [], now: t0)
            #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 1)
            b.dispatcher.observe(active: [], transitions: [DispatchBench.transition(a, .resolved, at: t0 + 60 * s)], now: t0 + 60 * s)
            #expect(b.queued(b.dispatcher.flushDue(now: t0 + 300 * s)) == (sendResolved ? 1 : 0))
            // Either way the log forgets it: when it fires again, the receiver hears of it.
            #expect(try b.logEntry("ops", groupKey: "0:{alertname=\"High\"}")?.firing.isEmpty == true)
            b.dispatcher.observe(active: [a], transitions: [], now: t0 + 400 * s)
            #expect(b.queued(b.dispatcher.flushDue(now: t0 + 400 * s)) == 1, "fired again: a new group, notified after group_wait 0")
        }
        // An alert that fired and resolved between two flushes was never news: nothing is sent.
        let b = try DispatchBench(config(wait: 30_000))
        let a = DispatchBench.alert("Blip", account: "1")
        b.dispatcher.observe(active: [a], transitions: [], now: t0)
        b.dispatcher.observe(active: [], transitions: [DispatchBench.transition(a, .resolved, at: t0 + 10 * s)], now: t0 + 10 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 30 * s)) == 0)
    }

    @Test func amendedAlertIsNotifiedAgainAtTheNextInterval() throws {
        let b = try DispatchBench(config(wait: 0))
        var a = DispatchBench.alert("High", account: "1")
        b.dispatcher.observe(active: [a], transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 1)
        a.value = 300
        b.dispatcher.observe(active: [a], transitions: [DispatchBench.transition(a, .amended, at: t0 + 60 * s)], now: t0 + 60 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 299 * s)) == 0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 300 * s)) == 1)
        // A value that moves without an amendment is not news.
        a.value = 310
        b.dispatcher.observe(active: [a], transitions: [], now: t0 + 400 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 600 * s)) == 0)
    }

    @Test func silenceMutesAndItsExpiryRestores() throws {
        let b = try DispatchBench(config(groupBy: ["account"], wait: 0, interval: 60_000))
        let silence = try b.silences.create(.init(matchers: "{account=\"1\"}", startsAt: nil, endsAt: t0 + 600 * s,
                                                  createdBy: "test", comment: "maintenance"), now: t0)
        let muted = DispatchBench.alert("High", account: "1")
        let other = DispatchBench.alert("High", account: "2")
        b.dispatcher.observe(active: [muted, other], transitions: [], now: t0)
        let first = b.dispatcher.flushDue(now: t0)
        #expect(b.queued(first) == 1, "only account 2")
        #expect(first.silenced == 1)
        _ = try b.silences.expire(id: silence.id, now: t0 + 30 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 30 * s)) == 0, "account 1's group waits for its interval")
        let after = b.dispatcher.flushDue(now: t0 + 60 * s)
        #expect(b.queued(after) == 1 && after.silenced == 0, "notified once the silence ended")
    }

    @Test func criticalInhibitsWarningsOfTheSameAccountOnly() throws {
        let rule = InhibitRule(source: try AlertMatchers(parsing: ["severity=\"critical\""]),
                               target: try AlertMatchers(parsing: ["severity=\"warning\""]), equal: ["account"])
        let b = try DispatchBench(config(groupBy: ["account", "severity"], wait: 0, inhibit: [rule]))
        let critical = DispatchBench.alert("Runaway", account: "1", severity: "critical")
        let warning = DispatchBench.alert("High", account: "1", severity: "warning")
        let otherWarning = DispatchBench.alert("High", account: "2", severity: "warning")
        b.dispatcher.observe(active: [critical, warning, otherWarning], transitions: [], now: t0)
        let flush = b.dispatcher.flushDue(now: t0)
        #expect(b.queued(flush) == 2, "the critical and account 2's warning")
        #expect(flush.inhibited == 1)
        #expect(try b.logEntry("ops", groupKey: "0:{account=\"1\",severity=\"warning\"}") == nil)
        // The critical resolves: the warning is notified at its group's next interval.
        b.dispatcher.observe(active: [warning, otherWarning], transitions: [DispatchBench.transition(critical, .resolved, at: t0 + 60 * s)], now: t0 + 60 * s)
        let later = b.dispatcher.flushDue(now: t0 + 300 * s)
        #expect(later.inhibited == 0)
        #expect(try b.logEntry("ops", groupKey: "0:{account=\"1\",severity=\"warning\"}")?.firing.count == 1)
    }

    @Test func aRestartRebuildsGroupsAndRepeatsNothing() throws {
        let b = try DispatchBench(config(wait: 10_000))
        let a = DispatchBench.alert("High", account: "1")
        b.dispatcher.observe(active: [a], transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 10 * s)) == 1)
        try b.restart()
        let c = DispatchBench.alert("High", account: "2")
        b.dispatcher.observe(active: [a], transitions: [], now: t0 + 20 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 30 * s)) == 0, "already told before the restart")
        b.dispatcher.observe(active: [a, c], transitions: [], now: t0 + 40 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 330 * s)) == 1, "the new one is news")
    }

    @Test func anAlertThatMovesAwayIsDroppedWithoutAResolvedNotification() throws {
        let b = try DispatchBench(config(wait: 0))
        let a = DispatchBench.alert("High", account: "1")
        b.dispatcher.observe(active: [a], transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 1)
        b.dispatcher.observe(active: [], transitions: [], now: t0 + 60 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 600 * s)) == 0)
        #expect(b.dispatcher.nextDeadline == nil, "no group is left")
    }

    @Test func pendingAlertsAreNotNotified() throws {
        let b = try DispatchBench(config(wait: 0))
        b.dispatcher.observe(active: [DispatchBench.alert("High", account: "1", state: .pending)], transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 0)
        #expect(b.dispatcher.nextDeadline == nil)
    }
}

extension DispatcherTests {
    /// The daemon stopped after an alert resolved but before its group flushed: after the restart
    /// the alert is no longer active, and history tells the dispatcher to notify the resolution.
    @Test func aResolutionLostInARestartIsRecoveredFromHistory() throws {
        let b = try DispatchBench(config(wait: 0))
        let a = DispatchBench.alert("High", account: "1")
        b.dispatcher.observe(active: [a], transitions: [], now: t0)
        #expect(b.queued(b.dispatcher.flushDue(now: t0)) == 1)
        b.dispatcher.observe(active: [], transitions: [DispatchBench.transition(a, .resolved, at: t0 + 60 * s)], now: t0 + 60 * s)
        try b.restart() // before the group's interval: the resolution was not queued
        #expect(b.dispatcher.recoveryHorizon == t0)
        let history = [DispatchBench.transition(a, .firing, at: t0), DispatchBench.transition(a, .resolved, at: t0 + 60 * s)]
        b.dispatcher.recover(history: history, now: t0 + 70 * s)
        b.dispatcher.observe(active: [], transitions: [], now: t0 + 70 * s)
        #expect(b.queued(b.dispatcher.flushDue(now: t0 + 70 * s)) == 1, "the resolved notification")
        #expect(try b.logEntry("ops", groupKey: "0:{alertname=\"High\"}")?.firing.isEmpty == true)
        // Firing again by the time of the restart: nothing to recover.
        let c = try DispatchBench(config(wait: 0))
        c.dispatcher.observe(active: [a], transitions: [], now: t0)
        _ = c.dispatcher.flushDue(now: t0)
        try c.restart()
        c.dispatcher.recover(history: history + [DispatchBench.transition(a, .firing, at: t0 + 90 * s)], now: t0 + 100 * s)
        c.dispatcher.observe(active: [a], transitions: [], now: t0 + 100 * s)
        #expect(c.queued(c.dispatcher.flushDue(now: t0 + 100 * s)) == 0)
    }
}

extension DispatcherTests {
    @Test func aPendingAlertThatEndsLeavesNoGroupBehind() throws {
        let b = try DispatchBench(config(wait: 30_000))
        let a = DispatchBench.alert("High", account: "1", state: .pending)
        b.dispatcher.observe(active: [], transitions: [DispatchBench.transition(a, .resolved, at: t0)], now: t0)
        #expect(b.dispatcher.nextDeadline == nil)
    }
}
