/// Where each event field lives in a JSON shape that is none of the built-in formats.
///
/// Every field is a dot-separated path of object keys ("billing.lineItem.cost"): each component
/// names a key of the object reached so far, starting at the top-level object. Array indices are
/// not supported. `tags` names an object whose keys are the tag keys (a tag key is matched
/// whole, so it may itself contain dots).
public struct FieldMapping: Sendable, Equatable {
    public var account: String
    public var service: String
    public var region: String?
    public var resourceId: String?
    public var cost: String
    public var currency: String?
    public var timestamp: String
    /// A string field whose value "credit" or "refund" (any case) allows a negative cost.
    public var chargeType: String?
    public var tags: String?

    public init(
        account: String,
        service: String,
        region: String? = nil,
        resourceId: String? = nil,
        cost: String,
        currency: String? = nil,
        timestamp: String,
        chargeType: String? = nil,
        tags: String? = nil
    ) {
        self.account = account
        self.service = service
        self.region = region
        self.resourceId = resourceId
        self.cost = cost
        self.currency = currency
        self.timestamp = timestamp
        self.chargeType = chargeType
        self.tags = tags
    }
}
