/// The JSON shape of the events on one input (PRODUCT §1.1), chosen per topic in the config.
public enum EventFormat: Sendable, Equatable {
    /// `{"accountId","service","region","resourceId","cost","currency","timestamp","metadata":{…}}`;
    /// tags are `metadata.<tagKey>`, a negative cost needs `chargeType` "credit" or "refund".
    case coststream
    /// FinOps FOCUS 1.x columns; tags are `Tags.<tagKey>`, a negative cost needs
    /// `ChargeCategory` "Credit".
    case focus
    /// AWS CUR columns; tags are the top-level `resourceTags/user:<tagKey>`, a negative cost needs
    /// `lineItem/LineItemType` "Credit" or "Refund".
    case cur
    case mapping(FieldMapping)
}

extension EventFormat {
    /// The object-key path of `field` in this format; nil when the format has no such field.
    func path(of field: EventField, tagKeys: [String]) -> [String]? {
        switch self {
        case .coststream:
            switch field {
            case .account: ["accountId"]
            case .service: ["service"]
            case .serviceFallback: nil
            case .region: ["region"]
            case .resourceId: ["resourceId"]
            case .cost: ["cost"]
            case .costFallback: nil
            case .currency: ["currency"]
            case .timestamp: ["timestamp"]
            case .chargeType: ["chargeType"]
            case .tag(let i): ["metadata", tagKeys[i]]
            }
        case .focus:
            switch field {
            case .account: ["SubAccountId"]
            case .service: ["ServiceName"]
            case .serviceFallback: nil
            case .region: ["RegionId"]
            case .resourceId: ["ResourceId"]
            case .cost: ["BilledCost"]
            case .costFallback: ["EffectiveCost"]
            case .currency: ["BillingCurrency"]
            case .timestamp: ["ChargePeriodStart"]
            case .chargeType: ["ChargeCategory"]
            case .tag(let i): ["Tags", tagKeys[i]]
            }
        case .cur:
            switch field {
            case .account: ["lineItem/UsageAccountId"]
            case .service: ["product/ProductName"]
            case .serviceFallback: ["lineItem/ProductCode"]
            case .region: ["product/region"]
            case .resourceId: ["lineItem/ResourceId"]
            case .cost: ["lineItem/UnblendedCost"]
            case .costFallback: nil
            case .currency: ["lineItem/CurrencyCode"]
            case .timestamp: ["lineItem/UsageStartDate"]
            case .chargeType: ["lineItem/LineItemType"]
            case .tag(let i): ["resourceTags/user:" + tagKeys[i]]
            }
        case .mapping(let m):
            switch field {
            case .account: Self.split(m.account)
            case .service: Self.split(m.service)
            case .serviceFallback: nil
            case .region: m.region.map(Self.split)
            case .resourceId: m.resourceId.map(Self.split)
            case .cost: Self.split(m.cost)
            case .costFallback: nil
            case .currency: m.currency.map(Self.split)
            case .timestamp: Self.split(m.timestamp)
            case .chargeType: m.chargeType.map(Self.split)
            case .tag(let i): m.tags.map { Self.split($0) + [tagKeys[i]] }
            }
        }
    }

    /// Values of the charge-type field that allow a negative cost (compared ignoring ASCII case).
    var creditMarkers: [String] {
        switch self {
        case .focus: ["credit"]
        case .coststream, .cur, .mapping: ["credit", "refund"]
        }
    }

    private static func split(_ path: String) -> [String] {
        path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }
}
