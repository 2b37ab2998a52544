import Foundation
import Stream

/// Alertmanager's webhook payload, version "4" (what receivers already parse), plus ingestd's
/// own fields per alert: `value`, `measure`, `revision`. Times are RFC 3339 in UTC; a firing
/// alert's `endsAt` is "0001-01-01T00:00:00Z", as Alertmanager sends it.
public struct WebhookPayload: Encodable, Sendable {
    public static let zeroTime = "0001-01-01T00:00:00Z"

    struct Alert: Encodable {
        let status: String
        let labels: [String: String]
        let annotations: [String: String]
        let startsAt: String
        let endsAt: String
        let generatorURL: String
        let fingerprint: String
        let value: Double
        let measure: Double
        let revision: Int
    }

    let version = "4"
    let groupKey: String
    let truncatedAlerts: Int
    let status: String
    let receiver: String
    let groupLabels: [String: String]
    let commonLabels: [String: String]
    let commonAnnotations: [String: String]
    let externalURL: String
    let alerts: [Alert]

    /// `receiver` is the message's (for a fallback delivery, the receiver it was meant for).
    public init(_ message: NotificationMessage) {
        let link = Self.alertsLink(externalURL: message.externalURL)
        groupKey = message.groupKey
        truncatedAlerts = message.truncatedAlerts
        status = message.status.rawValue
        receiver = message.receiver
        groupLabels = message.groupLabels
        commonLabels = message.commonLabels
        commonAnnotations = message.commonAnnotations
        externalURL = message.externalURL
        alerts = message.alerts.map { a in
            Alert(status: a.status.rawValue, labels: a.labels, annotations: a.annotations,
                  startsAt: UTCCalendar.iso8601WithMillis(millis: a.startsAt),
                  endsAt: a.status == .resolved ? a.endsAt.map(UTCCalendar.iso8601WithMillis(millis:)) ?? Self.zeroTime : Self.zeroTime,
                  generatorURL: link, fingerprint: a.fingerprint, value: a.value, measure: a.measure, revision: a.revision)
        }
    }

    /// The daemon's active-alerts page, or "" without an external URL.
    static func alertsLink(externalURL: String) -> String {
        guard !externalURL.isEmpty else { return "" }
        return (externalURL.hasSuffix("/") ? String(externalURL.dropLast()) : externalURL) + "/v1/alerts"
    }

    /// The request body. Non-finite numbers (kept out upstream) become strings, never a failure.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return Array(try encoder.encode(self))
    }
}
