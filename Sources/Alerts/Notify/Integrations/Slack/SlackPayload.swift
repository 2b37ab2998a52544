import Foundation

/// A Slack incoming-webhook message in Block Kit: a header with the status and alert name, one
/// section per alert (at most 10, then "and N more") with its summary, value (against the
/// threshold or expectation when the rule's annotations name one) and labels, and a button
/// back to the daemon's active alerts. `text` is the fallback notifications and old clients show.
public struct SlackPayload: Encodable, Sendable {
    public static let maxAlertSections = 10

    /// A Block Kit block (only the kinds used here).
    struct Block: Encodable {
        struct Text: Encodable {
            let type: String
            let text: String
        }
        /// A context block's text element, or an actions block's link button.
        enum Element: Encodable {
            case mrkdwn(String)
            case button(text: String, url: String)

            func encode(to encoder: any Encoder) throws {
                switch self {
                case .mrkdwn(let text):
                    try Text(type: "mrkdwn", text: text).encode(to: encoder)
                case .button(let text, let url):
                    try Button(type: "button", text: Text(type: "plain_text", text: text), url: url).encode(to: encoder)
                }
            }
        }
        struct Button: Encodable {
            let type: String
            let text: Text
            let url: String
        }
        let type: String
        let text: Text?
        let elements: [Element]?
    }

    let text: String
    let blocks: [Block]

    public init(_ message: NotificationMessage) {
        let name = message.commonLabels["alertname"] ?? message.groupLabels["alertname"]
            ?? message.alerts.first?.labels["alertname"] ?? "alert"
        let total = message.alerts.count + max(0, message.truncatedAlerts)
        let status = message.status == .firing ? "FIRING" : "RESOLVED"
        let headline = "\(message.status == .firing ? "🔥" : "✅") [\(status):\(total)] \(name)"
        var blocks = [Block(type: "header", text: .init(type: "plain_text", text: Self.limit(headline, 150)), elements: nil)]
        for alert in message.alerts.prefix(Self.maxAlertSections) {
            blocks.append(Block(type: "section", text: .init(type: "mrkdwn", text: Self.limit(Self.section(alert), 3000)), elements: nil))
        }
        let more = total - min(message.alerts.count, Self.maxAlertSections)
        if more > 0 {
            blocks.append(Block(type: "context", text: nil, elements: [.mrkdwn("and \(more) more")]))
        }
        let link = WebhookPayload.alertsLink(externalURL: message.externalURL)
        if !link.isEmpty {
            blocks.append(Block(type: "actions", text: nil, elements: [
                .button(text: "Open in ingestd", url: link),
            ]))
        }
        let summary = message.commonAnnotations["summary"] ?? message.alerts.first?.annotations["summary"]
        self.text = Self.limit(headline + (summary.map { ": " + $0 } ?? ""), 3000)
        self.blocks = blocks
    }

    /// "*summary*", the value line, then the labels as `k=v` code spans.
    static func section(_ alert: NotificationMessage.Alert) -> String {
        var lines: [String] = []
        let title = alert.annotations["summary"] ?? alert.labels["alertname"] ?? "alert"
        lines.append("*\(escape(title))*" + (alert.status == .resolved ? " (resolved)" : ""))
        var value = "Value *\(number(alert.value))*"
        if let threshold = alert.annotations["threshold"] {
            value += " vs threshold \(escape(threshold))"
        } else if let expected = alert.annotations["expected"] {
            value += " vs expected \(escape(expected))"
        }
        if alert.measure != alert.value { value += " (window amount \(number(alert.measure)))" }
        if alert.revision > 0 { value += ", amended \(alert.revision)×" }
        lines.append(value)
        let labels = alert.labels.sorted { $0.key < $1.key }.filter { $0.key != "alertname" }
            .map { "`\(escape($0.key))=\(escape($0.value))`" }
        if !labels.isEmpty { lines.append(labels.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "`", with: "'")
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.2f", value)
    }

    /// Block Kit rejects texts over its limits (150 for a header, 3,000 for a section).
    static func limit(_ text: String, _ count: Int) -> String {
        text.count <= count ? text : String(text.prefix(count - 1)) + "…"
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(self))
    }
}
