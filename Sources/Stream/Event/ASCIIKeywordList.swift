/// A short list of words matched against raw bytes ignoring ASCII case ("usd" is "USD",
/// "Credit" is "credit"), without creating Strings.
struct ASCIIKeywordList {
    private let bytes: [UInt8]    // all words, lowercased, back to back
    private let bounds: [Int]     // word i is bytes[bounds[i]..<bounds[i + 1]]

    init(_ words: [String]) {
        var bytes: [UInt8] = []
        var bounds = [0]
        for word in words {
            bytes += word.utf8.map(Self.lowercased)
            bounds.append(bytes.count)
        }
        self.bytes = bytes
        self.bounds = bounds
    }

    var isEmpty: Bool { bounds.count == 1 }

    /// Index of the first word equal to `text` ignoring ASCII case, or nil.
    func firstIndex(of text: UnsafeRawBufferPointer) -> Int? {
        for i in 0..<bounds.count - 1 {
            let start = bounds[i]
            guard bounds[i + 1] - start == text.count else { continue }
            var j = 0
            while j < text.count && Self.lowercased(text[j]) == bytes[start + j] { j += 1 }
            if j == text.count { return i }
        }
        return nil
    }

    @inline(__always)
    private static func lowercased(_ b: UInt8) -> UInt8 {
        b &- UInt8(ascii: "A") < 26 ? b | 0x20 : b
    }
}
