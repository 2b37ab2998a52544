/// Finds a few top-level members of a JSON object with the event parser's own scanner: the
/// same validation (the whole text must be JSON) and the same rule for duplicate keys (the later
/// member wins), without copying or re-encoding the text. For tools that pass a line on as it
/// is, e.g. `ingestd produce` (the message key, the time field it moves).
public final class JSONMemberFinder {
    public enum Kind: Sendable, Equatable { case string, number, boolean, null, object, array }

    public struct Member {
        public var kind: Kind
        /// The value's text in the input, quotes included; nil for a string with escapes (its
        /// text is not needed: `content` is decoded).
        public var range: Range<Int>?
        /// A string's decoded content; a number's, boolean's or null's literal text; empty for
        /// objects and arrays. Valid until the next `find` and while the input is alive.
        public var content: UnsafeRawBufferPointer
    }

    private let plan: EventFieldPlan
    private let leaves: [Int32]
    private let values: UnsafeMutablePointer<JSONScanner.Value>
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchCapacity = 0

    /// `names`: top-level keys, in the order `find` answers.
    public init(names: [String]) {
        let plan = EventFieldPlan(paths: names.map { [$0] })
        self.plan = plan
        leaves = names.indices.map { plan.leaf(ofPath: $0) }
        values = .allocate(capacity: max(plan.leafCount, 1))
        values.initialize(repeating: .absent, count: max(plan.leafCount, 1))
        scratch = .allocate(capacity: 1)
    }

    deinit {
        values.deinitialize(count: max(plan.leafCount, 1))
        values.deallocate()
        scratch.deallocate()
    }

    /// One entry per name (nil where the object has no such member), or nil when the text is
    /// not a JSON object.
    public func find(_ text: UnsafeRawBufferPointer) -> [Member?]? {
        if scratchCapacity < text.count {  // decoded strings fit in the input's length
            scratch.deallocate()
            scratchCapacity = text.count
            scratch = .allocate(capacity: scratchCapacity)
        }
        values.update(repeating: .absent, count: max(plan.leafCount, 1))
        var scanner = JSONScanner(input: text, plan: plan, values: values, scratch: scratch)
        guard (try? scanner.scanDocument()) == .object, let base = text.baseAddress else { return nil }
        return leaves.map { leaf -> Member? in
            let value = values[Int(leaf)]
            let content = value.bytes
            var range: Range<Int>?
            if let start = value.start, case let offset = UnsafeRawPointer(start) - base, offset >= 0, offset < text.count {
                // A slice of the input: a literal, or a string without escapes (then within quotes).
                range = value.kind == .string ? offset - 1..<offset + value.count + 1 : offset..<offset + value.count
            }
            switch value.kind {
            case .absent: return nil
            case .string: return Member(kind: .string, range: range, content: content)
            case .number: return Member(kind: .number, range: range, content: content)
            case .trueLiteral, .falseLiteral: return Member(kind: .boolean, range: range, content: content)
            case .null: return Member(kind: .null, range: range, content: content)
            case .object: return Member(kind: .object, range: nil, content: UnsafeRawBufferPointer(start: nil, count: 0))
            case .array: return Member(kind: .array, range: nil, content: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }
}
