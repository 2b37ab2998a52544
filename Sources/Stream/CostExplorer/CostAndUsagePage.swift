import Foundation

/// One `GetCostAndUsage` answer, checked and turned into amounts per (labels, period).
///
/// Amounts are decimal strings; each must be a finite number and each unit a currency the store
/// accepts. A value that is not is left out and counted with its reason (the rest of the page
/// stands); a page that is not the documented shape at all is refused as a whole.
public struct CostAndUsagePage: Sendable {
    public struct Value: Sendable, Equatable {
        /// Store input label values (account, service, region, currency, tags).
        public var labels: [String]
        public var periodStartMillis: Int64
        public var amount: Double
        public var estimated: Bool
    }

    public var values: [Value] = []
    /// Values left out: reason → count (`unknown_currency`, `bad_amount`, `bad_group`).
    public var rejected: [String: Int] = [:]
    /// Periods in the answer (an empty answer has none: worth a warning, not an error).
    public var periods = 0
    public var nextPageToken: String?

    public struct Malformed: Error, Sendable, CustomStringConvertible {
        /// The Cost Explorer operation whose answer it was.
        public var operation = "GetCostAndUsage"
        public let message: String
        public var description: String { "Cost Explorer answered with a body that is not a \(operation) result: \(message)" }
    }

    /// Currency handling as for streamed events (README: Currencies).
    public struct Currencies: Sendable {
        public var codes: [String]
        public var rates: [String: Double]
        public init(codes: [String], rates: [String: Double] = [:]) {
            self.codes = codes.map { $0.uppercased() }
            self.rates = rates
        }

        /// The label and the factor into it, or nil when the unit is not accepted.
        func resolve(_ unit: String) -> (label: String, rate: Double)? {
            let code = unit.uppercased()
            if codes.isEmpty { return code.count == 3 ? (code, 1) : nil }
            guard codes.contains(code) else { return nil }
            if let rate = rates[code] { return (codes[0], rate) }
            return (code, 1)
        }
    }

    public static func decode(_ body: [UInt8], configuration c: CostExplorerConfiguration, inputLabels: [String],
                              currencies: Currencies) throws(Malformed) -> CostAndUsagePage {
        struct Amount: Decodable { let Amount: String?; let Unit: String? }
        struct Period: Decodable { let Start: String; let End: String? }
        struct Group: Decodable { let Keys: [String]?; let Metrics: [String: Amount]? }
        struct Result: Decodable {
            let TimePeriod: Period
            let Total: [String: Amount]?
            let Groups: [Group]?
            let Estimated: Bool?
        }
        struct Body: Decodable {
            let ResultsByTime: [Result]?
            let NextPageToken: String?
        }
        let decoded: Body
        do { decoded = try JSONDecoder().decode(Body.self, from: Data(body)) } catch {
            throw Malformed(message: Self.describe(error, body))
        }
        guard let results = decoded.ResultsByTime else { throw Malformed(message: "no ResultsByTime") }
        var page = CostAndUsagePage()
        page.nextPageToken = decoded.NextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        page.periods = results.count
        let labelIndex = c.groupBy.map { inputLabels.firstIndex(of: $0.label) }
        let currencyIndex = StoreConfiguration.currencyLabelIndex
        for result in results {
            guard let start = Self.parseTime(result.TimePeriod.Start) else {
                throw Malformed(message: "TimePeriod.Start \"\(result.TimePeriod.Start.prefix(40))\" is not a date")
            }
            let estimated = result.Estimated ?? false
            // Without GroupBy the amount is the period's total; with it, one per group.
            let rows: [(keys: [String], amount: Amount?)] = c.groupBy.isEmpty
                ? [([], result.Total?[c.metric])]
                : (result.Groups ?? []).map { ($0.Keys ?? [], $0.Metrics?[c.metric]) }
            for row in rows {
                guard row.keys.count == c.groupBy.count else { page.rejected["bad_group", default: 0] += 1; continue }
                guard let text = row.amount?.Amount, let amount = Double(text), amount.isFinite else {
                    page.rejected["bad_amount", default: 0] += 1
                    continue
                }
                guard let currency = currencies.resolve(row.amount?.Unit ?? "") else {
                    page.rejected["unknown_currency", default: 0] += 1
                    continue
                }
                var labels = [String](repeating: "", count: inputLabels.count)
                labels[currencyIndex] = currency.label
                for (i, key) in row.keys.enumerated() {
                    guard let at = labelIndex[i] else { continue }
                    // Tag groups come back as "key$value" ("key$" when untagged).
                    labels[at] = c.groupBy[i].type == "TAG" ? String(key.split(separator: "$", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first ?? "") : key
                }
                let converted = amount * currency.rate
                guard converted.isFinite else { page.rejected["bad_amount", default: 0] += 1; continue }
                page.values.append(Value(labels: labels, periodStartMillis: start, amount: converted, estimated: estimated))
            }
        }
        return page
    }

    static func parseTime(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { Timestamp.parseISO8601(UnsafeRawBufferPointer($0)) }
    }

    private static func describe(_ error: any Error, _ body: [UInt8]) -> String {
        let quoted = String(decoding: body.prefix(120), as: UTF8.self)
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return "\(path.isEmpty ? "" : path + ": ")\(context.debugDescription) (body starts: \(quoted))"
        default:
            return "\(error) (body starts: \(quoted))"
        }
    }
}
