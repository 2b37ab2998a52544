import CByteScan

/// A one-pass byte-level JSON reader: validates a whole JSON text against RFC 8259 and, on the
/// way, records the values found at the key paths of an `EventFieldPlan`. Everything else is
/// validated and skipped without being materialised.
///
/// Strictness: the number grammar is exact (no leading zeros, `1.`, `.5`, `+1`, NaN/Infinity);
/// strings must be well-formed UTF-8 without raw control characters (U+0000–U+001F), escapes
/// are the eight single-character ones and `\uXXXX`, a surrogate escape must form a pair; no
/// trailing commas; nesting is limited to `maxDepth`; only whitespace may follow the value. A
/// leading UTF-8 byte order mark is ignored (RFC 8259 §8.1 allows that; JSONSerialization does
/// the same).
///
/// Duplicate keys: the later member wins, as in Foundation's `JSONSerialization` on Linux, which
/// builds its dictionary by assigning member after member (`{"a":1,"a":2}` gives `["a": 2]`, and
/// `{"m":{"x":1},"m":{"y":2}}` gives `["m": ["y": 2]]` — the earlier object is gone entirely).
/// Checked with swift-corelibs-foundation of Swift 6.3.1; the conformance test pins it.
///
/// Memory: a string without escapes is returned as a slice of the input. A string with escapes
/// is decoded into `scratch`, which the caller allocates once with at least as many bytes as
/// the input (a decoded string is never longer than its escaped form, so all of them fit).
/// Nothing is allocated while scanning.
struct JSONScanner {
    static let maxDepth = 64

    enum Kind: UInt8 {
        case absent, string, number, trueLiteral, falseLiteral, null, object, array
    }

    /// A recorded value. For strings the decoded bytes; for numbers and literals the literal
    /// text in the input; for objects and arrays only the kind.
    struct Value {
        var kind: Kind
        var start: UnsafePointer<UInt8>?
        var count: Int

        static var absent: Value { Value(kind: .absent, start: nil, count: 0) }

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }
    }

    /// Where and why the text is not JSON. A StaticString, so the failure path allocates only
    /// when the caller formats it.
    struct SyntaxError: Error {
        var offset: Int
        var message: StaticString
    }

    private let base: UnsafePointer<UInt8>
    private let end: Int
    private var pos = 0
    private var depth = 0
    private let scratch: UnsafeMutablePointer<UInt8>
    private var scratchUsed = 0
    private let nodes: UnsafePointer<EventFieldPlan.Node>
    private let edges: UnsafePointer<EventFieldPlan.Edge>
    private let keyBytes: UnsafePointer<UInt8>
    private let table: UnsafePointer<Int32>
    private let values: UnsafeMutablePointer<Value>
    private let predictions: UnsafeMutablePointer<Int32>?

    /// Wanted keys remembered per plan node, by member position: `predictedMembers` per node.
    static let predictedMembers = 16

    /// `values` must hold `plan.leafCount` entries, all `.absent`; `scratch` at least
    /// `input.count` bytes. `predictions`, if given, holds `plan.nodes.count * predictedMembers`
    /// entries, -1 at first, and is kept from one scan to the next (see `scanObject`). All belong
    /// to the caller and outlive the scan.
    init(input: UnsafeRawBufferPointer, plan: EventFieldPlan,
         values: UnsafeMutablePointer<Value>, scratch: UnsafeMutablePointer<UInt8>,
         predictions: UnsafeMutablePointer<Int32>? = nil) {
        self.predictions = predictions
        // An empty buffer may have no address; any valid pointer will do as nothing is read.
        base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(scratch)
        end = input.count
        self.scratch = scratch
        nodes = UnsafePointer(plan.nodes.baseAddress!)
        edges = UnsafePointer(plan.edges.baseAddress!)
        keyBytes = UnsafePointer(plan.keyBytes.baseAddress!)
        table = UnsafePointer(plan.table.baseAddress!)
        self.values = values
    }

    /// Scans the whole text; returns the kind of the top-level value.
    mutating func scanDocument() throws(SyntaxError) -> Kind {
        if end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }
        skipWhitespace()
        guard pos < end else { throw SyntaxError(offset: pos, message: "empty input") }
        let kind: Kind
        if base[pos] == UInt8(ascii: "{") {
            pos += 1
            try scanObject(node: EventFieldPlan.root)
            kind = .object
        } else {
            kind = try skipValue()
        }
        skipWhitespace()
        guard pos == end else { throw SyntaxError(offset: pos, message: "unexpected data after the JSON value") }
        return kind
    }

    // MARK: - Containers

    /// Object members after the `{`. `node` is the plan node of this object, or -1 when
    /// nothing inside it is wanted.
    private mutating func scanObject(node: Int32) throws(SyntaxError) {
        try enterContainer()
        // The structural bytes are read through locals (`p`), synced with `pos` around calls:
        // `pos` itself lives in memory, and every store through `values` would reload it.
        let base = self.base, end = self.end
        var p = Self.skipWhitespace(base, pos, end)
        if p < end && base[p] == UInt8(ascii: "}") {
            pos = p + 1
            depth -= 1
            return
        }
        var member = 0
        while true {
            guard p < end, base[p] == UInt8(ascii: "\"") else {
                throw SyntaxError(offset: p, message: "expected a string key")
            }
            if let after = try compactMember(at: p, node: node, member: member) {
                member &+= 1
                p = Self.skipWhitespace(base, after, end)
            } else {
                p = try generalMember(at: p, node: node, member: &member)
            }
            guard p < end else { throw SyntaxError(offset: p, message: "unterminated object") }
            let c = base[p]
            if c == UInt8(ascii: ",") {
                p = Self.skipWhitespace(base, p + 1, end)
                if p < end && base[p] == UInt8(ascii: "}") {
                    throw SyntaxError(offset: p, message: "trailing comma in an object")
                }
                continue
            }
            if c == UInt8(ascii: "}") { break }
            throw SyntaxError(offset: p, message: "expected ',' or '}' in an object")
        }
        pos = p + 1
        depth -= 1
    }

    /// One member in compact form, `"key":value` without whitespace, whose key is the one
    /// predicted at this position (in an object nothing is wanted from: any plain key) and whose
    /// value is a plain string (printable ASCII, no escapes) or a number: the usual shape of a
    /// feed's events, read without the general path's key lookup, whitespace loops and value
    /// dispatch. `p` is the key's opening quote. Returns the index just past the value; nil
    /// when the member is anything else, with nothing consumed or recorded, and the general path
    /// reads it. A number it refuses throws the error the general path would, at the same offset.
    @inline(__always)
    private mutating func compactMember(at p: Int, node: Int32, member: Int) throws(SyntaxError) -> Int? {
        let base = self.base, end = self.end
        var q: Int
        var leaf: Int32 = -1
        if node >= 0 {
            guard let predictions, member < Self.predictedMembers else { return nil }
            let e = predictions[Int(node) &* Self.predictedMembers &+ member]
            guard e >= 0, edges[Int(e)].node < 0, let after = matchKey(edge: e, at: p &+ 1) else { return nil }
            leaf = edges[Int(e)].leaf
            q = after
        } else {
            guard let close = Self.plainStringEnd(base, from: p &+ 1, end: end) else { return nil }
            q = close &+ 1
        }
        guard end &- q >= 2, base[q] == UInt8(ascii: ":") else { return nil }
        q &+= 1
        let value: Value
        let c = base[q]
        if c == UInt8(ascii: "\"") {
            guard let close = Self.plainStringEnd(base, from: q &+ 1, end: end) else { return nil }
            value = Value(kind: .string, start: base + (q &+ 1), count: close &- q &- 1)
            q = close &+ 1
        } else if c == UInt8(ascii: "-") || isDigit(c) {
            pos = q
            try scanNumber()
            value = Value(kind: .number, start: base + q, count: pos &- q)
            q = pos
        } else {
            return nil
        }
        if leaf >= 0 { values[Int(leaf)] = value }
        return q
    }

    /// The index of the closing quote of a string of printable ASCII without escapes whose
    /// content starts at `start`; nil at the first other byte (escape, control, non-ASCII) or
    /// at the end of the input.
    @inline(__always)
    static func plainStringEnd(_ base: UnsafePointer<UInt8>, from start: Int, end: Int) -> Int? {
        var p = plainRunEnd(base, from: start, end: end)
        while p < end {
            let b = base[p]
            if b == UInt8(ascii: "\"") { return p }
            guard b &- 0x20 < 0x60, b != UInt8(ascii: "\\") else { return nil }
            p &+= 1
        }
        return nil
    }

    /// Any member, at `p` (the key's opening quote); returns the first index after its value
    /// that is not whitespace.
    private mutating func generalMember(at p: Int, node: Int32, member: inout Int) throws(SyntaxError) -> Int {
        let base = self.base, end = self.end
        var p = p
        pos = p + 1
        var edge: Int32 = -1
        if node >= 0 {
            // Events of one feed list their keys in one order: the wanted key found at this
            // member position last time is tried first, by comparing the raw bytes (a plain
            // key followed by the closing quote is that key, escapes and all validation
            // included); on a miss, the key is read and looked up, and remembered.
            let prediction = predictions.map { $0 + Int(node) * Self.predictedMembers + member }
            if let prediction, member < Self.predictedMembers, case let e = prediction.pointee, e >= 0,
               let after = matchKey(edge: e, at: p + 1) {
                edge = e
                pos = after
            } else {
                // Decoded keys stay uncommitted in scratch: only needed for the lookup.
                let key = try scanString(decode: true)
                edge = findEdge(node: node, key: key.start!, count: key.count)
                if let prediction, member < Self.predictedMembers {
                    prediction.pointee = edge >= 0 && edges[Int(edge)].plainKey ? edge : -1
                }
            }
            member &+= 1
        } else {
            _ = try scanString(decode: false)
        }
        p = Self.skipWhitespace(base, pos, end)
        guard p < end, base[p] == UInt8(ascii: ":") else {
            throw SyntaxError(offset: p, message: "expected ':' after an object key")
        }
        pos = Self.skipWhitespace(base, p + 1, end)
        if edge >= 0 {
            try scanMember(edge: edge)
        } else {
            _ = try skipValue()
        }
        return Self.skipWhitespace(base, pos, end)
    }

    /// The value of a wanted key. The later of duplicate keys wins, so whatever an earlier one
    /// recorded at or below this key is forgotten first.
    @inline(__always)
    private mutating func scanMember(edge index: Int32) throws(SyntaxError) {
        let edge = edges[Int(index)]
        for leaf in Int(edge.clearLower)..<Int(edge.clearUpper) { values[leaf] = .absent }
        guard pos < end else { throw SyntaxError(offset: pos, message: "expected a value") }
        if base[pos] == UInt8(ascii: "{") && edge.node >= 0 {
            if edge.leaf >= 0 { values[Int(edge.leaf)] = Value(kind: .object, start: nil, count: 0) }
            pos += 1
            try scanObject(node: edge.node)
        } else if edge.leaf >= 0 {
            values[Int(edge.leaf)] = try scanValue()
        } else {
            _ = try skipValue()
        }
    }

    private mutating func skipArray() throws(SyntaxError) {
        try enterContainer()
        skipWhitespace()
        if pos < end && base[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return
        }
        while true {
            _ = try skipValue()
            skipWhitespace()
            guard pos < end else { throw SyntaxError(offset: pos, message: "unterminated array") }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") {
                skipWhitespace()
                if pos < end && base[pos] == UInt8(ascii: "]") {
                    throw SyntaxError(offset: pos, message: "trailing comma in an array")
                }
                continue
            }
            if c == UInt8(ascii: "]") { break }
            throw SyntaxError(offset: pos - 1, message: "expected ',' or ']' in an array")
        }
        depth -= 1
    }

    @inline(__always)
    private mutating func enterContainer() throws(SyntaxError) {
        depth += 1
        if depth > Self.maxDepth {
            throw SyntaxError(offset: pos - 1, message: "nested deeper than 64 levels")
        }
    }

    // MARK: - Values

    /// A value that is recorded: strings decoded (and kept in scratch), scalars as their text.
    @inline(__always)
    private mutating func scanValue() throws(SyntaxError) -> Value {
        let start = pos
        if base[pos] == UInt8(ascii: "\"") {
            pos += 1
            let content = base + pos
            let s = try scanString(decode: true)
            if s.start != content { scratchUsed += s.count }  // decoded: keep it
            return s
        }
        let kind = try skipValue()
        return Value(kind: kind, start: base + start, count: pos - start)
    }

    /// Validates one value of any kind and steps over it.
    private mutating func skipValue() throws(SyntaxError) -> Kind {
        guard pos < end else { throw SyntaxError(offset: pos, message: "expected a value") }
        switch base[pos] {
        case UInt8(ascii: "\""):
            pos += 1
            _ = try scanString(decode: false)
            return .string
        case UInt8(ascii: "{"):
            pos += 1
            try scanObject(node: -1)
            return .object
        case UInt8(ascii: "["):
            pos += 1
            try skipArray()
            return .array
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return .number
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return .trueLiteral
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return .falseLiteral
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return .null
        default:
            throw SyntaxError(offset: pos, message: "expected a value")
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) throws(SyntaxError) {
        let n = literal.utf8CodeUnitCount
        guard end - pos >= n else { throw SyntaxError(offset: pos, message: "invalid literal") }
        let text = literal.utf8Start
        for i in 0..<n where base[pos + i] != text[i] {
            throw SyntaxError(offset: pos + i, message: "invalid literal")
        }
        pos += n
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    @inline(__always)
    private mutating func scanNumber() throws(SyntaxError) {
        pos = try Self.numberEnd(base, from: pos, end: end)
    }

    /// Just past the number starting at `from` (a `-` or a digit).
    static func numberEnd(_ base: UnsafePointer<UInt8>, from: Int, end: Int) throws(SyntaxError) -> Int {
        var p = from
        if base[p] == UInt8(ascii: "-") { p &+= 1 }
        guard p < end, isDigit(base[p]) else {
            throw SyntaxError(offset: p, message: "invalid number: expected a digit")
        }
        if base[p] == UInt8(ascii: "0") {
            p &+= 1
            if p < end && isDigit(base[p]) {
                throw SyntaxError(offset: p, message: "invalid number: leading zero")
            }
        } else {
            p = digitsEnd(base, from: p, end: end)
        }
        if p < end && base[p] == UInt8(ascii: ".") {
            p &+= 1
            guard p < end, isDigit(base[p]) else {
                throw SyntaxError(offset: p, message: "invalid number: expected a digit after '.'")
            }
            p = digitsEnd(base, from: p, end: end)
        }
        if p < end && (base[p] | 0x20) == UInt8(ascii: "e") {
            p &+= 1
            if p < end && (base[p] == UInt8(ascii: "+") || base[p] == UInt8(ascii: "-")) { p &+= 1 }
            guard p < end, isDigit(base[p]) else {
                throw SyntaxError(offset: p, message: "invalid number: expected a digit in the exponent")
            }
            p = digitsEnd(base, from: p, end: end)
        }
        return p
    }

    @inline(__always)
    private static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    private func isDigit(_ b: UInt8) -> Bool { Self.isDigit(b) }

    @inline(__always)
    private static func digitsEnd(_ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        var p = from
        while p < end && isDigit(base[p]) { p &+= 1 }
        return p
    }

    /// The first index from `from` on that is not JSON whitespace (space, tab, LF, CR).
    @inline(__always)
    private static func skipWhitespace(_ base: UnsafePointer<UInt8>, _ from: Int, _ end: Int) -> Int {
        var p = from
        while p < end {
            let b = base[p]
            if b > 0x20 { return p }  // fast exit: all whitespace bytes are <= 0x20
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return p }
            p += 1
        }
        return p
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        pos = Self.skipWhitespace(base, pos, end)
    }

    // MARK: - Strings

    /// The string after its opening quote. With `decode`, returns its content: a slice of the
    /// input when it has no escapes, else bytes decoded into scratch at `scratchUsed` (not
    /// committed; `scanValue` commits).
    ///
    /// Inlined fast path: printable ASCII up to the closing quote, 16 or 8 bytes at a time.
    /// Anything else (escapes, non-ASCII, the last few bytes of the input) takes `scanStringSlow`.
    @inline(__always)
    private mutating func scanString(decode: Bool) throws(SyntaxError) -> Value {
        let base = self.base  // locals, not `self.…`: the loop then runs in registers
        let start = pos
        let p = Self.plainRunEnd(base, from: start, end: end)
        if p < end && base[p] == UInt8(ascii: "\"") {
            pos = p + 1
            return Value(kind: .string, start: base + start, count: p - start)
        }
        return try scanStringSlow(from: start, at: p, decode: decode)
    }

    /// The first byte from `from` on that ends a plain string (`specialBytes`: a quote, a
    /// backslash, a control or non-ASCII byte), 16 bytes at a time (SSE2), then 8; where fewer
    /// than 8 bytes remain without one, the index after the last whole step.
    @inline(__always)
    static func plainRunEnd(_ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        var p = from
        while end &- p >= 16 {
            let special = cbytescan_string_specials16(base + p)
            if special != 0 { return p &+ special.trailingZeroBitCount }
            p &+= 16
        }
        while end &- p >= 8 {
            let special = specialBytes(UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)))
            if special != 0 { return p &+ special.trailingZeroBitCount >> 3 }
            p &+= 8
        }
        return p
    }

    /// `scanString` from `p` on, one byte at a time; `start` is where the content began.
    private mutating func scanStringSlow(from start: Int, at p: Int, decode: Bool) throws(SyntaxError) -> Value {
        let base = self.base, end = self.end
        var p = p
        while true {
            while p < end, case let b = base[p], b &- 0x20 < 0x60, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\") {
                p += 1
            }
            pos = p
            guard p < end else { throw SyntaxError(offset: start - 1, message: "unterminated string") }
            let b = base[p]
            if b == UInt8(ascii: "\"") {
                pos = p + 1
                return Value(kind: .string, start: base + start, count: p - start)
            }
            if b == UInt8(ascii: "\\") { return try scanEscapedString(from: start, decode: decode) }
            if b < 0x20 { throw SyntaxError(offset: p, message: "control character in string") }
            p += try Self.utf8SequenceLength(base, at: p, end: end)
        }
    }

    /// The high bit of each byte of `w` that is < 0x20, >= 0x80, `"` or `\\`. The lowest set
    /// bit is exact (the "has zero byte" trick can only add false hits above a true one), so
    /// its position is the first such byte.
    @inline(__always)
    private static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let below20 = w &- ones &* 0x20
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return ((below20 | zeroQuote | zeroBackslash) & ~w | w) & highs
    }

    /// The slow path from the first backslash on. `start` is where the content began.
    private mutating func scanEscapedString(from start: Int, decode: Bool) throws(SyntaxError) -> Value {
        let out = scratch + scratchUsed
        var n = 0
        if decode {
            out.update(from: base + start, count: pos - start)
            n = pos - start
        }
        while true {
            guard pos < end else { throw SyntaxError(offset: start - 1, message: "unterminated string") }
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return Value(kind: .string, start: UnsafePointer(out), count: n)
            }
            if b == UInt8(ascii: "\\") {
                let scalar = try scanEscape()
                if decode { n += Self.encodeUTF8(scalar, into: out + n) }
            } else if b < 0x20 {
                throw SyntaxError(offset: pos, message: "control character in string")
            } else if b < 0x80 {
                if decode { out[n] = b; n += 1 }
                pos += 1
            } else {
                let length = try Self.utf8SequenceLength(base, at: pos, end: end)
                if decode {
                    (out + n).update(from: base + pos, count: length)
                    n += length
                }
                pos += length
            }
        }
    }

    /// One escape at `pos` (the backslash); returns the Unicode scalar value.
    private mutating func scanEscape() throws(SyntaxError) -> UInt32 {
        let at = pos
        guard end - pos >= 2 else { throw SyntaxError(offset: at, message: "unterminated escape") }
        let c = base[pos + 1]
        pos += 2
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return UInt32(c)
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "u"):
            let unit = try hex4()
            switch unit {
            case 0xD800...0xDBFF:
                guard end - pos >= 6, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") else {
                    throw SyntaxError(offset: at, message: "high surrogate escape without a low surrogate")
                }
                pos += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw SyntaxError(offset: at, message: "high surrogate escape without a low surrogate")
                }
                return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw SyntaxError(offset: at, message: "low surrogate escape without a high surrogate")
            default:
                return unit
            }
        default:
            throw SyntaxError(offset: at, message: "invalid escape")
        }
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        guard end - pos >= 4 else { throw SyntaxError(offset: pos, message: "truncated \\u escape") }
        var value: UInt32 = 0
        for i in 0..<4 {
            let b = base[pos + i]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw SyntaxError(offset: pos + i, message: "invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        pos += 4
        return value
    }

    private static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case ..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case ..<0x800:
            out[0] = UInt8(0xC0 | scalar >> 6)
            out[1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case ..<0x10000:
            out[0] = UInt8(0xE0 | scalar >> 12)
            out[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            out[0] = UInt8(0xF0 | scalar >> 18)
            out[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }

    /// Length of the well-formed UTF-8 sequence at `pos` (a byte >= 0x80), per the Unicode
    /// table of well-formed sequences: no overlongs, no surrogates, nothing above U+10FFFF.
    private static func utf8SequenceLength(_ base: UnsafePointer<UInt8>, at pos: Int,
                                           end: Int) throws(SyntaxError) -> Int {
        let b0 = base[pos]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // allowed range of the second byte
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw SyntaxError(offset: pos, message: "invalid UTF-8")
        }
        guard end - pos >= length else { throw SyntaxError(offset: pos, message: "invalid UTF-8") }
        let b1 = base[pos + 1]
        guard b1 >= low && b1 <= high else { throw SyntaxError(offset: pos, message: "invalid UTF-8") }
        for i in 2..<max(length, 2) where base[pos + i] & 0xC0 != 0x80 {
            throw SyntaxError(offset: pos, message: "invalid UTF-8")
        }
        return length
    }

    // MARK: - Plan lookup

    /// Inlined: as a non-mutating call it would copy the whole scanner.
    @inline(__always)
    private func findEdge(node: Int32, key: UnsafePointer<UInt8>, count: Int) -> Int32 {
        let n = nodes[Int(node)]
        let mask = Int(n.tableMask)
        var slot = EventFieldPlan.hash(key, count) & mask
        while true {
            let e = table[Int(n.tableStart) + slot]
            if e < 0 { return -1 }
            let edge = edges[Int(e)]
            if Int(edge.keyCount) == count && ByteEquality.equal(keyBytes + Int(edge.keyStart), key, count) { return e }
            slot = (slot + 1) & mask
        }
    }

    /// Just past the closing quote when the input at `at` is edge `e`'s key (plain: no quote,
    /// backslash or control byte) followed by `"`; nil otherwise.
    @inline(__always)
    private func matchKey(edge e: Int32, at: Int) -> Int? {
        let edge = edges[Int(e)]
        let count = Int(edge.keyCount)
        guard end - at > count, base[at + count] == UInt8(ascii: "\""),
              ByteEquality.equal(keyBytes + Int(edge.keyStart), base + at, count) else { return nil }
        return at + count + 1
    }
}

// MARK: - Without a plan: boundaries of values

extension JSONScanner {
    /// A scanner that records nothing (no wanted keys, no decoding): for finding where values
    /// end. Its plan has no leaves and nothing is decoded, so `values` and `scratch` are never
    /// touched; they point at a static dummy.
    init(structureOf input: UnsafeRawBufferPointer) {
        self.init(input: input, plan: EventFieldPlan.empty, values: Self.unused, scratch: Self.unusedBytes)
    }

    nonisolated(unsafe) private static let unused: UnsafeMutablePointer<Value> = {
        let p = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        p.initialize(to: .absent)
        return p
    }()
    nonisolated(unsafe) private static let unusedBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    /// The index of the `,` or `]` that ends the array element starting at `from`, found by
    /// structure alone — strings and the nesting of brackets — so that the boundaries of a
    /// malformed element (`{bad json}`, `tru`, `{"a" 1}`) are still found and the element can be
    /// rejected on its own (`EventBatch`). Strings are stepped over by the validating string
    /// scanner; one it refuses (bad UTF-8, a raw control character, a bad escape) ends at its
    /// first unescaped quote. Throws only where the end cannot be found: an unterminated string,
    /// a closing bracket that does not match, the end of the input. `closers` is the caller's
    /// reusable stack of open brackets (deep nesting is the parser's to refuse, not this scan's).
    static func arrayElementEnd(in input: UnsafeRawBufferPointer, from: Int,
                                closers: inout [UInt8]) throws(SyntaxError) -> Int {
        var scanner = JSONScanner(structureOf: input)
        scanner.pos = from
        try scanner.skipElementStructure(&closers)
        return scanner.pos
    }

    private mutating func skipElementStructure(_ closers: inout [UInt8]) throws(SyntaxError) {
        closers.removeAll(keepingCapacity: true)
        while pos < end {
            let c = base[pos]
            switch c {
            case UInt8(ascii: "\""):
                let quote = pos
                pos += 1
                do {
                    _ = try scanString(decode: false)
                } catch {
                    pos = try Self.rawStringEnd(base, openingQuote: quote, end: end)
                }
                continue
            case UInt8(ascii: "{"):
                closers.append(UInt8(ascii: "}"))
            case UInt8(ascii: "["):
                closers.append(UInt8(ascii: "]"))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard let open = closers.popLast() else {
                    if c == UInt8(ascii: "]") { return }
                    throw SyntaxError(offset: pos, message: "unbalanced '}'")
                }
                guard open == c else { throw SyntaxError(offset: pos, message: "mismatched bracket") }
            case UInt8(ascii: ","):
                if closers.isEmpty { return }
            default:
                break
            }
            pos += 1
        }
        throw SyntaxError(offset: end, message: "unterminated array")
    }

    /// Just past the first unescaped quote after `openingQuote`.
    private static func rawStringEnd(_ base: UnsafePointer<UInt8>, openingQuote: Int, end: Int) throws(SyntaxError) -> Int {
        var i = openingQuote + 1
        while i < end {
            switch base[i] {
            case UInt8(ascii: "\""): return i + 1
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        throw SyntaxError(offset: openingQuote, message: "unterminated string")
    }
}
