/// The key paths one event format reads, compiled at init into a flat trie that `JSONScanner`
/// walks without allocating: a node is an object on a wanted path, an edge is one key of it.
///
/// Every distinct path that ends at a wanted field is a "leaf" with a slot in the scanner's
/// value table; several fields may share a leaf (a mapping may point two fields at one key).
/// Leaves are numbered depth-first, so the leaves under an edge are one contiguous range: when a
/// duplicate key repeats that edge, the scanner clears the range (the later member wins).
/// Immutable after init (hence `@unchecked Sendable`: `empty` is shared).
final class EventFieldPlan: @unchecked Sendable {
    struct Node {
        var firstEdge: Int32
        var edgeCount: Int32
        /// This node's open-addressing table of edge indices (-1 = empty) in `table`:
        /// `tableMask + 1` entries from `tableStart`, at least twice the edge count.
        var tableStart: Int32
        var tableMask: Int32
    }

    struct Edge {
        var keyStart: Int32
        var keyCount: Int32
        /// Slot of the value at this key, or -1 when only keys below it are wanted.
        var leaf: Int32
        /// Node of the object at this key, or -1 when nothing below it is wanted.
        var node: Int32
        /// Leaves at and below this key: [clearLower, clearUpper).
        var clearLower: Int32
        var clearUpper: Int32
        /// The key has no `"`, `\` or control byte: where the input holds these bytes followed
        /// by `"`, it holds this key (the scanner's key prediction relies on it).
        var plainKey: Bool
    }

    static let root: Int32 = 0

    let nodes: UnsafeMutableBufferPointer<Node>
    let edges: UnsafeMutableBufferPointer<Edge>
    let keyBytes: UnsafeMutableBufferPointer<UInt8>
    let table: UnsafeMutableBufferPointer<Int32>
    let leafCount: Int
    /// Leaf of each field by `EventField.index`, -1 when the format lacks the field.
    private let leafOfField: [Int32]
    /// The dotted path of each field by `EventField.index`, for rejection details.
    private let names: [String]

    /// A plan that wants nothing: the scanner then only validates and finds where values end.
    static let empty = EventFieldPlan(paths: [])

    convenience init(format: EventFormat, tagKeys: [String]) {
        let fields = EventField.all(tagCount: tagKeys.count)
        self.init(paths: fields.map { format.path(of: $0, tagKeys: tagKeys) })
    }

    /// Key paths by field index (`EventField.index` for event formats); nil = not read.
    init(paths: [[String]?]) {
        var tree = TrieBuilder()
        for case let path? in paths { tree.insert(path.map { Array($0.utf8) }) }
        let flat = tree.flatten()

        nodes = .allocate(capacity: max(flat.nodes.count, 1))
        _ = nodes.initialize(from: flat.nodes)
        edges = .allocate(capacity: max(flat.edges.count, 1))
        _ = edges.initialize(from: flat.edges)
        keyBytes = .allocate(capacity: max(flat.keyBytes.count, 1))
        _ = keyBytes.initialize(from: flat.keyBytes)
        table = .allocate(capacity: max(flat.table.count, 1))
        _ = table.initialize(from: flat.table)
        leafCount = flat.leafCount

        leafOfField = paths.map { path in
            guard let path else { return -1 }
            return flat.leaf(of: path.map { Array($0.utf8) })
        }
        names = paths.map { $0?.joined(separator: ".") ?? "" }
    }

    deinit {
        nodes.deallocate()
        edges.deallocate()
        keyBytes.deallocate()
        table.deallocate()
    }

    /// Hash of a key for the per-node tables: cheap (length, first and last byte), which
    /// separates the few keys of one object well enough; collisions just probe further.
    @inline(__always)
    static func hash(_ key: UnsafePointer<UInt8>, _ count: Int) -> Int {
        guard count > 0 else { return 0 }
        let h = UInt32(truncatingIfNeeded: count) &* 0x9E37_79B1
            ^ UInt32(key[0]) &* 0x85EB_CA6B ^ UInt32(key[count - 1]) &* 0xC2B2_AE35
        return Int(h ^ h >> 15)
    }

    func leaf(of field: EventField) -> Int32 { leafOfField[field.index] }
    /// The leaf of `paths[index]` given at init.
    func leaf(ofPath index: Int) -> Int32 { leafOfField[index] }
    func name(of field: EventField) -> String { names[field.index] }
}

extension EventFieldPlan {
    /// Builds the trie as nested arrays, then numbers leaves depth-first and flattens it.
    fileprivate struct TrieBuilder {
        struct BuildEdge {
            var key: [UInt8]
            var isLeaf = false
            var child: Int? = nil
        }

        var nodes: [[BuildEdge]] = [[]]

        mutating func insert(_ path: [[UInt8]]) {
            var node = 0
            for (depth, key) in path.enumerated() {
                let edgeIndex: Int
                if let found = nodes[node].firstIndex(where: { $0.key == key }) {
                    edgeIndex = found
                } else {
                    nodes[node].append(BuildEdge(key: key))
                    edgeIndex = nodes[node].count - 1
                }
                if depth == path.count - 1 {
                    nodes[node][edgeIndex].isLeaf = true
                } else {
                    if nodes[node][edgeIndex].child == nil {
                        nodes.append([])
                        nodes[node][edgeIndex].child = nodes.count - 1
                    }
                    node = nodes[node][edgeIndex].child!
                }
            }
        }

        struct Flat {
            var nodes: [EventFieldPlan.Node] = []
            var edges: [EventFieldPlan.Edge] = []
            var keyBytes: [UInt8] = []
            var table: [Int32] = []
            var leafCount = 0

            func leaf(of path: [[UInt8]]) -> Int32 {
                var node = Int(EventFieldPlan.root)
                for (depth, key) in path.enumerated() {
                    let n = nodes[node]
                    for e in Int(n.firstEdge)..<Int(n.firstEdge + n.edgeCount) {
                        let edge = edges[e]
                        let start = Int(edge.keyStart)
                        guard Array(keyBytes[start..<start + Int(edge.keyCount)]) == key else { continue }
                        if depth == path.count - 1 { return edge.leaf }
                        node = Int(edge.node)
                        break
                    }
                }
                preconditionFailure("path was inserted")
            }
        }

        func flatten() -> Flat {
            var flat = Flat()
            // Node i keeps index i; its edges are contiguous.
            for node in nodes {
                var size = 4
                while size < 2 * node.count { size *= 2 }
                let tableStart = flat.table.count
                flat.table += repeatElement(-1, count: size)
                flat.nodes.append(.init(firstEdge: Int32(flat.edges.count), edgeCount: Int32(node.count),
                                        tableStart: Int32(tableStart), tableMask: Int32(size - 1)))
                for edge in node {
                    let index = flat.edges.count
                    flat.edges.append(.init(keyStart: Int32(flat.keyBytes.count), keyCount: Int32(edge.key.count),
                                            leaf: -1, node: edge.child.map(Int32.init) ?? -1,
                                            clearLower: 0, clearUpper: 0,
                                            plainKey: !edge.key.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }))
                    flat.keyBytes += edge.key
                    var slot = edge.key.withUnsafeBufferPointer {
                        EventFieldPlan.hash($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count)
                    } & (size - 1)
                    while flat.table[tableStart + slot] >= 0 { slot = (slot + 1) & (size - 1) }
                    flat.table[tableStart + slot] = Int32(index)
                }
            }
            numberLeaves(node: 0, flat: &flat)
            return flat
        }

        private func numberLeaves(node: Int, flat: inout Flat) {
            let first = Int(flat.nodes[node].firstEdge)
            for (offset, edge) in nodes[node].enumerated() {
                let e = first + offset
                flat.edges[e].clearLower = Int32(flat.leafCount)
                if edge.isLeaf {
                    flat.edges[e].leaf = Int32(flat.leafCount)
                    flat.leafCount += 1
                }
                if let child = edge.child { numberLeaves(node: child, flat: &flat) }
                flat.edges[e].clearUpper = Int32(flat.leafCount)
            }
        }
    }
}
