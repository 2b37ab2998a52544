import Foundation
import Testing
@testable import Alerts
import Stream

@Suite struct RouteTests {
    let files = RuleFileLoader(store: StoreConfiguration())

    func load(_ text: String) throws(ConfigErrors) -> NotificationConfig {
        try files.parseAll(text, file: "notify.yaml").notifications
    }

    static let tree = """
        receivers:
          - name: default
            webhook: {url: "http://127.0.0.1:9/default"}
          - name: pager
            webhook: {url: "http://127.0.0.1:9/pager", max_age: 10m}
          - name: slack
            slack: {url: "https://hooks.slack.test/T/B/x"}
        route:
          receiver: default
          group_by: [alertname]
          group_wait: 10s
          fallback: slack
          routes:
            - matchers: ['severity="critical"']
              receiver: pager
              group_wait: 0s
              continue: true
            - matchers: ['account=~"1.*"']
              receiver: slack
              group_by: [account]
        """

    @Test func childrenInheritAndContinueLetsSiblingsTakeTheAlert() throws {
        let config = try load(Self.tree)
        let route = try #require(config.route)
        let critical1 = route.match(["severity": "critical", "account": "123"])
        #expect(critical1.map(\.receiver) == ["pager", "slack"])
        #expect(critical1[0].groupWaitMillis == 0 && critical1[1].groupWaitMillis == 10_000)
        #expect(critical1.allSatisfy { $0.fallback == "slack" }, "fallback inherited")
        #expect(critical1[1].grouping == .labels(["account"]))
        #expect(route.match(["severity": "warning", "account": "9"]).map(\.receiver) == ["default"], "no child: the root takes it")
        #expect(route.match(["severity": "critical", "account": "9"]).map(\.id) == ["0.0"])
        #expect(config.receivers["pager"]?.maxAgeMillis == 600_000)
        #expect(config.receivers["slack"]?.kind == .slack)
    }

    @Test func secretsComeFromFilesAndTheEnvironmentAndAreNeverPrinted() throws {
        let text = """
            receivers:
              - name: a
                slack: {url_env: INGESTD_TEST_UNSET_VARIABLE}
            route: {receiver: a}
            """
        do throws(ConfigErrors) {
            _ = try load(text)
            Issue.record("an unset variable must be an error")
        } catch {
            #expect(error.description.contains("INGESTD_TEST_UNSET_VARIABLE is not set"))
        }
        let bad = """
            receivers:
              - name: a
                webhook: {url: "ftp://user:hunter2@example.com/"}
            route: {receiver: a}
            """
        do throws(ConfigErrors) {
            _ = try load(bad)
            Issue.record("a non-http url must be an error")
        } catch {
            #expect(!error.description.contains("hunter2"), "the URL must not appear in errors")
        }
    }

    @Test func everyProblemIsReportedWithItsPosition() throws {
        let text = """
            receivers:
              - name: ops
                webhook: {url: "http://x/", timeout: 0s, bogus: 1}
            route:
              receiver: opz
              routes:
                - matchers: ['severity="critical']
                  receiver: ops
            inhibit_rules:
              - target_matchers: ['severity="warning"']
            """
        do throws(ConfigErrors) {
            _ = try load(text)
            Issue.record("invalid")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.contains { $0.hasPrefix("notify.yaml:3:") && $0.contains("timeout must be at least 1s") })
            #expect(lines.contains { $0.hasPrefix("notify.yaml:3:") && $0.contains("unknown key") && $0.contains("bogus") })
            #expect(lines.contains { $0.hasPrefix("notify.yaml:5:") && $0.contains("no receiver is named \"opz\" (did you mean \"ops\"?)") })
            #expect(lines.contains { $0.hasPrefix("notify.yaml:7:") && $0.contains("unterminated") })
            #expect(lines.contains { $0.hasPrefix("notify.yaml:10:") && $0.contains("source_matchers") })
            #expect(lines.count == 5, "\(lines)")
        }
    }

    @Test func oneFileDefinesTheRoute() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.yaml").path, b = dir.appendingPathComponent("b.yaml").path
        try Self.tree.write(toFile: a, atomically: true, encoding: .utf8)
        try "route: {receiver: default}\n".write(toFile: b, atomically: true, encoding: .utf8)
        do throws(ConfigErrors) {
            _ = try files.loadAll(files: [a, b])
            Issue.record("two routes")
        } catch {
            #expect(error.description.contains("b.yaml:1:") && error.description.contains("a second route"))
        }
        // Receivers in one file, the route in another: fine.
        try "receivers:\n  - name: other\n    webhook: {url: \"http://x/\"}\n".write(toFile: b, atomically: true, encoding: .utf8)
        let loaded = try files.loadAll(files: [a, b])
        #expect(loaded.notifications.receivers.count == 4)
        #expect(loaded.groups.isEmpty)
    }
}
