/// Who is told about alerts, and how: the receivers, the routing tree and the inhibition rules
/// from the rule files (README: Notifications). Replaced as a whole on every successful reload,
/// together with the rules.
public struct NotificationConfig: Sendable, Equatable {
    public var receivers: [String: Receiver]
    /// nil: no file defines `route:`, and alerts are not notified.
    public var route: Route?
    public var inhibitRules: [InhibitRule]

    public init(receivers: [String: Receiver] = [:], route: Route? = nil, inhibitRules: [InhibitRule] = []) {
        self.receivers = receivers
        self.route = route
        self.inhibitRules = inhibitRules
    }

    public static let none = NotificationConfig()
}
