import Foundation
import Testing
@testable import Alerts
import Stream

/// Alert state saved with its partition's windows and restored by a new process (a new engine
/// over the same SQLite file): the same alerts with the same `activeAt`, history written once.
@Suite struct AlertStateRestoreTests {
    let m = AlertBench.minute
    let t0 = AlertBench.t0
    let partition = "kafka/costs/0"

    func rule() throws -> Rule {
        Rule(name: "High", matchers: [], by: ["account"], windowSeconds: 3600, threshold: 100, forSeconds: 300)
    }

    func restart(_ b: AlertBench) throws {
        try b.open()
        guard case .restored = b.engine.restore(partition) else {
            Issue.record("partition not restored")
            return
        }
    }

    @Test func aKilledProcessRestoresPendingAndFiringAlertsAndNeverRepeatsATransition() throws {
        let b = try AlertBench()
        let r = try rule()
        b.add(account: "111", at: t0, cost: 150)
        b.add(account: "222", at: t0 + 2 * m, cost: 300)
        #expect(b.states(b.evaluate([r], at: t0 + m)) == ["pending"])          // 111
        #expect(b.states(b.evaluate([r], at: t0 + 3 * m)) == ["pending"])      // 222
        #expect(b.states(b.evaluate([r], at: t0 + 6 * m)) == ["firing"])       // 111 fires
        try b.save()
        let firing111 = try #require(b.table.active.first { $0.labels["account"] == "111" })

        // 222 fires, but the process dies before that transition's snapshot.
        #expect(b.states(b.evaluate([r], at: t0 + 8 * m)) == ["firing"])
        try restart(b)
        let restored = b.table.active
        #expect(restored.count == 2)
        #expect(restored.first { $0.labels["account"] == "111" } == firing111)
        let pending222 = try #require(restored.first { $0.labels["account"] == "222" })
        #expect(pending222.state == .pending)
        #expect(pending222.activeAt == t0 + 3 * m)

        // The next evaluation over the restored windows makes 222's firing again — once.
        let again = b.evaluate([r], at: t0 + 9 * m)
        #expect(b.states(again) == ["firing"])
        #expect(again.first?.activeAt == t0 + 3 * m)
        try b.save()
        try restart(b)
        #expect(b.evaluate([r], at: t0 + 10 * m).isEmpty)
        try b.save()
        for account in ["111", "222"] {
            let fingerprint = try #require(b.table.active.first { $0.labels["account"] == account }?.fingerprint)
            #expect(try b.history.count(fingerprint: fingerprint, state: .firing) == 1, "account \(account)")
            #expect(try b.history.count(fingerprint: fingerprint, state: .pending) == 1, "account \(account)")
        }
        let entries = try b.history.entries(sinceMillis: 0, limit: 100)
        #expect(entries.map(\.transition.state) == [.pending, .pending, .firing, .firing])
    }

    @Test func aRevokedPartitionTakesItsAlertsAlong() throws {
        let b = try AlertBench()
        let r = try rule()
        b.add(account: "111", at: t0, cost: 150, partition: "kafka/costs/0")
        b.add(account: "222", at: t0, cost: 150, partition: "kafka/costs/1")
        b.evaluate([r], at: t0 + m)
        #expect(Set(b.table.active.map(\.owner)) == ["kafka/costs/0", "kafka/costs/1"])
        b.engine.release(["kafka/costs/1"])
        #expect(b.table.active.map { $0.labels["account"]! } == ["111"])
        // Nothing is applied to a partition this instance no longer holds.
        b.evaluate([r], at: t0 + 6 * m)
        #expect(b.engine.store.existingShard("kafka/costs/1") == nil)
    }

    @Test func aMeasureBeyondTheDoubleRangeSaturatesAndTheStateStillSaves() throws {
        // 1e10 against a budget of 1e-300 is 1e312 %: past Double. It must not become inf,
        // which JSON cannot hold — the save (state and history) would fail from then on.
        let b = try AlertBench()
        let r = Rule(name: "Tiny", kind: .budget(amount: 1e-300, bases: [.actual]), windowSeconds: 0, threshold: 100)
        b.add(at: t0, cost: 1e10)
        let fired = b.evaluate([r], at: t0 + m)
        #expect(b.states(fired) == ["pending", "firing"])
        #expect(fired.last?.measure == Double.greatestFiniteMagnitude)
        try b.save()
        try restart(b)
        #expect(b.table.active.first?.measure == Double.greatestFiniteMagnitude)
        #expect(try b.history.entries(sinceMillis: 0, limit: 10).map(\.transition.state) == [.pending, .firing])
    }

    @Test func alertsOfARuleRemovedWhileStoppedDoNotComeBack() throws {
        let b = try AlertBench()
        let kept = try rule()
        var removed = try rule()
        removed.name = "Gone"
        b.add(account: "111", at: t0, cost: 150)
        b.evaluate([kept, removed], at: t0 + m)
        #expect(Set(b.table.active.map(\.rule)) == ["g/High", "g/Gone"])
        try b.save()
        try b.open()
        b.evaluator.retain(rules: ["g/High"]) // the daemon does this before restoring partitions
        guard case .restored = b.engine.restore(partition) else {
            Issue.record("partition not restored")
            return
        }
        #expect(b.table.active.map(\.rule) == ["g/High"])
    }
}
