/// Everything the rule files define: the rule groups and who is told about their alerts.
public struct RuleFiles: Sendable {
    public var groups: [RuleGroup]
    public var notifications: NotificationConfig

    public init(groups: [RuleGroup] = [], notifications: NotificationConfig = .none) {
        self.groups = groups
        self.notifications = notifications
    }
}
