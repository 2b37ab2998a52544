/// A field the parser reads from an event. `tag(i)` is the i-th configured tag key; the
/// fallbacks are read only when the primary field is absent, null or "" (FOCUS `EffectiveCost`,
/// CUR `lineItem/ProductCode`).
enum EventField: Hashable {
    case account, service, serviceFallback, region, resourceId
    case cost, costFallback, currency, timestamp, chargeType
    case tag(Int)

    static let fixedCount = 10

    /// Dense index: the fixed fields first, then the tags.
    var index: Int {
        switch self {
        case .account: 0
        case .service: 1
        case .serviceFallback: 2
        case .region: 3
        case .resourceId: 4
        case .cost: 5
        case .costFallback: 6
        case .currency: 7
        case .timestamp: 8
        case .chargeType: 9
        case .tag(let i): Self.fixedCount + i
        }
    }

    static func all(tagCount: Int) -> [EventField] {
        [.account, .service, .serviceFallback, .region, .resourceId,
         .cost, .costFallback, .currency, .timestamp, .chargeType]
            + (0..<tagCount).map { .tag($0) }
    }
}
