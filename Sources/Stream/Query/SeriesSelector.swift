/// Parses a selector as PromQL writes it: `{account="123",service=~"Amazon.*"}` (braces
/// optional, values in double quotes with \" and \\ escapes; an empty selector matches all).
public enum SeriesSelector {
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public let column: Int
        public let message: String
        public var description: String { "selector \(text) column \(column): \(message)" }
    }

    public static func parse(_ text: String) throws(SyntaxError) -> [LabelMatcher] {
        var chars = Array(text.unicodeScalars)
        var i = 0
        func fail(_ message: String) -> SyntaxError { SyntaxError(text: text, column: i + 1, message: message) }
        func skipSpace() { while i < chars.count, chars[i].properties.isWhitespace { i += 1 } }
        skipSpace()
        let braced = i < chars.count && chars[i] == "{"
        if braced {
            i += 1
            guard let close = chars.lastIndex(of: "}") else { throw fail("missing closing }") }
            guard chars[(close + 1)...].allSatisfy({ $0.properties.isWhitespace }) else {
                i = close + 1
                throw fail("unexpected text after }")
            }
            chars = Array(chars[..<close])
        }
        var matchers: [LabelMatcher] = []
        while true {
            skipSpace()
            if i >= chars.count { break }
            let nameStart = i
            while i < chars.count, chars[i] == "_" || chars[i].properties.isAlphabetic || ("0"..."9").contains(chars[i]) { i += 1 }
            guard i > nameStart else { throw fail("expected a label name") }
            let name = String(String.UnicodeScalarView(chars[nameStart..<i]))
            skipSpace()
            var opText = ""
            while i < chars.count, "=!~".unicodeScalars.contains(chars[i]), opText.count < 2 { opText.unicodeScalars.append(chars[i]); i += 1 }
            guard let op = LabelMatcher.Operator(rawValue: opText) else { throw fail("expected =, !=, =~ or !~ after \(name)") }
            skipSpace()
            guard i < chars.count, chars[i] == "\"" else { throw fail("expected a double-quoted value") }
            i += 1
            var value = String.UnicodeScalarView()
            var closed = false
            while i < chars.count {
                let c = chars[i]
                i += 1
                if c == "\\", i < chars.count {
                    let e = chars[i]
                    i += 1
                    switch e {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "\"", "\\": value.append(e)
                    default: value.append("\\"); value.append(e) // regex escapes such as \d pass through
                    }
                } else if c == "\"" {
                    closed = true
                    break
                } else {
                    value.append(c)
                }
            }
            guard closed else { throw fail("unterminated string") }
            do { matchers.append(try LabelMatcher(name, op, String(value))) } catch { throw fail(error.description) }
            skipSpace()
            if i < chars.count {
                guard chars[i] == "," else { throw fail("expected , between matchers") }
                i += 1
            }
        }
        return matchers
    }
}
