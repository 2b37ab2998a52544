/// What the Cost Explorer poller asks for and how often (config `cost_explorer:`, README
/// "Cost Explorer").
public struct CostExplorerConfiguration: Sendable, Equatable {
    public enum Granularity: String, Sendable, CaseIterable {
        case hourly = "HOURLY"
        case daily = "DAILY"

        public var stepMillis: Int64 { self == .hourly ? 3_600_000 : 86_400_000 }
    }

    /// One `GroupBy` entry and the store label its values become.
    public struct Grouping: Sendable, Equatable {
        /// `DIMENSION` or `TAG`.
        public var type: String
        /// `SERVICE`, `LINKED_ACCOUNT`, `REGION`, … or a tag key.
        public var key: String
        /// The store input label that carries the value.
        public var label: String

        public init(type: String, key: String, label: String) {
            self.type = type
            self.key = key
            self.label = label
        }
    }

    /// The labels the common dimensions become.
    public static let dimensionLabels = ["LINKED_ACCOUNT": "account", "SERVICE": "service", "REGION": "region"]
    public static let metrics = ["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"]
    /// What AWS charges per paginated request.
    public static let usdPerRequest = 0.01

    public var endpoint = "https://ce.us-east-1.amazonaws.com"
    /// Signing region: Cost Explorer's is us-east-1 whatever the account's regions.
    public var region = "us-east-1"
    /// The shared-file profile; nil: AWS_PROFILE, else "default".
    public var profile: String?
    public var granularity = Granularity.daily
    public var groupBy = [Grouping(type: "DIMENSION", key: "LINKED_ACCOUNT", label: "account"),
                          Grouping(type: "DIMENSION", key: "SERVICE", label: "service")]
    public var metric = "UnblendedCost"
    public var intervalSeconds: Int64 = 3600
    /// How far back the first poll reaches (later polls ask only what can still change).
    public var lookbackSeconds: Int64 = 14 * 86_400
    /// Periods that ended longer ago than this are final and never asked again.
    public var settleSeconds: Int64 = 3 * 86_400
    /// The daily request budget (UTC days), in requests: `budget_per_day` USD / 0.01.
    public var requestsPerDay = 100
    public var requestTimeoutSeconds: Int64 = 30
    /// Backoff after throttling, 5xx and network errors: doubling from the first to the last, with jitter.
    public var retryInitialMillis: Int64 = 1_000
    public var retryMaxMillis: Int64 = 60_000
    /// Attempts of one page before the poll gives up until its next interval.
    public var attemptsPerPage = 6
    /// Also fetch AWS's own anomalies (`GetAnomalies`) for `/v1/aws-anomalies`, this often
    /// (nil: not fetched). Requests come out of the same budget.
    public var awsAnomaliesIntervalSeconds: Int64?

    public init() {}
}
