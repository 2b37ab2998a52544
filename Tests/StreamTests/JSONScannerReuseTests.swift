import Foundation
import Stream
import Testing

/// `EventBatch.split` and `JSONMemberFinder` (used by `ingestd produce`) on the event parser's
/// JSON scanner.
@Suite struct JSONScannerReuseTests {
    private func split(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try bytes.withUnsafeBytes { try EventBatch.split($0) }.map { Array(bytes[$0]) }
    }

    @Test func arrayElementsThatAreNotValidStringsStillSplit() throws {
        // Invalid UTF-8, a raw control character and an invalid escape inside strings: the
        // validating string scanner refuses each, the element still ends at its comma, and the
        // parser rejects only that element.
        let bad: [[UInt8]] = [
            Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8),
            Array(#"{"a":"x"#.utf8) + [0x01] + Array(#"y"}"#.utf8),
            Array(#"{"a":"\q,]"}"#.utf8),
        ]
        for element in bad {
            let body = Array("[".utf8) + element + Array(#", {"b":"]"}]"#.utf8)
            #expect(try split(body) == [element, Array(#"{"b":"]"}"#.utf8)], "\(String(decoding: element, as: UTF8.self))")
        }
        let parser = EventParser(options: EventParserOptions())
        for element in bad {
            #expect(element.withUnsafeBytes { parser.parse($0)?.reason } == .invalidJSON)
        }
    }

    @Test func deepNestingIsTheElementsRejectionNotTheBatchs() throws {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(try split(Array("[\(deep),{}]".utf8)).map { String(decoding: $0, as: UTF8.self) } == [deep, "{}"])
    }

    @Test func malformedBoundariesSayWhere() {
        #expect(throws: EventRejection.self) { try split(Array(#"[{"a":"x}]"#.utf8)) }
        do {
            _ = try split(Array(#"[{"a":1}}]"#.utf8))
            Issue.record("an unbalanced } was accepted")
        } catch {
            #expect((error as? EventRejection)?.reason == .invalidJSON)
            #expect((error as? EventRejection)?.detail == "byte 8: unbalanced '}'")
        }
    }

    private func find(_ text: String, _ names: [String]) -> [String?]? {
        let finder = JSONMemberFinder(names: names)
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            finder.find(raw).map { members in
                members.map { m in m.map { "\($0.kind):\(String(decoding: $0.content, as: UTF8.self)):\($0.range.map { String(decoding: bytes[$0], as: UTF8.self) } ?? "-")" } }
            }
        }
    }

    @Test func memberFinder() {
        #expect(find(#" {"k":"a1","t":"2026-06-01T00:00:00Z","m":{"k":"inner"}} "#, ["k", "t", "x"])
            == [#"string:a1:"a1""#, #"string:2026-06-01T00:00:00Z:"2026-06-01T00:00:00Z""#, nil])
        #expect(find(#"{"k":1.5e3,"t":-12}"#, ["k", "t"]) == ["number:1.5e3:1.5e3", "number:-12:-12"])
        #expect(find(#"{"k":"a\"b\u00e9","k":null}"#, ["k"]) == ["null:null:null"], "the later duplicate wins")
        #expect(find(#"{"k":"a\"b\u00e9"}"#, ["k"]) == ["string:a\"bé:-"], "escapes decoded; no raw range")
        #expect(find(#"{"k":{"a":1},"t":[1],"u":true}"#, ["k", "t", "u"]) == ["object::-", "array::-", "boolean:true:true"])
        #expect(find(#"{"k":"v","x":tru}"#, ["k"]) == nil, "not JSON: nothing")
        #expect(find(#"["k"]"#, ["k"]) == nil, "not an object: nothing")
        #expect(find("", ["k"]) == nil)
    }
}
