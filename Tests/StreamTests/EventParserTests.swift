import Foundation
import Testing
import Stream

/// A parsed event copied out of the parser, for comparing. `labels` leaves out the `currency`
/// label (its index and canonical value are what `currencyIndex` and CurrencyTests check).
private struct Parsed: Equatable, CustomStringConvertible {
    var labels: [String]
    var resourceId: String
    var cost: Double
    var timestamp: Int64
    var currencyIndex = 0
    var isCredit = false

    var description: String { "\(labels) \(resourceId) \(cost) \(timestamp) cur=\(currencyIndex) credit=\(isCredit)" }
}

private func parse(_ json: String, _ options: EventParserOptions = EventParserOptions()) -> Result<Parsed, EventRejection> {
    parse(Array(json.utf8), with: EventParser(options: options))
}

private func parse(_ bytes: [UInt8], with parser: EventParser) -> Result<Parsed, EventRejection> {
    // Labels point into the input: copy them while it is still borrowed.
    bytes.withUnsafeBytes { input in
        if let rejection = parser.parse(input) { return .failure(rejection) }
        let indices = (0..<parser.labelCount).filter { $0 != StoreConfiguration.currencyLabelIndex }
        return .success(Parsed(labels: indices.map { String(decoding: parser.labelValue($0), as: UTF8.self) },
                               resourceId: String(decoding: parser.resourceId, as: UTF8.self),
                               cost: parser.cost, timestamp: parser.timestampMillis,
                               currencyIndex: parser.currencyIndex, isCredit: parser.isCredit))
    }
}

private func reason(_ json: String, _ options: EventParserOptions = EventParserOptions()) -> RejectReason? {
    if case .failure(let rejection) = parse(json, options) { return rejection.reason }
    return nil
}

private func rejection(_ json: String, _ options: EventParserOptions = EventParserOptions()) -> EventRejection? {
    if case .failure(let rejection) = parse(json, options) { return rejection }
    return nil
}

private func accepted(_ json: String, _ options: EventParserOptions = EventParserOptions()) -> Parsed? {
    try? parse(json, options).get()
}

/// 2026-06-01T00:00:02Z
private let june1 = Int64(1_780_272_002_000)

private let typicalLine = #"""
{"accountId":"205380810795","service":"AWSSupportBusiness","region":"us-east-1","resourceId":"awssup-155f0975","cost":39.43770991,"currency":"USD","timestamp":"2026-06-01T00:00:02Z","metadata":{"usageType":"us-east-1:AWSSupportBusiness:Usage","source":"cur-stream"}}
"""#

/// A coststream event with `fields` replacing or adding members (nil removes one).
private func coststream(_ fields: [String: String?] = [:]) -> String {
    var members: [(String, String)] = [
        ("accountId", #""111122223333""#), ("service", #""AmazonEC2""#), ("region", #""eu-west-1""#),
        ("resourceId", #""i-0abc""#), ("cost", "1.25"), ("currency", #""USD""#),
        ("timestamp", #""2026-06-01T00:00:02Z""#), ("metadata", #"{"team":"core","env":"prod"}"#),
    ]
    for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
        if let index = members.firstIndex(where: { $0.0 == key }) {
            if let value { members[index].1 = value } else { members.remove(at: index) }
        } else if let value {
            members.append((key, value))
        }
    }
    return "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

private let tagged = EventParserOptions(tagKeys: ["team", "env"])

@Suite struct EventParserTests {
    // MARK: Formats

    @Test func coststreamTypicalLine() {
        let options = EventParserOptions(tagKeys: ["usageType", "source", "absent"])
        #expect(accepted(typicalLine, options) == Parsed(
            labels: ["205380810795", "AWSSupportBusiness", "us-east-1", "us-east-1:AWSSupportBusiness:Usage", "cur-stream", ""],
            resourceId: "awssup-155f0975", cost: 39.43770991, timestamp: june1))
    }

    @Test func labelCountIsFourPlusTags() {
        #expect(EventParser(options: EventParserOptions()).labelCount == 4)
        #expect(EventParser(options: tagged).labelCount == 6)
    }

    @Test func optionalFieldsMayBeAbsentOrNull() {
        let event = accepted(coststream(["region": nil, "resourceId": "null", "metadata": nil, "currency": nil]), tagged)
        #expect(event == Parsed(labels: ["111122223333", "AmazonEC2", "", "", ""], resourceId: "", cost: 1.25, timestamp: june1))
    }

    @Test func focusFormat() {
        let options = EventParserOptions(format: .focus, tagKeys: ["team"], currencies: ["USD", "EUR"])
        let line = #"""
        {"BilledCost":"12.5","EffectiveCost":11,"BillingCurrency":"EUR","ChargePeriodStart":"2026-06-01T00:00:02Z",
         "ChargePeriodEnd":"2026-06-01T01:00:00Z","SubAccountId":"acc-1","ServiceName":"Amazon S3",
         "RegionId":"eu-central-1","ResourceId":"bucket-1","ChargeCategory":"Usage","Tags":{"team":"data"}}
        """#
        #expect(accepted(line, options) == Parsed(labels: ["acc-1", "Amazon S3", "eu-central-1", "data"],
                                                  resourceId: "bucket-1", cost: 12.5, timestamp: june1, currencyIndex: 1))
        // EffectiveCost when BilledCost is absent, null or "".
        for billed in [#""BilledCost":null,"#, "", #""BilledCost":"","#] {
            let alternative = #"{\#(billed)"EffectiveCost":11,"ChargePeriodStart":"2026-06-01T00:00:02Z","SubAccountId":"a","ServiceName":"s"}"#
            #expect(accepted(alternative, options)?.cost == 11)
        }
        // Credits carry ChargeCategory "Credit".
        let credit = #"{"BilledCost":-3,"ChargePeriodStart":"2026-06-01T00:00:02Z","SubAccountId":"a","ServiceName":"s","ChargeCategory":"Credit"}"#
        #expect(accepted(credit, options)?.cost == -3)
        #expect(accepted(credit, options)?.isCredit == true)
        #expect(reason(credit.replacingOccurrences(of: "Credit", with: "Usage"), options) == .negativeCost)
        #expect(reason(credit.replacingOccurrences(of: "Credit", with: "Refund"), options) == .negativeCost,
                "FOCUS has no Refund category")
        let missing = rejection(#"{"ChargePeriodStart":"2026-06-01T00:00:02Z","SubAccountId":"a","ServiceName":"s"}"#, options)
        #expect(missing?.reason == .missingField)
        #expect(missing?.detail.contains("BilledCost") == true)
    }

    @Test func curFormat() {
        let options = EventParserOptions(format: .cur, tagKeys: ["team", "cost-center"])
        let line = #"""
        {"identity/LineItemId":"x","lineItem/UsageAccountId":"123456789012","lineItem/LineItemType":"Usage",
         "lineItem/UsageStartDate":"2026-06-01T00:00:02Z","lineItem/ProductCode":"AmazonEC2",
         "product/ProductName":"Amazon Elastic Compute Cloud","product/region":"us-east-1",
         "lineItem/ResourceId":"i-0abc","lineItem/UnblendedCost":"0.0416","lineItem/CurrencyCode":"USD",
         "resourceTags/user:team":"web","resourceTags/user:cost-center":"42"}
        """#
        #expect(accepted(line, options) == Parsed(
            labels: ["123456789012", "Amazon Elastic Compute Cloud", "us-east-1", "web", "42"],
            resourceId: "i-0abc", cost: 0.0416, timestamp: june1))
        // lineItem/ProductCode when product/ProductName is empty or absent.
        let noName = line.replacingOccurrences(of: "Amazon Elastic Compute Cloud", with: "")
        #expect(accepted(noName, options)?.labels[1] == "AmazonEC2")
        // Credit and Refund line items may be negative.
        for type in ["Credit", "Refund", "refund"] {
            let credit = line.replacingOccurrences(of: #""0.0416""#, with: #""-5""#)
                .replacingOccurrences(of: #""Usage""#, with: "\"\(type)\"")
            #expect(accepted(credit, options)?.cost == -5, "\(type)")
        }
        #expect(reason(line.replacingOccurrences(of: #""0.0416""#, with: #""-5""#), options) == .negativeCost)
    }

    @Test func mappingFormat() {
        let mapping = FieldMapping(account: "billing.account.id", service: "billing.service", region: "where",
                                   resourceId: "billing.resource", cost: "amount.value", currency: "amount.currency",
                                   timestamp: "at", chargeType: "kind", tags: "labels")
        let options = EventParserOptions(format: .mapping(mapping), tagKeys: ["team", "k8s.io/app"], currencies: ["EUR"])
        let line = #"""
        {"billing":{"account":{"id":42},"service":"compute","resource":"vm-1"},"where":"fra",
         "amount":{"value":"-7.5","currency":"eur"},"at":1780272002,"kind":"refund",
         "labels":{"team":"ml","k8s.io/app":"trainer"}}
        """#
        #expect(accepted(line, options) == Parsed(labels: ["42", "compute", "fra", "ml", "trainer"], resourceId: "vm-1",
                                                  cost: -7.5, timestamp: june1, isCredit: true))
        // A path through something that is not an object finds nothing.
        let broken = line.replacingOccurrences(of: #"{"id":42}"#, with: #""42""#)
        let missing = rejection(broken, options)
        #expect(missing?.reason == .missingField)
        #expect(missing?.detail.contains("billing.account.id") == true)
        // Optional mapping fields may be left out.
        let minimal = FieldMapping(account: "a", service: "s", cost: "c", timestamp: "t")
        let minimalOptions = EventParserOptions(format: .mapping(minimal), tagKeys: ["x"])
        #expect(accepted(#"{"a":"1","s":"2","c":3,"t":0,"region":"ignored"}"#, minimalOptions)
            == Parsed(labels: ["1", "2", "", ""], resourceId: "", cost: 3, timestamp: 0))
        // Two fields may share one key.
        let shared = FieldMapping(account: "id", service: "id", cost: "c", timestamp: "t")
        #expect(accepted(#"{"id":"x","c":1,"t":0}"#, EventParserOptions(format: .mapping(shared)))?.labels == ["x", "x", ""])
    }

    // MARK: Labels and tags

    @Test func tagsFromMetadata() {
        #expect(accepted(coststream(), tagged)?.labels == ["111122223333", "AmazonEC2", "eu-west-1", "core", "prod"])
        #expect(accepted(coststream(["metadata": #"{"team":7,"env":true}"#]), tagged)?.labels.suffix(2) == ["7", "true"],
                "numbers and booleans keep their literal text")
        #expect(accepted(coststream(["metadata": #"{"team":1.50e1,"env":null}"#]), tagged)?.labels.suffix(2) == ["1.50e1", ""])
        #expect(accepted(coststream(["metadata": #""not an object""#]), tagged)?.labels.suffix(2) == ["", ""])
        #expect(reason(coststream(["metadata": #"{"team":{"a":1}}"#]), tagged) == .wrongType)
        #expect(reason(coststream(["metadata": #"{"env":[]}"#]), tagged) == .wrongType)
        // Tags are looked up in metadata only.
        #expect(accepted(coststream(["team": #""top""#, "metadata": "{}"]), tagged)?.labels.suffix(2) == ["", ""])
    }

    @Test func accountMayBeAJSONInteger() {
        #expect(accepted(coststream(["accountId": "205380810795"]))?.labels[0] == "205380810795")
        #expect(accepted(coststream(["accountId": "0"]))?.labels[0] == "0")
        for bad in ["-5", "1.5", "1e3", "2.0", "true", "{}", "[]"] {
            #expect(reason(coststream(["accountId": bad])) == .wrongType, "\(bad)")
        }
    }

    @Test func escapedStringsAreDecoded() {
        let line = #"{"\u0061ccountId":"a\"b\\c\/d\n\u00e9\u4e2d\ud83d\ude00","service":"s\t","region":"\u0000",""#
            + #"cost":1,"timestamp":"\u0032026-06-01T00:00:02Z","metadata":{"te\u0061m":"x\u0079z"}}"#
        #expect(accepted(line, EventParserOptions(tagKeys: ["team"])) == Parsed(
            labels: ["a\"b\\c/d\né中😀", "s\t", "\u{0}", "xyz"], resourceId: "", cost: 1, timestamp: june1))
    }

    @Test func labelsSurviveManyEscapedValuesAndStayValidUntilTheNextParse() throws {
        let parser = EventParser(options: tagged)
        let escaped = coststream(["service": #""\u0041\u0042""#, "region": #""\u0043""#,
                                  "metadata": #"{"team":"\u0044\u0045\u0046","env":"\u0047"}"#])
        let plain = coststream(["service": #""Plain""#])
        for _ in 0..<3 {
            #expect(try parse(Array(escaped.utf8), with: parser).get().labels == ["111122223333", "AB", "C", "DEF", "G"])
            #expect(try parse(Array(plain.utf8), with: parser).get().labels == ["111122223333", "Plain", "eu-west-1", "core", "prod"])
        }
    }

    @Test func duplicateKeysLastWins() {
        let line = coststream(["service": #""first""#]).dropLast() + #","service":"second","metadata":{"env":"e"}}"#
        #expect(accepted(String(line), tagged)?.labels == ["111122223333", "second", "eu-west-1", "", "e"])
        // A later null also wins.
        let nulled = coststream().dropLast() + #","region":null}"#
        #expect(accepted(String(nulled))?.labels[2] == "")
    }

    // MARK: Cost

    @Test func costForms() {
        let cases: [(String, Double)] = [
            ("0", 0), ("12", 12), ("39.43770991", 39.43770991), ("1e2", 100), ("1E-2", 0.01), ("-0", 0),
            (#""12.50""#, 12.5), (#""+3""#, 3), (#"".5""#, 0.5), (#""5.""#, 5), (#""1e3""#, 1000), (#""007""#, 7),
            ("0.1", 0.1), ("0.1000000000000000055511151231257827021181583404541015625", 0.1),
            ("9007199254740993", 9_007_199_254_740_992), ("1e-400", 0), ("123456789012345678901234567890", 1.2345678901234568e29),
            ("2.2250738585072011e-308", Double(bitPattern: 0x000F_FFFF_FFFF_FFFF)),  // the largest subnormal ("1.7976931348623157e308", .greatestFiniteMagnitude),
        ]
        for (literal, expected) in cases {
            #expect(accepted(coststream(["cost": literal]))?.cost == expected, "\(literal)")
        }
    }

    /// Every cost must equal what strtod (Swift's Double(String)) gives, fast path or not.
    @Test func costMatchesCorrectlyRoundedConversion() {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        let parser = EventParser(options: EventParserOptions())
        for _ in 0..<5000 {
            let digits = String(next() % 1_000_000_000_000_000_000)
            let point = Int(next() % UInt64(digits.count + 1))
            var literal = digits.prefix(point) + "." + digits.dropFirst(point)
            if literal.hasPrefix(".") { literal = "0" + literal }
            if literal.hasSuffix(".") { literal += "0" }
            if next() % 3 == 0 { literal += "e\(Int(next() % 60) - 30)" }
            let line = coststream(["cost": String(literal)])
            let parsed = try? parse(Array(line.utf8), with: parser).get()
            #expect(parsed?.cost == Double(literal), "\(literal)")
        }
    }

    @Test func invalidCosts() {
        for bad in [#""abc""#, #""NaN""#, #""nan""#, #""Infinity""#, #""inf""#, #""""#, #"" 1""#, #""1 ""#, #""1,5""#,
                    #""0x10""#, #""1e""#, #""--1""#, #""1.2.3""#, "1e400", "-1e400", #""1e999""#] {
            #expect(reason(coststream(["cost": bad])) == .invalidCost, "\(bad)")
        }
        for bad in ["true", "{}", "[1]"] {
            #expect(reason(coststream(["cost": bad])) == .wrongType, "\(bad)")
        }
        #expect(reason(coststream(["cost": nil])) == .missingField)
        #expect(reason(coststream(["cost": "null"])) == .missingField)
    }

    @Test func negativeCostNeedsACreditMarker() {
        #expect(reason(coststream(["cost": "-1"])) == .negativeCost)
        #expect(reason(coststream(["cost": #""-1e-3""#])) == .negativeCost)
        #expect(reason(coststream(["cost": "-1", "chargeType": #""usage""#])) == .negativeCost)
        for marker in ["credit", "Credit", "CREDIT", "refund", "Refund"] {
            let event = accepted(coststream(["cost": #""-1e-3""#, "chargeType": "\"\(marker)\""]))
            #expect(event?.cost == -0.001, "\(marker)")
            #expect(event?.isCredit == true)
        }
        #expect(accepted(coststream(["cost": "2", "chargeType": #""credit""#]))?.cost == 2, "a positive credit is fine")
        #expect(reason(coststream(["cost": "-1", "chargeType": "1"])) == .wrongType)
    }

    // MARK: Currency

    @Test func currencies() {
        let options = EventParserOptions(currencies: ["USD", "EUR"])
        #expect(accepted(coststream(["currency": nil]), options)?.currencyIndex == 0, "absent: the default")
        #expect(accepted(coststream(["currency": "null"]), options)?.currencyIndex == 0)
        #expect(reason(coststream(["currency": #""""#]), options) == .unknownCurrency, "an explicit \"\" is not the default")
        #expect(accepted(coststream(["currency": #""EUR""#]), options)?.currencyIndex == 1)
        #expect(accepted(coststream(["currency": #""eur""#]), options)?.currencyIndex == 1)
        let unknown = rejection(coststream(["currency": #""GBP""#]), options)
        #expect(unknown?.reason == .unknownCurrency)
        #expect(unknown?.detail.contains("GBP") == true)
        #expect(reason(coststream(["currency": "840"]), options) == .wrongType)
        #expect(accepted(coststream(["currency": #""JPY""#]), EventParserOptions(currencies: []))?.currencyIndex == -1,
                "an empty list accepts any three-letter code")
    }

    // MARK: Timestamp

    @Test func timestampForms() {
        #expect(accepted(coststream(["timestamp": "1780272002"]))?.timestamp == june1)
        #expect(accepted(coststream(["timestamp": "1780272002000"]))?.timestamp == june1)
        #expect(accepted(coststream(["timestamp": "1780272002.25"]))?.timestamp == june1 + 250)
        #expect(accepted(coststream(["timestamp": #""1780272002""#]))?.timestamp == june1)
        #expect(accepted(coststream(["timestamp": #""2026-06-01T02:00:02+02:00""#]))?.timestamp == june1)
        #expect(accepted(coststream(["timestamp": #""2026-06-01""#]))?.timestamp == june1 - 2000)
        for bad in [#""2026-02-30T00:00:00Z""#, #""yesterday""#, #""""#, "1e30"] {
            #expect(reason(coststream(["timestamp": bad])) == .invalidTimestamp, "\(bad)")
        }
        #expect(reason(coststream(["timestamp": "true"])) == .wrongType)
        #expect(reason(coststream(["timestamp": nil])) == .missingField)
    }

    // MARK: Every reason

    @Test func everyParserReason() {
        let small = EventParserOptions(maxEventBytes: 64)
        let cases: [(String, EventParserOptions, RejectReason, String)] = [
            (#"{"accountId":"#, EventParserOptions(), .invalidJSON, "byte 13"),
            (coststream(["accountId": nil]), EventParserOptions(), .missingField, "accountId"),
            (coststream(["service": #""""#]), EventParserOptions(), .missingField, "service"),
            (coststream(["service": "3"]), EventParserOptions(), .wrongType, "service"),
            (coststream(["region": "[]"]), EventParserOptions(), .wrongType, "region"),
            (coststream(["resourceId": "1"]), EventParserOptions(), .wrongType, "resourceId"),
            (coststream(["metadata": #"{"team":[]}"#]), tagged, .wrongType, "metadata.team"),
            (coststream(["timestamp": #""soon""#]), EventParserOptions(), .invalidTimestamp, "timestamp"),
            (coststream(["cost": #""NaN""#]), EventParserOptions(), .invalidCost, "cost"),
            (coststream(["cost": "-2"]), EventParserOptions(), .negativeCost, "cost"),
            (coststream(["currency": #""XXX""#]), EventParserOptions(), .unknownCurrency, "currency"),
            (String(repeating: " ", count: 65), small, .oversized, "65 bytes"),
            ("[1,2]", EventParserOptions(), .wrongType, "top level"),
            (#""just a string""#, EventParserOptions(), .wrongType, "top level"),
        ]
        for (json, options, expected, detail) in cases {
            let got = rejection(json, options)
            #expect(got?.reason == expected, "\(json)")
            #expect(got?.detail.contains(detail) == true, "\(String(describing: got)) should mention \(detail)")
        }
        // Every reason the parser can give is covered above.
        let covered = Set(cases.map(\.2))
        let decidedElsewhere: Set<RejectReason> = [.tooOld, .futureTimestamp, .seriesLimit, .costOverflow, .forbiddenAccount]
        #expect(covered.union(decidedElsewhere) == Set(RejectReason.allCases))
    }

    @Test func oversizedIsCheckedBeforeScanning() {
        let limit = coststream(["service": #""""#]).utf8.count + 50
        let options = EventParserOptions(maxEventBytes: limit)
        let exact = coststream(["service": "\"" + String(repeating: "s", count: 50) + "\""])
        #expect(exact.utf8.count == limit)
        #expect(accepted(exact, options) != nil)
        #expect(reason(exact + " ", options) == .oversized)
        #expect(reason(String(repeating: "{", count: limit + 1), options) == .oversized, "before any JSON check")
    }

    @Test func anEventWithEscapesAsLargeAsTheLimitFitsTheScratchBuffer() {
        let filler = String(repeating: #"\u00e9"#, count: 600)
        let line = coststream(["service": "\"\(filler)\"", "region": "\"\(filler)\"", "x": "\"\(filler)\""])
        let options = EventParserOptions(maxEventBytes: line.utf8.count)  // scratch exactly this size
        #expect(accepted(line, options)?.labels[1] == String(repeating: "é", count: 600))
        #expect(accepted(line, options)?.labels[2] == String(repeating: "é", count: 600))
    }

    @Test func rejectionThenSuccessReusesTheParser() throws {
        let parser = EventParser(options: tagged)
        #expect(throws: EventRejection.self) { try parse(Array("{".utf8), with: parser).get() }
        #expect(throws: EventRejection.self) { try parse(Array(coststream(["cost": "-1"]).utf8), with: parser).get() }
        #expect(try parse(Array(coststream().utf8), with: parser).get().labels[3] == "core")
    }
}

@Suite struct EventBatchTests {
    private func split(_ body: String) throws -> [String] {
        let bytes = Array(body.utf8)
        let ranges = try bytes.withUnsafeBytes { try EventBatch.split($0) }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func jsonArray() throws {
        #expect(try split(#"[{"a":1}, {"b":[1,2,{"c":"]},"}]} ,3 ]"#) == [#"{"a":1}"#, #"{"b":[1,2,{"c":"]},"}]}"#, "3"])
        #expect(try split(" \n[ {\"a\":\"x\\\"]\"} ]\n") == [#"{"a":"x\"]"}"#])
        #expect(try split("[]") == [])
        #expect(try split(" [ \n ] ") == [])
        // Elements are not validated here: a bad element is that element's rejection.
        #expect(try split("[{bad json}, tru, {\"a\" 1}]") == ["{bad json}", "tru", "{\"a\" 1}"])
    }

    @Test func ndjson() throws {
        #expect(try split("{\"a\":1}\n{\"b\":2}\n") == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(try split("{\"a\":1}\r\n\r\n  \n{\"b\":2}") == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(try split("") == [])
        #expect(try split(" \n\t\r\n") == [])
        #expect(try split("not json\n{}") == ["not json", "{}"])
        #expect(try split("\u{FEFF}{\"a\":1}") == ["\u{FEFF}{\"a\":1}"], "the parser skips a leading byte order mark")
    }

    @Test(arguments: ["[", "[1", "[1,", "[1,]", "[,1]", "[,]", "[1,,2]", "[{]", "[[1}]", "[1]x", "[\"abc]", "[1] [2]", "[}]"])
    func malformedArrays(_ body: String) {
        #expect(throws: EventRejection.self, "\(body)") { try split(body) }
        do {
            _ = try split(body)
        } catch {
            #expect((error as? EventRejection)?.reason == .invalidJSON)
        }
    }

    @Test func splitElementsParse() throws {
        let body = "[\(coststream()), \(coststream(["cost": "-1"]))]"
        let bytes = Array(body.utf8)
        let parser = EventParser(options: EventParserOptions())
        let reasons = try bytes.withUnsafeBytes { raw in
            try EventBatch.split(raw).map { parser.parse(UnsafeRawBufferPointer(rebasing: raw[$0]))?.reason }
        }
        #expect(reasons == [nil, .negativeCost])
    }
}
