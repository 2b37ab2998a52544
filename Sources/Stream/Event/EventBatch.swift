/// Splits a request body that carries several events (`POST /v1/events`) into one byte range
/// per event, so each event is parsed — and accepted or rejected — on its own.
public enum EventBatch {
    /// A body whose first non-whitespace byte is `[` is a JSON array: one range per top-level
    /// element (whitespace around it excluded). Only the array's own structure is checked —
    /// strings, bracket nesting, commas — so that one malformed element is that element's
    /// rejection, not the whole batch's; a body whose boundaries cannot be found throws
    /// `.invalidJSON`. Any other body is NDJSON: one range per line that is not blank, without
    /// its `\n` or trailing `\r`. An empty array or body gives [].
    public static func split(_ body: UnsafeRawBufferPointer) throws(EventRejection) -> [Range<Int>] {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        let n = body.count
        var i = 0
        if hasBOM(base, n) { i = 3 }
        while i < n && isWhitespace(base[i]) { i += 1 }
        if i == n { return [] }
        if base[i] == UInt8(ascii: "[") { return try splitArray(base, n, from: i + 1) }
        return splitLines(base, n)
    }

    private static func splitLines(_ base: UnsafePointer<UInt8>, _ n: Int) -> [Range<Int>] {
        let bomLength = hasBOM(base, n) ? 3 : 0
        var ranges: [Range<Int>] = []
        var lineStart = 0
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && base[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            var end = lineEnd
            if end > lineStart && base[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            // The BOM stays in the first range (the parser skips it) but is not content.
            let contentStart = lineStart == 0 ? bomLength : lineStart
            if (contentStart..<end).contains(where: { !isWhitespace(base[$0]) }) {
                ranges.append(lineStart..<end)
            }
            lineStart = lineEnd + 1
        }
        return ranges
    }

    /// Elements after the opening `[` at `start`.
    private static func splitArray(_ base: UnsafePointer<UInt8>, _ n: Int,
                                   from start: Int) throws(EventRejection) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var i = start
        while i < n && isWhitespace(base[i]) { i += 1 }
        if i < n && base[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            var closers: [UInt8] = []  // brackets open inside the current element
            while true {
                while i < n && isWhitespace(base[i]) { i += 1 }
                let elementStart = i
                guard i < n, base[i] != UInt8(ascii: ","), base[i] != UInt8(ascii: "]") else {
                    throw failure(i, "expected an array element")
                }
                elementLoop: while i < n {
                    switch base[i] {
                    case UInt8(ascii: "\""):
                        i = try endOfString(base, n, openingQuote: i)
                        continue elementLoop
                    case UInt8(ascii: "{"):
                        closers.append(UInt8(ascii: "}"))
                    case UInt8(ascii: "["):
                        closers.append(UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if closers.isEmpty {
                            if base[i] == UInt8(ascii: "]") { break elementLoop }
                            throw failure(i, "unbalanced '}'")
                        }
                        guard closers.removeLast() == base[i] else { throw failure(i, "mismatched bracket") }
                    case UInt8(ascii: ","):
                        if closers.isEmpty { break elementLoop }
                    default:
                        break
                    }
                    i += 1
                }
                guard i < n else { throw failure(n, "unterminated array") }
                var elementEnd = i
                while elementEnd > elementStart && isWhitespace(base[elementEnd - 1]) { elementEnd -= 1 }
                ranges.append(elementStart..<elementEnd)
                i += 1
                if base[i - 1] == UInt8(ascii: "]") { break }
            }
        }
        while i < n && isWhitespace(base[i]) { i += 1 }
        guard i == n else { throw failure(i, "unexpected data after the array") }
        return ranges
    }

    /// Index just past the closing quote of the string opening at `openingQuote`.
    private static func endOfString(_ base: UnsafePointer<UInt8>, _ n: Int,
                                    openingQuote: Int) throws(EventRejection) -> Int {
        var i = openingQuote + 1
        while i < n {
            switch base[i] {
            case UInt8(ascii: "\""): return i + 1
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        throw failure(openingQuote, "unterminated string")
    }

    /// A leading UTF-8 byte order mark, which JSON readers may ignore (RFC 8259 §8.1).
    private static func hasBOM(_ base: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        n >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF
    }

    @inline(__always)
    private static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    private static func failure(_ offset: Int, _ message: String) -> EventRejection {
        EventRejection(.invalidJSON, "byte \(offset): \(message)")
    }
}
