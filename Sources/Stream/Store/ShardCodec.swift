/// The snapshot format of a shard: labels, heads and the non-empty buckets of each ring
/// (sparse, so an idle series costs a few bytes, not its whole ring), plus the watermark
/// and the Kafka offset the state covers. Little-endian, versioned; a snapshot taken under a
/// different resolution layout or label set is refused, and the caller rebuilds from the source.
public enum ShardCodec {
    public static let formatVersion: Int32 = 1
    private static let magic: UInt32 = 0x3153_4749 // "IGS1"

    public enum DecodeError: Error, Sendable, CustomStringConvertible {
        case corrupt(String)
        case incompatible(String)

        public var description: String {
            switch self {
            case .corrupt(let why): "snapshot is corrupt (\(why)); it will be rebuilt from the source"
            case .incompatible(let why): "snapshot was taken with another store layout (\(why)); it will be rebuilt from the source"
            }
        }
    }

    public static func encode(_ shard: Shard) -> (state: [UInt8], nextOffset: Int64?) {
        shard.withState { s in (encode(s), s.nextOffset) }
    }

    static func encode(_ s: ShardState) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + s.seriesCount * 256)
        put(&out, magic)
        put(&out, UInt32(formatVersion))
        put(&out, UInt32(s.rings.count))
        for ring in s.rings {
            put(&out, UInt64(bitPattern: ring.resolution.stepSeconds))
            put(&out, UInt32(ring.resolution.buckets))
        }
        // The input labels only: `source` follows from the shard key (`ShardState.source`).
        put(&out, UInt32(s.configuration.inputLabelNames.count))
        for name in s.configuration.inputLabelNames { putString(&out, name) }
        put(&out, UInt64(bitPattern: s.watermarkMillis))
        put(&out, UInt64(bitPattern: s.nextOffset ?? -1))
        put(&out, UInt32(s.seriesCount))
        for series in 0..<s.seriesCount {
            for value in s.table.labels[series].dropLast() { putString(&out, value) }
            for ring in s.rings {
                let head = ring.heads[series]
                put(&out, UInt64(bitPattern: head))
                let countAt = out.count
                put(&out, UInt32(0))
                var n: UInt32 = 0
                if head != BucketRing.noHead {
                    ring.forEachBucket(series: series, from: head - Int64(ring.capacity) + 1, through: head) { b, sum, count in
                        put(&out, UInt32(head - b))
                        put(&out, sum.bitPattern)
                        put(&out, count)
                        n += 1
                    }
                }
                withUnsafeBytes(of: n.littleEndian) { out.replaceSubrange(countAt..<countAt + 4, with: $0) }
            }
        }
        return out
    }

    /// Decodes a snapshot into a shard for `configuration`. A snapshot taken under another
    /// layout (resolutions, labels) is converted when `conversion` allows it (see
    /// `LayoutConversion`); otherwise it is refused as `.incompatible`.
    static func decode(_ bytes: [UInt8], configuration: StoreConfiguration, source: String,
                       conversion: LayoutConversion? = nil) throws(DecodeError) -> (state: ShardState, report: LayoutConversion.Report?) {
        var r = Reader(bytes: bytes)
        guard try r.u32() == magic else { throw .corrupt("bad magic") }
        let version = try r.u32()
        guard version == UInt32(formatVersion) else { throw .incompatible("format \(version), expected \(formatVersion)") }
        let ringCount = Int(try r.u32())
        guard ringCount > 0, ringCount <= 64 else { throw .corrupt("\(ringCount) resolutions") }
        var resolutions: [Resolution] = []
        for _ in 0..<ringCount {
            let step = Int64(bitPattern: try r.u64())
            let buckets = Int(try r.u32())
            guard step > 0, step <= 366 * 86_400, buckets > 0, buckets <= 10_000_000 else { throw .corrupt("bad resolution") }
            resolutions.append(Resolution(stepSeconds: step, buckets: buckets))
        }
        let labelCount = Int(try r.u32())
        guard labelCount <= 1024 else { throw .corrupt("\(labelCount) labels") }
        var names: [String] = []
        for _ in 0..<labelCount { names.append(try r.string()) }
        if resolutions == configuration.resolutions && names == configuration.inputLabelNames {
            return (try decodeBody(&r, configuration: configuration, source: source), nil)
        }
        let saved = StoreConfiguration(inputLabelNames: names, resolutions: resolutions, maxSeries: .max,
                                       maxFutureSkewSeconds: configuration.maxFutureSkewSeconds)
        guard let conversion else {
            throw .incompatible("resolutions \(resolutions) and labels \(names) vs configured \(configuration.resolutions) and \(configuration.inputLabelNames)")
        }
        let old = try decodeBody(&r, configuration: saved, source: source)
        let (state, report) = conversion.convert(old, to: configuration)
        if !report.lost.isEmpty && !conversion.allowLoss {
            throw .incompatible(report.description)
        }
        return (state, report)
    }

    private static func decodeBody(_ r: inout Reader, configuration: StoreConfiguration, source: String) throws(DecodeError) -> ShardState {
        let labelCount = configuration.inputLabelNames.count
        let state = ShardState(configuration: configuration, source: source)
        state.watermarkMillis = Int64(bitPattern: try r.u64())
        let offset = Int64(bitPattern: try r.u64())
        state.nextOffset = offset < 0 ? nil : offset
        let seriesCount = Int(try r.u32())
        for _ in 0..<seriesCount {
            var values: [String] = []
            for _ in 0..<labelCount { values.append(try r.string()) }
            let labels = StringLabels(values)
            let hash = SeriesTable.hash(labels)
            guard state.table.find(labels, hash: hash) == nil else { throw .corrupt("duplicate series \(values)") }
            let series = Int(state.table.insert(labels, hash: hash, extra: source))
            for ring in state.rings {
                ring.addSeries()
                let head = Int64(bitPattern: try r.u64())
                ring.restore(series: series, head: head)
                let n = Int(try r.u32())
                for _ in 0..<n {
                    let back = Int64(try r.u32())
                    let sum = Double(bitPattern: try r.u64())
                    let count = try r.u32()
                    guard head != BucketRing.noHead, back < Int64(ring.capacity), head - back > Int64.min / 2 else { throw .corrupt("bucket outside its ring") }
                    guard sum.isFinite else { throw .corrupt("non-finite bucket sum") }
                    ring.set(series: series, bucket: head - back, sum: sum, count: count)
                }
            }
        }
        guard r.atEnd else { throw .corrupt("trailing bytes") }
        return state
    }

    private static func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func putString(_ out: inout [UInt8], _ s: String) {
        put(&out, UInt32(s.utf8.count))
        out.append(contentsOf: s.utf8)
    }

    private struct Reader {
        let bytes: [UInt8]
        var at = 0

        var atEnd: Bool { at == bytes.count }

        mutating func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
            guard n >= 0, at + n <= bytes.count else { throw .corrupt("truncated at byte \(at)") }
            defer { at += n }
            return bytes[at..<at + n]
        }

        mutating func u32() throws(DecodeError) -> UInt32 {
            let s = try take(4)
            return s.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64() throws(DecodeError) -> UInt64 {
            let s = try take(8)
            return s.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func string() throws(DecodeError) -> String {
            let n = Int(try u32())
            return String(decoding: try take(n), as: UTF8.self)
        }
    }
}
