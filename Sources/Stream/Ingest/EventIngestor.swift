import Logging
import Metrics

/// A source's path from raw messages to windows: parse, apply to the shard, count, and keep
/// the bad ones for the quarantine. One per writer (the consumer thread, an HTTP request, a
/// replay), not shared: it owns parsers with scratch buffers. Messages are handled one at a
/// time; I/O (quarantine rows, metric updates) happens once per batch in `flush()`.
public final class EventIngestor {
    private let quarantine: Quarantine?
    private let source: QuarantinedEvent.Source
    private let logger: Logger
    private var log: BadEventLog
    private var pending: [QuarantinedEvent] = []
    /// Touched per event by the one thread that owns this ingestor: no dynamic exclusivity check.
    @exclusivity(unchecked) private var acceptedSinceFlush = 0
    private var badSinceFlush = [Int](repeating: 0, count: RejectReason.allCases.count)
    private let acceptedCounter: Counter
    private let badCounters: [Counter]

    public init(source: QuarantinedEvent.Source, quarantine: Quarantine?, logger: Logger, badEventLogsPerMinute: Int) {
        self.source = source
        self.logger = logger
        self.quarantine = quarantine
        self.log = BadEventLog(logger: logger, perMinute: badEventLogsPerMinute)
        acceptedCounter = Counter(label: "ingestd_events_total", dimensions: [("source", source.rawValue)])
        badCounters = RejectReason.allCases.map {
            Counter(label: "ingestd_events_bad_total", dimensions: [("source", source.rawValue), ("reason", $0.rawValue)])
        }
    }

    /// Parses and applies one message with the shard lock already held (`writer`).
    /// Returns the rejection, if any; a rejected message is queued for the quarantine.
    @inline(__always)
    @discardableResult
    public func ingest(_ bytes: UnsafeRawBufferPointer, parser: EventParser, writer: borrowing ShardWriter,
                       position: QuarantinePosition, nowMillis: Int64, accounts: AccountAllowList? = nil) -> EventRejection? {
        let rejection: EventRejection
        if let bad = parser.parse(bytes) {
            writer.countRejected(bad.reason)
            rejection = bad
        } else if let accounts, !accounts.contains(parser.labelValue(0)) {
            // Counted and logged, never stored: not even the quarantine keeps another account's event.
            writer.countRejected(.forbiddenAccount)
            let forbidden = EventRejection(.forbiddenAccount, accounts.refusal(parser.labelValue(0)))
            record(forbidden, bytes: nil, position: position, nowMillis: nowMillis)
            return forbidden
        } else if let reason = writer.apply(parser, timestampMillis: parser.timestampMillis, cost: parser.cost) {
            rejection = EventRejection(reason, Self.storeDetail(reason, timestampMillis: parser.timestampMillis, cost: parser.cost))
        } else {
            acceptedSinceFlush += 1
            return nil
        }
        record(rejection, bytes: bytes, position: position, nowMillis: nowMillis)
        return rejection
    }

    /// Applies an event parsed earlier (`ReplayPipeline`: parsed on another thread). Same
    /// counting and logging as `ingest`; no quarantine.
    @inline(__always)
    func apply<L: LabelSource>(parsed labels: L, timestampMillis: Int64, cost: Double,
                               writer: borrowing ShardWriter, position: QuarantinePosition, nowMillis: Int64) -> EventRejection? {
        guard let reason = writer.apply(labels, timestampMillis: timestampMillis, cost: cost) else {
            acceptedSinceFlush += 1
            return nil
        }
        let rejection = EventRejection(reason, Self.storeDetail(reason, timestampMillis: timestampMillis, cost: cost))
        record(rejection, bytes: nil, position: position, nowMillis: nowMillis)
        return rejection
    }

    /// Counts a parser's rejection of an event parsed earlier, as `ingest` would have.
    func reject(parsed rejection: EventRejection, writer: borrowing ShardWriter, position: QuarantinePosition, nowMillis: Int64) {
        writer.countRejected(rejection.reason)
        record(rejection, bytes: nil, position: position, nowMillis: nowMillis)
    }

    /// Whether rejected messages go to a quarantine (which keeps their bytes).
    var quarantines: Bool { quarantine != nil }

    private func record(_ rejection: EventRejection, bytes: UnsafeRawBufferPointer?, position: QuarantinePosition, nowMillis: Int64) {
        badSinceFlush[rejection.reason.index] += 1
        log.record(rejection, at: position.description, nowMillis: nowMillis)
        guard let quarantine, let bytes else { return }
        // Copy only what the quarantine keeps; it records the original length.
        let n = min(bytes.count, quarantine.maxPayloadBytes)
        pending.append(QuarantinedEvent(
            receivedAt: nowMillis, source: source, topic: position.topic, partition: position.partition,
            offset: position.offset, position: position.label, reason: rejection.reason, detail: rejection.detail,
            payload: Array(UnsafeRawBufferPointer(rebasing: bytes[0..<n])), payloadBytes: bytes.count))
    }

    /// Writes queued quarantine rows (one transaction) and publishes the counts. A busy or I/O
    /// failure throws and keeps the rows for the next flush; an error that a retry cannot fix
    /// (a constraint) is logged and the rows are dropped, so one bad row cannot stall the caller.
    public func flush() throws {
        if !pending.isEmpty, let quarantine {
            do {
                try quarantine.record(pending)
            } catch let error as SQLiteError where !error.isBusy && error.primaryCode != 10 /* SQLITE_IOERR */ {
                logger.error("quarantine rows dropped: the database refused them", metadata: [
                    "rows": "\(pending.count)", "error": "\(error)",
                ])
            }
            pending.removeAll(keepingCapacity: true)
        } else {
            pending.removeAll(keepingCapacity: true)
        }
        if acceptedSinceFlush > 0 {
            acceptedCounter.increment(by: acceptedSinceFlush)
            acceptedSinceFlush = 0
        }
        for (i, n) in badSinceFlush.enumerated() where n > 0 {
            badCounters[i].increment(by: n)
            badSinceFlush[i] = 0
        }
    }

    private static func storeDetail(_ reason: RejectReason, timestampMillis: Int64, cost: Double) -> String {
        let when = UTCCalendar.iso8601(millis: timestampMillis)
        return switch reason {
        case .tooOld: "event time \(when) is older than every resolution keeps (behind the series' newest bucket, or for a new series the newest event time seen)"
        case .futureTimestamp: "event time \(when) is ahead of the clock by more than store.max_future_skew"
        case .seriesLimit: "store.max_series reached: new series are refused until it is raised"
        case .costOverflow: "cost \(cost) would make a bucket's sum exceed the largest finite number; check the event's cost"
        default: reason.rawValue
        }
    }
}

/// Where a message came from, for logs and the quarantine. An enum of plain values, so building
/// one per message costs nothing; the text is made only for bad messages.
public enum QuarantinePosition: Sendable, CustomStringConvertible {
    case kafka(topic: String, partition: Int32, offset: Int64)
    case line(Int)
    case request(id: Int, index: Int)

    var topic: String? { if case .kafka(let t, _, _) = self { t } else { nil } }
    var partition: Int32? { if case .kafka(_, let p, _) = self { p } else { nil } }
    var offset: Int64? { if case .kafka(_, _, let o) = self { o } else { nil } }
    var label: String? {
        switch self {
        case .kafka: nil
        case .line(let n): "line \(n)"
        case .request(let id, let index): "request \(id) index \(index)"
        }
    }

    public var description: String {
        if case .kafka(let t, let p, let o) = self { return "\(t)/\(p)@\(o)" }
        return label ?? ""
    }
}
