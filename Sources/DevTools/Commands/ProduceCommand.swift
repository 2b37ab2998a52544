import ArgumentParser
import Foundation
import Stream

/// `ingestd produce FILE --topic T --brokers HOST:PORT`: loads an NDJSON corpus into Kafka, one
/// message per line, keyed by the account so that a partition holds whole accounts (PRODUCT §7).
/// A test and demo tool, not part of the daemon's hot path.
///
/// Lines are not re-encoded: Stream's JSON scanner (`JSONMemberFinder`, the daemon parser's own)
/// finds the key and time fields and the line is sent as it is (or with only the time value
/// replaced). Re-serialising with JSONSerialization reorders keys, respells numbers and ran at
/// about 13,000 events/s here. Lines come from `NDJSONReader`, as in `ingestd replay`; times are
/// read and written with `Timestamp` and `UTCCalendar`.
public struct ProduceCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce NDJSON events (optionally gzip-compressed) to a Kafka topic, keyed by account.",
        discussion: """
            Each non-blank line becomes one message, sent unchanged except for the time field when \
            --shift-to-now is given. A line without the key field (or that is not a JSON object) is \
            still sent, without a key, so that bad input reaches the consumer's quarantine as it would \
            in production.
            """)

    @Argument(help: "NDJSON file; gzip-compressed when its name ends in .gz; - for standard input (uncompressed).")
    var file: String

    @Option(help: "Topic to produce to.")
    var topic: String

    @Option(help: "Bootstrap brokers, HOST:PORT[,HOST:PORT…] (librdkafka's bootstrap.servers).")
    var brokers: String

    @Option(help: "Events per second; 0 = as fast as the broker takes them.")
    var rate: Double = 0

    @Flag(help: ArgumentHelp(
        "Move every event's time by (now − the latest event's time), so that the corpus ends now.",
        discussion: """
            Events keep their spacing and their time format (ISO 8601 is written back in UTC with \
            Z; epoch numbers stay numbers, or strings, in the same unit). Finding the latest time \
            takes a first pass over the whole file before anything is produced, so it needs a \
            file, not standard input.
            """))
    var shiftToNow = false

    @Option(name: .customLong("property"), help: ArgumentHelp("A librdkafka producer property; repeatable.", valueName: "k=v"))
    var properties: [String] = []

    @Option(help: "Top-level field whose value is the message key.")
    var keyField = "accountId"

    @Option(help: "Top-level field that --shift-to-now moves (ISO 8601, or epoch seconds/millis as a number or a string).")
    var timeField = "timestamp"

    public func validate() throws {
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be 0 (unlimited) or a positive number of events per second") }
        for property in properties where !property.contains("=") {
            throw ValidationError("--property \(property): expected NAME=VALUE, e.g. --property security.protocol=SASL_SSL")
        }
        if file == "-" {
            if shiftToNow {
                throw ValidationError("--shift-to-now reads the input twice (first to find the latest time), so it needs a file, not standard input")
            }
        } else if !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("\(file): no such readable file")
        }
    }

    public func run() throws {
        var kafkaProperties = ["bootstrap.servers": brokers]
        for property in properties {
            let parts = property.split(separator: "=", maxSplits: 1)
            kafkaProperties[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let producer = try KafkaProducer(properties: kafkaProperties)
        let reader = NDJSONReader(path: file)

        var shifter: TimeShifter?
        if shiftToNow {
            // First pass: the latest time. A corrupt .gz fails here, before anything is sent.
            var latest: Int64?
            let fields = TopLevelFields(key: keyField, time: timeField)
            try reader.forEachLine { line, _ in
                guard let range = fields.find(line).time,
                      let millis = TimeShifter.millis(UnsafeRawBufferPointer(rebasing: line[range]))
                else { return }
                latest = max(latest ?? millis, millis)
            }
            if let latest {
                shifter = TimeShifter(latestMillis: latest, nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
            } else {
                Self.note("no line has a top-level \"\(timeField)\" in a known format: nothing to shift")
            }
        }

        var lines = LineProducer(producer: producer, topic: topic, fields: TopLevelFields(key: keyField, time: timeField), shifter: shifter)
        let clock = ContinuousClock()
        let start = clock.now
        var readError: NDJSONReader.ReadError?
        do {
            try reader.forEachLine { line, _ in
                guard let line = Self.trimmed(line) else { return }
                if rate > 0 {
                    let wait = start + .seconds(Double(lines.counts.produced) / rate) - clock.now
                    if wait > .milliseconds(2) { Thread.sleep(forTimeInterval: Self.seconds(wait)) }
                }
                try lines.produce(line)
            }
        } catch let error as NDJSONReader.ReadError {
            readError = error  // reported after the summary: a truncated .gz still produced its first events
        }
        try producer.flush(timeoutMilliseconds: 120_000)
        let seconds = Self.seconds(clock.now - start)
        let counts = lines.counts
        let perSecond = seconds > 0 ? Double(counts.produced) / seconds : 0
        print("produced \(counts.produced) events in \(String(format: "%.2f", seconds)) s (\(Int(perSecond.rounded())) events/s)")
        if counts.unkeyed > 0 {
            Self.note("\(counts.unkeyed) lines had no top-level \"\(keyField)\" (or were not JSON objects): sent without a key")
        }
        if shifter != nil && counts.unshifted > 0 {
            Self.note("\(counts.unshifted) lines had no top-level \"\(timeField)\" in a known format: sent unshifted")
        }
        if let readError {
            Self.note("error: \(readError)")
            throw ExitCode.failure
        }
        let failures = producer.deliveryFailures
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
        let fields: TopLevelFields
        let shifter: TimeShifter?
        var counts = Counts()
        private var shifted: [UInt8] = []  // reused for the rewritten line

        init(producer: KafkaProducer, topic: String, fields: TopLevelFields, shifter: TimeShifter?) {
            self.producer = producer
            self.topic = topic
            self.fields = fields
            self.shifter = shifter
        }

        mutating func produce(_ line: UnsafeRawBufferPointer) throws {
            let (key, time) = fields.find(line)
            if key == nil { counts.unkeyed += 1 }
            counts.produced += 1
            if let valueRange = time,
               let replacement = shifter?.shift(UnsafeRawBufferPointer(rebasing: line[valueRange])) {
                shifted.removeAll(keepingCapacity: true)
                shifted.append(contentsOf: line[..<valueRange.lowerBound])
                shifted.append(contentsOf: replacement.utf8)
                shifted.append(contentsOf: line[valueRange.upperBound...])
                return try producer.produce(topic: topic, key: key, value: shifted)
            }
            if shifter != nil { counts.unshifted += 1 }
            try producer.produce(topic: topic, key: key, value: line)
        }
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data("ingestd produce: \(text)\n".utf8))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The line without trailing spaces and tabs (NDJSONReader already dropped the newline and a
    /// \r), or nil when nothing is left.
    private static func trimmed(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return end > 0 ? UnsafeRawBufferPointer(rebasing: line[..<end]) : nil
    }
}

extension ProduceCommand {
    /// The key and time members of a line, found by Stream's JSON scanner: a line that is not a
    /// JSON object has neither; duplicate keys: the last wins, as in the daemon's parser.
    struct TopLevelFields {
        private let finder: JSONMemberFinder

        init(key: String, time: String) { finder = JSONMemberFinder(names: [key, time]) }

        /// The message key (a string's decoded content or a number's text; null, objects,
        /// arrays, booleans and "" give none) and the time value's text range.
        func find(_ line: UnsafeRawBufferPointer) -> (key: [UInt8]?, time: Range<Int>?) {
            guard let members = finder.find(line) else { return (nil, nil) }
            var key: [UInt8]?
            if let k = members[0], k.kind == .string || k.kind == .number, !k.content.isEmpty { key = Array(k.content) }
            return (key, members[1]?.range)
        }
    }

    /// Moves event times by one fixed amount, a whole number of seconds: now minus the latest
    /// event's time, rounded down, so that the latest event lands in the last second before now
    /// and the rest keep their spacing. Times are read with the daemon's own `Timestamp`
    /// parsers, so a shifted event lands where the daemon will place it, and written back in
    /// the form they came in: ISO 8601 in UTC with Z (an offset becomes Z, a date alone gains
    /// its time of day), fraction digits kept as written; epoch seconds or millis in the same
    /// unit, as a number or a string as before, fraction digits kept as written.
    struct TimeShifter {
        let deltaMillis: Int64

        init(latestMillis: Int64, nowMillis: Int64) {
            let delta = nowMillis - latestMillis
            deltaMillis = (delta >= 0 ? delta / 1000 : (delta - 999) / 1000) * 1000
        }

        /// A time value's epoch milliseconds, or nil when it is not a known format.
        static func millis(_ value: UnsafeRawBufferPointer) -> Int64? {
            guard let (text, isString) = unquoted(value) else { return nil }
            if isString, let millis = Timestamp.parseISO8601(text) { return millis }
            return Timestamp.parseEpoch(text)
        }

        /// The replacement JSON text for a time value, or nil when it is not a known format.
        func shift(_ value: UnsafeRawBufferPointer) -> String? {
            guard let (text, isString) = Self.unquoted(value) else { return nil }
            if isString, let millis = Timestamp.parseISO8601(text) {
                let moved = UTCCalendar.iso8601(millis: millis + deltaMillis)  // whole seconds
                guard moved.utf8.count == 20 else { return nil }  // a year outside 0000–9999
                var fraction = ""
                if text.count > 20, text[19] == UInt8(ascii: ".") || text[19] == UInt8(ascii: ",") {
                    let digits = text[20...].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                    fraction = "." + String(decoding: digits, as: UTF8.self)
                }
                return "\"\(moved.dropLast())\(fraction)Z\""
            }
            guard let millis = Timestamp.parseEpoch(text) else { return nil }
            let spelled = String(decoding: text, as: UTF8.self)
            // Timestamp.parseEpoch reads |value| < 1e11 as seconds: write the same unit back.
            let isSeconds = abs(Double(spelled) ?? 0) < 1e11
            let step = isSeconds ? deltaMillis / 1000 : deltaMillis
            var out: String
            let parts = spelled.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            if let whole = Int64(parts[0]), !parts[0].hasPrefix("+"),
               parts.count == 1 || (!parts[0].hasPrefix("-") && whole + step >= 0 && parts[1].allSatisfy { ("0"..."9").contains($0) }) {
                // Plain decimal: move the whole part, keep the fraction as written.
                out = "\(whole + step)" + (parts.count > 1 ? "." + parts[1] : "")
            } else {
                // An exponent or a sign: spell the moved value afresh in the same unit.
                let moved = millis + deltaMillis
                out = !isSeconds ? "\(moved)" : moved % 1000 == 0 ? "\(moved / 1000)" : String(format: "%.3f", Double(moved) / 1000)
            }
            if isString { out = "\"\(out)\"" }
            return out
        }

        /// A string's content (without escapes) or a number's text, and whether it was a string.
        private static func unquoted(_ value: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, Bool)? {
            guard let head = value.first else { return nil }
            let isString = head == UInt8(ascii: "\"")
            let text = isString && value.count >= 2 ? UnsafeRawBufferPointer(rebasing: value[1..<(value.count - 1)]) : value
            guard !text.isEmpty, !text.contains(UInt8(ascii: "\\")) else { return nil }
            return (text, isString)
        }
    }
}
