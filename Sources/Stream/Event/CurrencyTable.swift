/// The accepted currencies as the parser sees them: matched ignoring ASCII case ("eur" is EUR),
/// each with the `currency` label value it gives a series (its upper-case code, or the base
/// currency's when a conversion rate is configured for it) and the factor into that currency.
///
/// The label bytes live in memory this table allocates once and owns, so a label view stays
/// valid for as long as the parser that holds the table; resolving a currency allocates nothing.
final class CurrencyTable {
    struct Entry {
        /// Position in the configured list; -1 when the list is empty (any code accepted).
        var index: Int
        /// The `currency` label value: canonical upper-case, or empty when no currency is known.
        var label: UnsafeRawBufferPointer
        /// Multiplies the amount into the label's currency; 1 when not converted.
        var rate: Double
    }

    private let keywords: ASCIIKeywordList
    private let codes: [String]
    private let bytes: UnsafeMutableRawBufferPointer
    private let entries: UnsafeMutablePointer<Entry>
    private let anyCode: UnsafeMutableRawBufferPointer
    /// The raw bytes of the last three-byte code found (0: none) and its entry: a feed names the
    /// same currency, written the same way, event after event. The table belongs to one parser,
    /// so to one thread. Saves ≈ 80 instructions per event over the case-insensitive search.
    private let lastCode: UnsafeMutablePointer<(key: UInt32, index: Int)>

    /// `rates`: code → factor into `codes[0]` (validated by the config: listed, not the base,
    /// finite and positive). An empty `codes` accepts any three-letter code unconverted.
    init(codes: [String], rates: [String: Double] = [:]) {
        let upper = codes.map { String(decoding: $0.utf8.map(Self.uppercased), as: UTF8.self) }
        self.codes = upper
        keywords = ASCIIKeywordList(upper)
        let total = upper.reduce(0) { $0 + $1.utf8.count }
        bytes = .allocate(byteCount: max(total, 1), alignment: 1)
        anyCode = .allocate(byteCount: 3, alignment: 1)
        anyCode.initializeMemory(as: UInt8.self, repeating: 0)
        entries = .allocate(capacity: max(upper.count, 1))
        lastCode = .allocate(capacity: 1)
        lastCode.initialize(to: (0, 0))
        var offset = 0
        var labels: [UnsafeRawBufferPointer] = []
        for code in upper {
            let n = code.utf8.count
            UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + n]).copyBytes(from: code.utf8)
            labels.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            offset += n
        }
        for (i, code) in upper.enumerated() {
            let rate = i == 0 ? nil : rates[code]
            precondition(rate.map { $0.isFinite && $0 > 0 } ?? true, "conversion rate of \(code) must be finite and positive")
            (entries + i).initialize(to: Entry(index: i, label: labels[rate == nil ? i : 0], rate: rate ?? 1))
        }
        if upper.isEmpty {
            entries.initialize(to: Entry(index: -1, label: UnsafeRawBufferPointer(start: nil, count: 0), rate: 1))
        }
    }

    deinit {
        entries.deinitialize(count: max(codes.count, 1))
        entries.deallocate()
        bytes.deallocate()
        anyCode.deallocate()
        lastCode.deallocate()
    }

    /// The currency of an event that names none: the first configured one.
    @inline(__always)
    var fallback: Entry { entries.pointee }

    /// The entry for a currency code, or nil when it is not accepted (including "").
    @inline(__always)
    func lookup(_ text: UnsafeRawBufferPointer) -> Entry? {
        if codes.isEmpty {
            guard text.count == 3 else { return nil }
            for i in 0..<3 {
                let u = Self.uppercased(text[i])
                guard u &- UInt8(ascii: "A") < 26 else { return nil }
                anyCode[i] = u
            }
            return Entry(index: -1, label: UnsafeRawBufferPointer(anyCode), rate: 1)
        }
        // Bit 24 marks a three-byte code, so 0 is "none".
        let key = text.count == 3 ? UInt32(text[0]) | UInt32(text[1]) << 8 | UInt32(text[2]) << 16 | 1 << 24 : 0
        if key != 0 && key == lastCode.pointee.key { return entries[lastCode.pointee.index] }
        guard let i = keywords.firstIndex(of: text) else { return nil }
        if key != 0 { lastCode.pointee = (key, i) }
        return entries[i]
    }

    @inline(__always)
    private static func uppercased(_ b: UInt8) -> UInt8 {
        b &- UInt8(ascii: "a") < 26 ? b & ~0x20 : b
    }
}
