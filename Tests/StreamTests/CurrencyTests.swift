import Foundation
import Testing
@testable import Stream

/// Issue 12, defect 3: currency is part of a series' identity, and no query adds currencies.
@Suite struct CurrencyTests {
    private static let june1 = Int64(1_780_272_000_000)

    private static func event(account: String = "111", cost: String = "10", currency: String?) -> [UInt8] {
        var json = #"{"accountId":"\#(account)","service":"AmazonEC2","region":"us-east-1","cost":\#(cost),"timestamp":1780272000"#
        if let currency { json += #","currency":\#(currency)"# }
        return Array((json + "}").utf8)
    }

    /// Parses and applies each event through the real parser into one shard; the rejections.
    @discardableResult
    private static func ingest(_ store: WindowStore, _ events: [[UInt8]], options: EventParserOptions) -> [RejectReason?] {
        let parser = EventParser(options: options)
        return store.shard("test").write { writer in
            events.map { bytes in
                bytes.withUnsafeBytes { input in
                    if let bad = parser.parse(input) { return bad.reason }
                    return writer.apply(parser, timestampMillis: parser.timestampMillis, cost: parser.cost)
                }
            }
        }
    }

    private static func rows(_ store: WindowStore, by: [String]?, matchers: String = "") throws -> [([String: String], Double)] {
        let q = WindowQuery(matchers: try SeriesSelector.parse(matchers), by: by, span: .last(seconds: 3600))
        return try store.query(q, atMillis: june1 + 60_000).groups.map { ($0.labels, $0.sum) }
    }

    /// The currency label, or "rejected: <reason>".
    private static func currencyLabel(_ json: [UInt8], _ options: EventParserOptions) -> String {
        let parser = EventParser(options: options)
        return json.withUnsafeBytes { input in
            if let bad = parser.parse(input) { return "rejected: \(bad.reason.rawValue)" }
            return String(decoding: parser.labelValue(StoreConfiguration.currencyLabelIndex), as: UTF8.self)
        }
    }

    @Test func theCurrencyLabelIsTheCanonicalConfiguredCode() {
        let options = EventParserOptions(currencies: ["USD", "EUR"])
        #expect(StoreConfiguration().labelNames.prefix(4) == ["account", "service", "region", "currency"])
        #expect(Self.currencyLabel(Self.event(currency: nil), options) == "USD", "absent: the first currency")
        #expect(Self.currencyLabel(Self.event(currency: "null"), options) == "USD", "null: the first currency")
        #expect(Self.currencyLabel(Self.event(currency: #""EUR""#), options) == "EUR")
        #expect(Self.currencyLabel(Self.event(currency: #""eUr""#), options) == "EUR", "any case, one series")
        #expect(Self.currencyLabel(Self.event(currency: #""""#), options) == "rejected: unknown_currency", "\"\" is not the default")
        #expect(Self.currencyLabel(Self.event(currency: #"" USD""#), options) == "rejected: unknown_currency")
        #expect(Self.currencyLabel(Self.event(currency: #""GBP""#), options) == "rejected: unknown_currency")
        #expect(Self.currencyLabel(Self.event(currency: #""jpy""#), EventParserOptions(currencies: [])) == "JPY",
                "an empty list accepts any three-letter code, upper-cased")
        #expect(Self.currencyLabel(Self.event(currency: #""yen!""#), EventParserOptions(currencies: [])) == "rejected: unknown_currency")
    }

    /// One parser, currencies in every case and order: the table remembers the last code's
    /// bytes, which must never stand for another code.
    @Test func oneParserReadsEveryCodeInTurn() {
        let options = EventParserOptions(currencies: ["USD", "EUR"], conversionRates: ["EUR": 2])
        let parser = EventParser(options: options)
        let sequence = [#""usd""#, #""USD""#, #""EUR""#, #""EUR""#, #""GBP""#, #""eur""#, #""USD""#, #""US""#, #""USDX""#, #""usd""#, #""EUR""#]
        let expected = ["USD 10.0", "USD 10.0", "USD 20.0", "USD 20.0", "rejected", "USD 20.0", "USD 10.0", "rejected", "rejected", "USD 10.0", "USD 20.0"]
        let got = sequence.map { currency in
            Self.event(currency: currency).withUnsafeBytes { input in
                if parser.parse(input) != nil { return "rejected" }
                return String(decoding: parser.labelValue(StoreConfiguration.currencyLabelIndex), as: UTF8.self) + " \(parser.cost)"
            }
        }
        #expect(got == expected)
    }

    @Test func theCurrencyLabelDoesNotPointIntoTheInput() {
        // The label must outlive the message bytes (they are the parser's, like the code list).
        let parser = EventParser(options: EventParserOptions(currencies: ["USD", "EUR"]))
        let bytes = Self.event(currency: #""eur""#)
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        input.copyBytes(from: bytes)
        #expect(parser.parse(UnsafeRawBufferPointer(input)) == nil)
        input.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "x"))
        input.deallocate()
        #expect(String(decoding: parser.labelValue(StoreConfiguration.currencyLabelIndex), as: UTF8.self) == "EUR")
    }

    @Test func tenUSDAndTenEURAreTwoSeriesNeverTwenty() throws {
        let store = WindowStore(configuration: StoreConfiguration())
        let options = EventParserOptions(currencies: ["USD", "EUR"])
        let results = Self.ingest(store, [Self.event(currency: #""USD""#), Self.event(currency: #""EUR""#),
                                          Self.event(currency: #""eur""#), Self.event(currency: nil)], options: options)
        #expect(results.allSatisfy { $0 == nil })
        #expect(store.seriesCount == 2)
        // Total (by=): one row per currency, each saying which.
        let total = try Self.rows(store, by: [])
        #expect(total.map(\.0) == [["currency": "EUR"], ["currency": "USD"]])
        #expect(total.map(\.1) == [20, 20])
        // by=account: still split by currency.
        let byAccount = try Self.rows(store, by: ["account"])
        #expect(byAccount.map(\.0) == [["account": "111", "currency": "EUR"], ["account": "111", "currency": "USD"]])
        // by=currency names it explicitly: the same split, no duplicate label.
        #expect(try Self.rows(store, by: ["currency"]).map(\.0) == [["currency": "EUR"], ["currency": "USD"]])
        // Per series: the currency is one of its labels; a matcher selects one currency.
        #expect(try Self.rows(store, by: nil).map { $0.0["currency"] } == ["EUR", "USD"])
        #expect(try Self.rows(store, by: [], matchers: #"{currency="EUR"}"#).map(\.1) == [20])
    }

    @Test func conversionRatesCountConvertedAmountsInTheFirstCurrency() throws {
        let store = WindowStore(configuration: StoreConfiguration())
        let options = EventParserOptions(currencies: ["USD", "EUR", "GBP"], conversionRates: ["EUR": 1.08])
        let results = Self.ingest(store, [Self.event(currency: #""USD""#), Self.event(currency: #""EUR""#),
                                          Self.event(currency: #""GBP""#), Self.event(cost: "1.7e308", currency: #""EUR""#)],
                                  options: options)
        #expect(results == [nil, nil, nil, .invalidCost], "1.7e308 EUR is not a finite USD amount")
        let total = try Self.rows(store, by: [])
        #expect(total.map(\.0) == [["currency": "GBP"], ["currency": "USD"]], "GBP has no rate: kept apart")
        #expect(total.map(\.1) == [10, 10 + 10 * 1.08])
    }
}
