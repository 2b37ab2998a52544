#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decimal text → Double, correctly rounded: the same value as `strtod` and as
/// `JSONSerialization` gives for a JSON number.
///
/// Fast path (Clinger): with at most 15 mantissa digits the mantissa is exact in a Double,
/// and so is 10^k for k <= 22, so one IEEE multiplication or division rounds once, correctly.
/// Everything else goes to `strtod` on a NUL-terminated copy in a buffer allocated at init, under
/// the "C" locale for this thread only (a process-wide `setlocale` must not turn '.' into ',').
final class DecimalParser {
    private let buffer: UnsafeMutablePointer<CChar>
    private let capacity: Int
    private let cLocale: locale_t?

    /// `maxLength`: the longest text `parse` will be given (the event size limit).
    init(maxLength: Int) {
        capacity = maxLength + 1
        buffer = .allocate(capacity: capacity)
        cLocale = newlocale(LC_NUMERIC_MASK, "C", nil)
    }

    deinit {
        buffer.deallocate()
        if let cLocale { freelocale(cLocale) }
    }

    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Parses `[+-]? digits? ('.' digits?)? ([eE] [+-]? digits)?` with at least one mantissa
    /// digit — every JSON number, plus the looser forms decimal strings use ("+1", "5.", ".5").
    /// nil when the text is not in that grammar (so never NaN; may be ±infinity on overflow).
    func parse(_ text: UnsafeRawBufferPointer) -> Double? {
        guard let start = text.baseAddress?.assumingMemoryBound(to: UInt8.self), text.count > 0 else { return nil }
        let n = text.count
        var i = 0
        var negative = false
        if start[0] == UInt8(ascii: "-") || start[0] == UInt8(ascii: "+") {
            negative = start[0] == UInt8(ascii: "-")
            i = 1
        }
        // Accumulate every mantissa digit; the sum only matters (and is only exact) when there
        // are at most 15 digits, which is what the fast path requires.
        var mantissa: UInt64 = 0
        let integerStart = i
        while i < n, case let d = start[i] &- UInt8(ascii: "0"), d < 10 {
            mantissa = mantissa &* 10 &+ UInt64(d)
            i += 1
        }
        var digits = i - integerStart
        var exponent = 0
        if i < n && start[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, case let d = start[i] &- UInt8(ascii: "0"), d < 10 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                i += 1
            }
            exponent = fractionStart - i
            digits += i - fractionStart
        }
        guard digits > 0 else { return nil }
        if i < n && (start[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var exponentNegative = false
            if i < n && (start[i] == UInt8(ascii: "-") || start[i] == UInt8(ascii: "+")) {
                exponentNegative = start[i] == UInt8(ascii: "-")
                i += 1
            }
            let exponentStart = i
            var written = 0
            while i < n, case let d = start[i] &- UInt8(ascii: "0"), d < 10 {
                if written < 100_000 { written = written * 10 + Int(d) }  // beyond: ±inf or 0 anyway
                i += 1
            }
            guard i > exponentStart else { return nil }
            exponent += exponentNegative ? -written : written
        }
        guard i == n else { return nil }

        if digits <= 15 && exponent >= -22 && exponent <= 22 {
            let m = Double(mantissa)  // exact: below 10^15 < 2^53
            let value = exponent >= 0 ? m * Self.powersOfTen[exponent] : m / Self.powersOfTen[-exponent]
            return negative ? -value : value
        }
        return slowPath(start, n)
    }

    private func slowPath(_ start: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n < capacity else { return nil }
        let raw = UnsafeMutableRawPointer(buffer)
        raw.copyMemory(from: start, byteCount: n)
        buffer[n] = 0
        let previous = cLocale.map { uselocale($0) }
        defer { if let previous { uselocale(previous) } }
        return strtod(buffer, nil)
    }
}
