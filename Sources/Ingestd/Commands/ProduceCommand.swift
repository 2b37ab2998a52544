import ArgumentParser
import Foundation
import Stream

/// `ingestd produce FILE --topic T --brokers HOST:PORT`: loads an NDJSON corpus into Kafka, one
/// message per line, keyed by the account so that a partition holds whole accounts (PRODUCT §7).
/// A test and demo tool, not part of the daemon's hot path.
struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce NDJSON events (optionally gzip-compressed) to a Kafka topic, keyed by account.",
        discussion: """
            Each non-empty line becomes one message, sent unchanged except for the time field when \
            --shift-to-now is given. A line without the key field (or that is not a JSON object) is \
            still sent, without a key, so that bad input reaches the consumer's quarantine as it would \
            in production.
            """)

    @Argument(help: "NDJSON file; gzip-compressed when its name ends in .gz or it starts with the gzip magic; - for standard input.")
    var file: String

    @Option(help: "Topic to produce to.")
    var topic: String

    @Option(help: "Bootstrap brokers, HOST:PORT[,HOST:PORT…] (librdkafka's bootstrap.servers).")
    var brokers: String

    @Option(help: "Events per second; 0 = as fast as the broker takes them.")
    var rate: Double = 0

    @Flag(help: "Move every event's time by (now − the first event's time), so that the corpus looks live.")
    var shiftToNow = false

    @Option(name: .customLong("property"), help: ArgumentHelp("A librdkafka producer property; repeatable.", valueName: "k=v"))
    var properties: [String] = []

    @Option(help: "Top-level field whose value is the message key.")
    var keyField = "accountId"

    @Option(help: "Top-level field that --shift-to-now moves (ISO 8601, or epoch seconds/millis as a number or a string).")
    var timeField = "timestamp"

    func validate() throws {
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be 0 (unlimited) or a positive number of events per second") }
        for property in properties where !property.contains("=") {
            throw ValidationError("--property \(property): expected NAME=VALUE, e.g. --property security.protocol=SASL_SSL")
        }
    }

    func run() async throws {
        var kafkaProperties = ["bootstrap.servers": brokers]
        for property in properties {
            let parts = property.split(separator: "=", maxSplits: 1)
            kafkaProperties[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let input = try LineSource(path: file)
        var lines = LineProducer(
            producer: try KafkaProducer(properties: kafkaProperties), topic: topic,
            keyField: Array(keyField.utf8), timeField: Array(timeField.utf8),
            shifter: shiftToNow ? TimeShifter(nowMillis: Int64(Date().timeIntervalSince1970 * 1000)) : nil)
        let clock = ContinuousClock()
        let start = clock.now

        while let chunk = try input.nextLines() {
            for range in chunk.withUnsafeBytes({ Self.lineRanges(in: $0) }) {
                if rate > 0 {
                    let due = start + .seconds(Double(lines.counts.produced) / rate)
                    if due - clock.now > .milliseconds(2) { try await Task.sleep(until: due, clock: clock) }
                }
                try chunk.withUnsafeBytes { try lines.produce(UnsafeRawBufferPointer(rebasing: $0[range])) }
            }
        }
        try input.finish()
        try lines.producer.flush(timeoutMilliseconds: 120_000)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let counts = lines.counts
        let perSecond = seconds > 0 ? Double(counts.produced) / seconds : 0
        print("produced \(counts.produced) events in \(String(format: "%.2f", seconds)) s (\(Int(perSecond.rounded())) events/s)")
        if counts.unkeyed > 0 {
            Self.note("\(counts.unkeyed) lines had no top-level \"\(keyField)\" (or were not JSON objects): sent without a key")
        }
        if counts.unshifted > 0 {
            Self.note("\(counts.unshifted) lines had no top-level \"\(timeField)\" in a known format: sent unshifted")
        }
        let failures = lines.producer.deliveryFailures
        if failures.count > 0 {
            Self.note("error: \(failures.count) of \(counts.produced) events were not delivered; last: \(failures.last.map { "\($0)" } ?? "?")")
            throw ExitCode.failure
        }
    }

    struct Counts {
        var produced = 0
        var unkeyed = 0
        var unshifted = 0
    }

    /// Produces one line: keyed by the key field, its time moved when shifting.
    struct LineProducer {
        let producer: KafkaProducer
        let topic: String
        let keyField: [UInt8]
        let timeField: [UInt8]
        var shifter: TimeShifter?
        var counts = Counts()
        private var shifted: [UInt8] = []  // reused for the rewritten line

        init(producer: KafkaProducer, topic: String, keyField: [UInt8], timeField: [UInt8], shifter: TimeShifter?) {
            self.producer = producer
            self.topic = topic
            self.keyField = keyField
            self.timeField = timeField
            self.shifter = shifter
        }

        mutating func produce(_ line: UnsafeRawBufferPointer) throws {
            let fields = TopLevelFields(line, first: keyField, second: shifter == nil ? nil : timeField)
            let key = fields.first.flatMap { TopLevelFields.keyBytes(UnsafeRawBufferPointer(rebasing: line[$0])) }
            if key == nil { counts.unkeyed += 1 }
            counts.produced += 1
            guard shifter != nil else { return try producer.produce(topic: topic, key: key, value: line) }
            guard let valueRange = fields.second,
                  let replacement = shifter!.shift(UnsafeRawBufferPointer(rebasing: line[valueRange]))
            else {
                counts.unshifted += 1
                return try producer.produce(topic: topic, key: key, value: line)
            }
            shifted.removeAll(keepingCapacity: true)
            shifted.append(contentsOf: line[..<valueRange.lowerBound])
            shifted.append(contentsOf: replacement.utf8)
            shifted.append(contentsOf: line[valueRange.upperBound...])
            try producer.produce(topic: topic, key: key, value: shifted)
        }
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data("ingestd produce: \(text)\n".utf8))
    }

    /// The non-blank lines of a chunk that ends at a line boundary, without their line ending.
    private static func lineRanges(in buffer: UnsafeRawBufferPointer) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < buffer.count {
            var end = start
            while end < buffer.count, buffer[end] != UInt8(ascii: "\n") { end += 1 }
            var last = end
            while last > start, [UInt8(ascii: "\r"), UInt8(ascii: " "), UInt8(ascii: "\t")].contains(buffer[last - 1]) { last -= 1 }
            if last > start { ranges.append(start..<last) }
            start = end + 1
        }
        return ranges
    }
}

extension ProduceCommand {
    /// Reads a file (or standard input) in chunks that end at line boundaries. Gzip input is
    /// decompressed by a `gzip -dc` child process: no zlib binding is part of the build (a
    /// system-library target or compress-nio would be a new dependency for one tool), gzip is
    /// on every Debian system, and the child decompresses on the other core while this one
    /// produces.
    final class LineSource {
        private let handle: FileHandle
        private let gzip: Process?
        private let path: String
        private var pending: [UInt8] = []
        private var ended = false

        init(path: String) throws {
            self.path = path
            if path == "-" {
                handle = .standardInput
                gzip = nil
                return
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ValidationError("\(path): no such readable file")
            }
            guard try path.hasSuffix(".gz") || Self.startsWithGzipMagic(path) else {
                handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                gzip = nil
                return
            }
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["gzip", "-dc", "--", path]
            process.standardOutput = pipe
            try process.run()
            handle = pipe.fileHandleForReading
            gzip = process
        }

        /// The next lines (the last one may lack its newline only at the end of input), or nil
        /// at the end.
        func nextLines() throws -> [UInt8]? {
            while !ended {
                let data = try handle.read(upToCount: 1 << 20) ?? Data()
                if data.isEmpty {
                    ended = true
                    break
                }
                guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else {
                    pending.append(contentsOf: data)
                    continue
                }
                var chunk = pending
                chunk.append(contentsOf: data[..<data.index(after: lastNewline)])
                pending = Array(data[data.index(after: lastNewline)...])
                return chunk
            }
            guard !pending.isEmpty else { return nil }
            defer { pending = [] }
            return pending
        }

        /// Fails when gzip reported a corrupt or truncated file.
        func finish() throws {
            guard let gzip else { return }
            gzip.waitUntilExit()
            guard gzip.terminationStatus == 0 else {
                throw ValidationError("gzip -dc \(path) exited with status \(gzip.terminationStatus): the file is corrupt or truncated (events before the damage were produced)")
            }
        }

        private static func startsWithGzipMagic(_ path: String) throws -> Bool {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            return try handle.read(upToCount: 2) == Data([0x1f, 0x8b])
        }
    }

    /// The value ranges of up to two top-level members of a JSON object line, found by a
    /// skipping scan that leaves the bytes untouched, so that a produced line keeps its field
    /// order, number spelling and everything else exactly. nil where the member is absent or
    /// the line is not a well-formed object as far as the scan goes. Duplicate keys: the last
    /// wins, as in JSONSerialization and the daemon's parser.
    struct TopLevelFields {
        var first: Range<Int>?
        var second: Range<Int>?

        init(_ line: UnsafeRawBufferPointer, first firstName: [UInt8], second secondName: [UInt8]?) {
            var i = 0
            func skipSpace() { while i < line.count, [0x20, 0x09, 0x0a, 0x0d].contains(line[i]) { i += 1 } }
            func skipString() -> Bool {  // at the opening quote; leaves i after the closing one
                i += 1
                while i < line.count {
                    switch line[i] {
                    case UInt8(ascii: "\\"): i += 2
                    case UInt8(ascii: "\""): i += 1; return true
                    default: i += 1
                    }
                }
                return false
            }
            func skipValue() -> Bool {
                guard i < line.count else { return false }
                switch line[i] {
                case UInt8(ascii: "\""):
                    return skipString()
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    var depth = 0
                    while i < line.count {
                        switch line[i] {
                        case UInt8(ascii: "\""): guard skipString() else { return false }; continue
                        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                        case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                        default: break
                        }
                        i += 1
                        if depth == 0 { return true }
                    }
                    return false
                default:
                    let start = i
                    while i < line.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), 0x20, 0x09, 0x0a, 0x0d].contains(line[i]) { i += 1 }
                    return i > start
                }
            }

            skipSpace()
            guard i < line.count, line[i] == UInt8(ascii: "{") else { return }
            i += 1
            var found: (Range<Int>?, Range<Int>?) = (nil, nil)
            while true {
                skipSpace()
                guard i < line.count else { return }
                if line[i] == UInt8(ascii: "}") { break }
                guard line[i] == UInt8(ascii: "\"") else { return }
                let nameStart = i + 1
                guard skipString() else { return }
                let name = UnsafeRawBufferPointer(rebasing: line[nameStart..<(i - 1)])
                skipSpace()
                guard i < line.count, line[i] == UInt8(ascii: ":") else { return }
                i += 1
                skipSpace()
                let valueStart = i
                guard skipValue() else { return }
                if name.elementsEqual(firstName) { found.0 = valueStart..<i }
                if let secondName, name.elementsEqual(secondName) { found.1 = valueStart..<i }
                skipSpace()
                guard i < line.count else { return }
                if line[i] == UInt8(ascii: ",") { i += 1; continue }
                guard line[i] == UInt8(ascii: "}") else { return }
                break
            }
            (first, second) = found
        }

        /// A key from a member's value: a string's content (unescaped), or a number's text.
        /// Null, objects, arrays, booleans and empty strings give no key.
        static func keyBytes(_ value: UnsafeRawBufferPointer) -> [UInt8]? {
            guard let head = value.first else { return nil }
            if head == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(head) { return Array(value) }
            guard head == UInt8(ascii: "\""), value.count >= 2 else { return nil }
            let content = value[1..<(value.count - 1)]
            if content.isEmpty { return nil }
            guard content.contains(UInt8(ascii: "\\")) else { return Array(content) }
            // Escapes are rare in account ids: let Foundation decode this one string.
            let decoded = try? JSONSerialization.jsonObject(with: Data(value), options: .fragmentsAllowed) as? String
            return decoded.map { Array($0.utf8) }
        }
    }

    /// Moves event times by one fixed amount: now minus the first event's time. Times are read
    /// with the daemon's own `Timestamp` parsers, so a shifted event lands where the daemon will
    /// place it, and written back in the form they came in (ISO 8601 → ISO 8601 UTC, keeping
    /// milliseconds if there was a fraction; epoch seconds or millis → the same unit, as a
    /// number or a string as before).
    struct TimeShifter {
        let nowMillis: Int64
        private var deltaMillis: Int64?

        init(nowMillis: Int64) {
            self.nowMillis = nowMillis
        }

        /// The replacement JSON text for a time value, or nil when it is not a known format.
        mutating func shift(_ value: UnsafeRawBufferPointer) -> String? {
            guard let head = value.first else { return nil }
            let isString = head == UInt8(ascii: "\"")
            let text = isString && value.count >= 2 ? UnsafeRawBufferPointer(rebasing: value[1..<(value.count - 1)]) : value
            guard !text.isEmpty, !text.contains(UInt8(ascii: "\\")) else { return nil }
            if isString, let millis = Timestamp.parseISO8601(text) {
                let hasFraction = text.count > 19 && [UInt8(ascii: "."), UInt8(ascii: ",")].contains(text[19])
                return "\"\(Self.iso8601(moved(millis), fraction: hasFraction))\""
            }
            guard let millis = Timestamp.parseEpoch(text) else { return nil }
            let number = moved(millis)
            // Timestamp.parseEpoch reads |value| < 1e11 as seconds: write the same unit back.
            let isSeconds = abs(Double(String(decoding: text, as: UTF8.self)) ?? 0) < 1e11
            var out: String
            if !isSeconds {
                out = "\(number)"
            } else if number % 1000 == 0 && !text.contains(UInt8(ascii: ".")) {
                out = "\(number / 1000)"
            } else {
                out = String(format: "%.3f", Double(number) / 1000)
            }
            if isString { out = "\"\(out)\"" }
            return out
        }

        private mutating func moved(_ millis: Int64) -> Int64 {
            // Whole seconds, so that times without a fraction keep none.
            let delta = deltaMillis ?? (nowMillis - millis) / 1000 * 1000
            deltaMillis = delta
            return millis + delta
        }

        static func iso8601(_ millis: Int64, fraction: Bool) -> String {
            let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
            let day = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
            let secondOfDay = seconds - day * 86_400
            let (y, m, d) = UTCCalendar.civil(days: day)
            func pad(_ v: Int64, _ width: Int) -> String {
                let s = String(v)
                return String(repeating: "0", count: max(0, width - s.count)) + s
            }
            let date = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
            let time = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
            return fraction ? "\(date)T\(time).\(pad(millis - seconds * 1000, 3))Z" : "\(date)T\(time)Z"
        }
    }
}
