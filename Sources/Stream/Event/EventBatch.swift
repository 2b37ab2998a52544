#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a request body that carries several events (`POST /v1/events`) into one byte range
/// per event, so each event is parsed — and accepted or rejected — on its own.
public enum EventBatch {
    /// A body whose first non-whitespace byte is `[` is a JSON array: one range per top-level
    /// element (whitespace around it excluded). Element ends are found with `JSONScanner` by
    /// structure alone (strings, bracket nesting, commas), so that one malformed element is that
    /// element's rejection, not the whole batch's; a body whose boundaries cannot be found throws
    /// `.invalidJSON`. Any other body is NDJSON: one range per line that is not blank, without
    /// its `\n` or trailing `\r`. An empty array or body gives [].
    public static func split(_ body: UnsafeRawBufferPointer) throws(EventRejection) -> [Range<Int>] {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        let n = body.count
        var i = 0
        if hasBOM(base, n) { i = 3 }
        while i < n && isWhitespace(base[i]) { i += 1 }
        if i == n { return [] }
        if base[i] == UInt8(ascii: "[") { return try splitArray(body, from: i + 1) }
        return splitLines(base, n)
    }

    private static func splitLines(_ base: UnsafePointer<UInt8>, _ n: Int) -> [Range<Int>] {
        let bomLength = hasBOM(base, n) ? 3 : 0
        var ranges: [Range<Int>] = []
        var lineStart = 0
        while lineStart < n {
            let lineEnd = memchr(base + lineStart, Int32(UInt8(ascii: "\n")), n - lineStart)
                .map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? n
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

    /// Elements after the opening `[` at `start - 1`.
    private static func splitArray(_ body: UnsafeRawBufferPointer, from start: Int) throws(EventRejection) -> [Range<Int>] {
        let base = body.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let n = body.count
        var ranges: [Range<Int>] = []
        var i = start
        while i < n && isWhitespace(base[i]) { i += 1 }
        if i < n && base[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            var closers: [UInt8] = []  // reused by every element
            while true {
                while i < n && isWhitespace(base[i]) { i += 1 }
                let elementStart = i
                guard i < n, base[i] != UInt8(ascii: ","), base[i] != UInt8(ascii: "]") else {
                    throw failure(i, "expected an array element")
                }
                do {
                    i = try JSONScanner.arrayElementEnd(in: body, from: i, closers: &closers)
                } catch {
                    throw failure(error.offset, "\(error.message)")
                }
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
