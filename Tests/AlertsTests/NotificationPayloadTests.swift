import Foundation
import Stream
import Testing
@testable import Alerts

/// The bodies receivers get: Alertmanager's v4 webhook payload and Slack Block Kit.
@Suite struct NotificationPayloadTests {
    func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func webhookTimesCarryMilliseconds() throws {
        var message = DeliveryBench.message(receiver: "ops", alert: "x", alerts: 1, truncated: 0)
        message.alerts[0].startsAt = 1_767_225_600_250
        let alerts = try #require(try json(try WebhookPayload(message).encoded())["alerts"] as? [[String: Any]])
        #expect(alerts[0]["startsAt"] as? String == "2026-01-01T00:00:00.250Z")
        #expect(UTCCalendar.iso8601WithMillis(millis: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func webhookHasAlertmanagerV4FieldsAndEndsAtRules() throws {
        var message = DeliveryBench.message(receiver: "ops", alert: "x", alerts: 2, truncated: 3)
        message.alerts[1].status = .resolved
        message.alerts[1].endsAt = 1_767_229_200_000
        let body = try json(try WebhookPayload(message).encoded())
        #expect(Set(body.keys) == ["version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
                                   "commonAnnotations", "externalURL", "alerts"])
        #expect(body["version"] as? String == "4")
        #expect(body["truncatedAlerts"] as? Int == 3)
        #expect(body["status"] as? String == "firing")
        #expect(body["receiver"] as? String == "ops")
        #expect(body["externalURL"] as? String == "http://ingestd.example:9090")
        let alerts = try #require(body["alerts"] as? [[String: Any]])
        #expect(alerts.count == 2)
        #expect(Set(alerts[0].keys) == ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint",
                                        "value", "measure", "revision"])
        #expect(alerts[0]["startsAt"] as? String == "2026-01-01T00:00:00.000Z")
        #expect(alerts[0]["endsAt"] as? String == "0001-01-01T00:00:00Z")  // firing, as Alertmanager sends it
        #expect(alerts[1]["status"] as? String == "resolved")
        #expect(alerts[1]["endsAt"] as? String == "2026-01-01T01:00:00.000Z")
        #expect(alerts[0]["generatorURL"] as? String == "http://ingestd.example:9090/v1/alerts")
        #expect(alerts[0]["value"] as? Double == 150.5)
        #expect(alerts[0]["measure"] as? Double == 1234.25)
        #expect(alerts[0]["revision"] as? Int == 0)
        #expect((alerts[0]["labels"] as? [String: String])?["account"] == "12345678900")
    }

    @Test func aFiringAlertWithAnEndStillSendsTheZeroTime() throws {
        var message = DeliveryBench.message(receiver: "ops", alert: "x")
        message.alerts[0].endsAt = 1_767_229_200_000
        let alerts = try #require(try json(try WebhookPayload(message).encoded())["alerts"] as? [[String: Any]])
        #expect(alerts[0]["endsAt"] as? String == WebhookPayload.zeroTime)
    }

    @Test func slackIsBlockKitWithAtMostTenAlertsAndALinkBack() throws {
        let message = DeliveryBench.message(receiver: "slack", alert: "acct", alerts: 12, truncated: 3)
        let body = try json(try SlackPayload(message).encoded())
        let text = try #require(body["text"] as? String)
        #expect(text.contains("[FIRING:15] HighSpend"))
        #expect(text.contains("EC2 spend for acct is high"))
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["header"] + Array(repeating: "section", count: 10) + ["context", "actions"])
        let header = try #require(blocks[0]["text"] as? [String: Any])
        #expect(header["type"] as? String == "plain_text")
        #expect((header["text"] as? String)?.contains("FIRING") == true)
        let section = try #require((blocks[1]["text"] as? [String: Any])?["text"] as? String)
        #expect(section.contains("*EC2 spend for acct is high*"))
        #expect(section.contains("Value *150.50* vs threshold 100"))
        #expect(section.contains("`account=12345678900`"))
        let more = try #require((blocks[11]["elements"] as? [[String: Any]])?.first)
        #expect(more["type"] as? String == "mrkdwn")
        #expect(more["text"] as? String == "and 5 more")
        let button = try #require((blocks[12]["elements"] as? [[String: Any]])?.first)
        #expect(button["type"] as? String == "button")
        #expect(button["url"] as? String == "http://ingestd.example:9090/v1/alerts")
        #expect((button["text"] as? [String: Any])?["text"] as? String == "Open in ingestd")
    }

    @Test func slackEscapesMarkupAndOmitsTheButtonWithoutAnExternalURL() throws {
        var message = DeliveryBench.message(receiver: "slack", alert: "<@here> & co", status: .resolved)
        message.externalURL = ""
        let body = try json(try SlackPayload(message).encoded())
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["header", "section"])
        let section = try #require((blocks[1]["text"] as? [String: Any])?["text"] as? String)
        #expect(section.contains("&lt;@here&gt; &amp; co"))
        #expect(!section.contains("<@here>"))
        #expect((body["text"] as? String)?.contains("RESOLVED") == true)
    }

    @Test func backoffDoublesToTheCapWithJitterAndNeverOverflows() {
        for failures in 1...8 {
            let d = min(Int64(1_000) << (failures - 1), 30_000)
            #expect(Backoff.delayMillis(failures: failures, initial: 1_000, maximum: 30_000, random: { $0.lowerBound }) == d / 2)
            #expect(Backoff.delayMillis(failures: failures, initial: 1_000, maximum: 30_000, random: { $0.upperBound }) == d)
        }
        #expect(Backoff.delayMillis(failures: .max, initial: 1, maximum: .max, random: { $0.upperBound }) == .max)
        let drawn = Backoff.delayMillis(failures: 3, initial: 100, maximum: 1_000)
        #expect((200...400).contains(drawn))
    }

    @Test func insertIsIdempotentPerKeyAndRefusesBadKeys() throws {
        let bench = try DeliveryBench()
        let first = try bench.queue("ops", key: "same")
        let again = try bench.queue("ops", key: "same")
        #expect(first == again)
        #expect(try bench.outbox.receipts(receiver: "ops", state: nil, limit: 10).count == 1)
        #expect(throws: OutboxError.invalidIdempotencyKey("a\r\nX-Evil: 1")) { try bench.queue("ops", key: "a\r\nX-Evil: 1") }
        #expect(throws: OutboxError.emptyReceiver) { try bench.queue("", key: "k") }
    }
}
