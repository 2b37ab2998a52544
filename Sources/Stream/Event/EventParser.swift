/// Parses cost events, one at a time, on the ingest hot path.
///
/// One parser per writer thread, reused for every event: all memory (decode scratch, number
/// buffer, value table) is allocated at init, so `parse` allocates nothing unless it rejects.
/// The label and resource-id bytes it exposes point into the parsed input or into the parser's
/// scratch, so they are valid until the next `parse` and only while the input is alive.
///
/// Field rules (every format):
/// - account: a non-empty string, or a non-negative JSON integer whose digits are used as is
///   (some feeds send account ids as numbers).
/// - service: a non-empty string. region, resource id: a string; absent or null means "".
/// - tags: a string, or a number/true/false whose literal text is used (free-form metadata
///   often has numeric values); absent or null means ""; an object or array is `.wrongType`.
/// - timestamp: an ISO 8601 string, or epoch seconds/millis as a number or a numeric string.
/// - cost: a number or a decimal string ("12.50", "-1e-3", "+3", ".5"); negative only with the
///   format's credit marker.
/// - currency: absent or null means the first configured currency; "" or a code not configured is
///   `.unknownCurrency`. The `currency` label is the canonical upper-case code ("eur" → EUR), or
///   the first currency's code when a conversion rate applies (the cost is then converted).
/// - A required field that is absent or null is `.missingField`; "" is `.missingField` too.
/// - Where the format has a fallback (FOCUS EffectiveCost, CUR lineItem/ProductCode) it is
///   used when the primary field is absent, null or "".
/// Checks run in this order, so one event always gets the same reason: JSON syntax, top level
/// is an object, account, service, region, resource id, tags, timestamp, cost, charge type,
/// currency, sign of the cost.
public final class EventParser {
    public let options: EventParserOptions
    public let tagKeys: [String]

    // The results live in memory allocated at init rather than in stored `var`s: stored
    // properties of a class get a dynamic exclusivity check on every write, which showed up in
    // profiles of this loop.
    public var timestampMillis: Int64 { event.pointee.timestampMillis }
    public var cost: Double { event.pointee.cost }
    /// Index of the event's currency in `options.currencies` (as sent, before any conversion);
    /// -1 when that list is empty.
    public var currencyIndex: Int { event.pointee.currencyIndex }
    /// Whether the charge-type field marks the event as a credit or refund.
    public var isCredit: Bool { event.pointee.isCredit }
    /// Empty if absent. Valid until the next `parse`.
    public var resourceId: UnsafeRawBufferPointer { event.pointee.resourceId }

    private struct ParsedEvent {
        var timestampMillis: Int64 = 0
        var cost: Double = 0
        var currencyIndex = 0
        var isCredit = false
        var resourceId = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    public var labelCount: Int { Self.builtinLabels + tagKeys.count }
    private static let builtinLabels = StoreConfiguration.builtinLabelNames.count
    private static let currencyLabel = StoreConfiguration.currencyLabelIndex

    private let event: UnsafeMutablePointer<ParsedEvent>
    private let plan: EventFieldPlan
    private let values: UnsafeMutablePointer<JSONScanner.Value>
    private let scratch: UnsafeMutablePointer<UInt8>
    /// The date of the last ISO 8601 timestamp (`Timestamp.DayCache`).
    private let dayCache: UnsafeMutablePointer<Timestamp.DayCache>
    /// The scanner's remembered key order (`JSONScanner.predictedMembers` per plan node).
    private let predictions: UnsafeMutablePointer<Int32>
    private let labels: UnsafeMutablePointer<UnsafeRawBufferPointer>
    /// The last event's shape (`JSONSkeleton`), nil when `options.reusesShapes` is off.
    private let skeleton: JSONSkeleton?
    private let decimals: DecimalParser
    private let currencies: CurrencyTable
    private let creditMarkers: ASCIIKeywordList
    private let tagLeaves: [Int32]
    private let accountLeaf, serviceLeaf, serviceFallbackLeaf, regionLeaf, resourceIdLeaf: Int32
    private let costLeaf, costFallbackLeaf, currencyLeaf, timestampLeaf, chargeTypeLeaf: Int32

    public init(options: EventParserOptions) {
        self.options = options
        tagKeys = options.tagKeys
        event = .allocate(capacity: 1)
        event.initialize(to: ParsedEvent())
        let plan = EventFieldPlan(format: options.format, tagKeys: options.tagKeys)
        self.plan = plan
        values = .allocate(capacity: max(plan.leafCount, 1))
        values.initialize(repeating: .absent, count: max(plan.leafCount, 1))
        scratch = .allocate(capacity: max(options.maxEventBytes, 1))
        predictions = .allocate(capacity: plan.nodes.count * JSONScanner.predictedMembers)
        dayCache = .allocate(capacity: 1)
        dayCache.initialize(to: Timestamp.DayCache())
        predictions.initialize(repeating: -1, count: plan.nodes.count * JSONScanner.predictedMembers)
        labels = .allocate(capacity: Self.builtinLabels + options.tagKeys.count)
        labels.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: Self.builtinLabels + options.tagKeys.count)
        skeleton = options.reusesShapes ? JSONSkeleton(capacity: options.maxEventBytes) : nil
        decimals = DecimalParser(maxLength: max(options.maxEventBytes, 0))
        currencies = CurrencyTable(codes: options.currencies, rates: options.conversionRates)
        creditMarkers = ASCIIKeywordList(options.format.creditMarkers)
        tagLeaves = options.tagKeys.indices.map { plan.leaf(of: .tag($0)) }
        accountLeaf = plan.leaf(of: .account)
        serviceLeaf = plan.leaf(of: .service)
        serviceFallbackLeaf = plan.leaf(of: .serviceFallback)
        regionLeaf = plan.leaf(of: .region)
        resourceIdLeaf = plan.leaf(of: .resourceId)
        costLeaf = plan.leaf(of: .cost)
        costFallbackLeaf = plan.leaf(of: .costFallback)
        currencyLeaf = plan.leaf(of: .currency)
        timestampLeaf = plan.leaf(of: .timestamp)
        chargeTypeLeaf = plan.leaf(of: .chargeType)
    }

    deinit {
        event.deinitialize(count: 1)
        event.deallocate()
        values.deinitialize(count: max(plan.leafCount, 1))
        values.deallocate()
        scratch.deallocate()
        predictions.deallocate()
        dayCache.deallocate()
        labels.deinitialize(count: Self.builtinLabels + tagKeys.count)
        labels.deallocate()
    }

    /// Label values in order [account, service, region, currency] + tagKeys (missing optional
    /// ones are empty). Valid until the next `parse`; the currency's bytes belong to the parser.
    public func labelValue(_ index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < labelCount, "label index out of range")
        return labels[index]
    }

    /// Parses one event. nil = success; the accessors then describe it until the next call.
    public func parse(_ bytes: UnsafeRawBufferPointer) -> EventRejection? {
        if let rejection = scan(bytes) { return rejection }
        return readFields()
    }

    /// The first half of `parse`: size, JSON syntax, a top-level object, and the values found
    /// for the field plan's leaves.
    @inline(__always)
    private func scan(_ bytes: UnsafeRawBufferPointer) -> EventRejection? {
        guard bytes.count <= options.maxEventBytes else {
            return EventRejection(.oversized, "\(bytes.count) bytes, limit \(options.maxEventBytes)")
        }
        values.update(repeating: .absent, count: plan.leafCount)
        if let skeleton, skeleton.isWorthTrying {
            if skeleton.match(bytes, values: values) { return nil }
            values.update(repeating: .absent, count: plan.leafCount)
        }
        var scanner = JSONScanner(input: bytes, plan: plan, values: values, scratch: scratch, predictions: predictions)
        let top: JSONScanner.Kind
        do {
            top = try scanner.scanDocument()
        } catch {
            return EventRejection(.invalidJSON, "byte \(error.offset): \(error.message)")
        }
        guard top == .object else {
            return EventRejection(.wrongType, "top level: expected an object, got \(Self.describe(top))")
        }
        skeleton?.learnIfDue(bytes, values: values, leafCount: plan.leafCount)
        return nil
    }

    /// Events read by the shape of an earlier one (`JSONSkeleton`) rather than scanned in full.
    var eventsReadByShape: Int { skeleton?.matched ?? 0 }
    /// Events tried by a shape (read by it or not).
    var eventsTriedByShape: Int { skeleton?.tried ?? 0 }

    // MARK: - Fields

    private func readFields() -> EventRejection? {
        // account
        let account = value(accountLeaf)
        switch account.kind {
        case .string where account.count > 0:
            labels[0] = account.bytes
        case .number where Self.isUnsignedInteger(account.bytes):
            labels[0] = account.bytes
        case .string:
            return missing(.account, "is empty")
        case .absent, .null:
            return missing(.account, "is missing")
        default:
            return wrongType(.account, "a string or a non-negative integer", account.kind)
        }

        // service
        let (service, serviceField) = withFallback(serviceLeaf, .service, serviceFallbackLeaf, .serviceFallback)
        switch service.kind {
        case .string where service.count > 0:
            labels[1] = service.bytes
        case .string:
            return missing(serviceField, "is empty")
        case .absent, .null:
            return missing(serviceField, "is missing")
        default:
            return wrongType(serviceField, "a string", service.kind)
        }

        // region, resource id
        guard let region = optionalString(regionLeaf) else {
            return wrongType(.region, "a string", value(regionLeaf).kind)
        }
        labels[2] = region
        guard let resource = optionalString(resourceIdLeaf) else {
            return wrongType(.resourceId, "a string", value(resourceIdLeaf).kind)
        }
        event.pointee.resourceId = resource

        // tags
        for i in 0..<tagLeaves.count {
            let tag = value(tagLeaves[i])
            switch tag.kind {
            case .string, .number, .trueLiteral, .falseLiteral:
                labels[Self.builtinLabels + i] = tag.bytes
            case .absent, .null:
                labels[Self.builtinLabels + i] = UnsafeRawBufferPointer(start: nil, count: 0)
            case .object, .array:
                return wrongType(.tag(i), "a string, number or boolean", tag.kind)
            }
        }

        // timestamp
        let timestamp = value(timestampLeaf)
        switch timestamp.kind {
        case .string:
            guard let millis = Timestamp.parseISO8601(timestamp.bytes, dayCache: dayCache) ?? Timestamp.parseEpoch(timestamp.bytes) else {
                return invalid(.invalidTimestamp, .timestamp, "not ISO 8601 or epoch seconds/millis", timestamp)
            }
            event.pointee.timestampMillis = millis
        case .number:
            guard let millis = Timestamp.parseEpoch(timestamp.bytes) else {
                return invalid(.invalidTimestamp, .timestamp, "epoch time out of range", timestamp)
            }
            event.pointee.timestampMillis = millis
        case .absent, .null:
            return missing(.timestamp, "is missing")
        default:
            return wrongType(.timestamp, "a string or a number", timestamp.kind)
        }

        // cost
        let (costValue, costField) = withFallback(costLeaf, .cost, costFallbackLeaf, .costFallback)
        switch costValue.kind {
        case .number, .string:
            guard let parsed = decimals.parse(costValue.bytes) else {
                return invalid(.invalidCost, costField, "not a decimal number", costValue)
            }
            guard parsed.isFinite else {
                return invalid(.invalidCost, costField, "out of range", costValue)
            }
            event.pointee.cost = parsed
        case .absent, .null:
            return missing(costField, "is missing")
        default:
            return wrongType(costField, "a number or a decimal string", costValue.kind)
        }

        // charge type
        let chargeType = value(chargeTypeLeaf)
        switch chargeType.kind {
        case .string:
            event.pointee.isCredit = creditMarkers.firstIndex(of: chargeType.bytes) != nil
        case .absent, .null:
            event.pointee.isCredit = false
        default:
            return wrongType(.chargeType, "a string", chargeType.kind)
        }

        // currency: an explicit "" is not a way to say "the default".
        let currency = value(currencyLeaf)
        let entry: CurrencyTable.Entry
        switch currency.kind {
        case .string:
            guard let found = currencies.lookup(currency.bytes) else {
                return invalid(.unknownCurrency, .currency, "not an accepted currency", currency)
            }
            entry = found
        case .absent, .null:
            entry = currencies.fallback
        default:
            return wrongType(.currency, "a string", currency.kind)
        }
        event.pointee.currencyIndex = entry.index
        labels[Self.currencyLabel] = entry.label
        if entry.rate != 1 {
            let converted = event.pointee.cost * entry.rate
            guard converted.isFinite else {
                return invalid(.invalidCost, costField, "out of range after conversion into \(options.currencies[0])", costValue)
            }
            event.pointee.cost = converted
        }

        if event.pointee.cost < 0 && !event.pointee.isCredit {
            return EventRejection(.negativeCost, "field \"\(plan.name(of: costField))\": \(cost) without a credit or refund marker")
        }
        return nil
    }

    @inline(__always)
    private func value(_ leaf: Int32) -> JSONScanner.Value {
        leaf >= 0 ? values[Int(leaf)] : .absent
    }

    /// The primary field, or the fallback when the primary is absent, null or "" and the
    /// fallback is present.
    @inline(__always)
    private func withFallback(_ leaf: Int32, _ field: EventField,
                              _ fallbackLeaf: Int32, _ fallbackField: EventField) -> (JSONScanner.Value, EventField) {
        let primary = value(leaf)
        guard fallbackLeaf >= 0 else { return (primary, field) }
        switch primary.kind {
        case .absent, .null: break
        case .string where primary.count == 0: break
        default: return (primary, field)
        }
        let fallback = value(fallbackLeaf)
        return fallback.kind == .absent ? (primary, field) : (fallback, fallbackField)
    }

    /// A string's bytes; "" for absent or null; nil for any other type.
    @inline(__always)
    private func optionalString(_ leaf: Int32) -> UnsafeRawBufferPointer? {
        let v = value(leaf)
        switch v.kind {
        case .string: return v.bytes
        case .absent, .null: return UnsafeRawBufferPointer(start: nil, count: 0)
        default: return nil
        }
    }

    /// Digits only: a JSON integer without sign, fraction or exponent.
    private static func isUnsignedInteger(_ literal: UnsafeRawBufferPointer) -> Bool {
        for b in literal where b &- UInt8(ascii: "0") >= 10 { return false }
        return true
    }

    // MARK: - Rejections (cold)

    private func missing(_ field: EventField, _ what: String) -> EventRejection {
        EventRejection(.missingField, "field \"\(plan.name(of: field))\" \(what)")
    }

    private func wrongType(_ field: EventField, _ expected: String, _ got: JSONScanner.Kind) -> EventRejection {
        EventRejection(.wrongType, "field \"\(plan.name(of: field))\": expected \(expected), got \(Self.describe(got))")
    }

    private func invalid(_ reason: RejectReason, _ field: EventField, _ why: String,
                         _ value: JSONScanner.Value) -> EventRejection {
        let text = String(decoding: value.bytes.prefix(64), as: UTF8.self)
        return EventRejection(reason, "field \"\(plan.name(of: field))\": \(why): \(text.debugDescription)")
    }

    private static func describe(_ kind: JSONScanner.Kind) -> String {
        switch kind {
        case .absent: "nothing"
        case .string: "a string"
        case .number: "a number"
        case .trueLiteral, .falseLiteral: "a boolean"
        case .null: "null"
        case .object: "an object"
        case .array: "an array"
        }
    }
}
