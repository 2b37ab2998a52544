import Foundation

/// `ingest` for a whole NDJSON file on two cores: a second thread reads and parses lines into
/// batches (`ParsedEventBatch`: numbers and copied label bytes), the caller's thread applies
/// them to the shard (series lookup included), in line order. With events read by the shape of
/// the one before (`JSONSkeleton`) parsing is still the larger half (55 / 41 % of a replay's
/// samples), but close: with the fields read on the applying thread, it was 40 / 58. A ring of
/// `depth` batches is handed back and forth, so nothing is allocated per event and the parser
/// runs at most `depth` batches ahead.
///
/// The result is the same as `EventIngestor.ingest` line after line: the same events counted,
/// the same rejections with the same reasons and details, logged in line order (all on the
/// caller's thread). Not for an ingestor with a quarantine: a store rejection's bytes are gone
/// by the time it is applied (replay has none).
public struct ReplayPipeline {
    public let reader: NDJSONReader
    public let parser: EventParser
    /// Events per batch and batches in flight. Small batches keep the working set in cache.
    public var batchSize = 1024
    public var depth = 4
    /// false: parse and apply on the caller's thread, one line at a time (for comparison).
    public var parsesAhead = true

    public init(reader: NDJSONReader, parser: EventParser) {
        self.reader = reader
        self.parser = parser
    }

    /// Calls `each` with every line's rejection (nil = counted), in line order.
    public func run(ingestor: EventIngestor, writer: borrowing ShardWriter,
                    _ each: (EventRejection?) -> Void) throws {
        precondition(!ingestor.quarantines, "ReplayPipeline keeps no bytes for a quarantine")
        guard parsesAhead else {
            try reader.forEachLine { line, number in
                each(ingestor.ingest(line, parser: parser, writer: writer, position: .line(number), nowMillis: 0))
            }
            return
        }
        let batches = (0..<max(depth, 2)).map { _ in
            ParsedEventBatch(capacity: max(batchSize, 1), labelCount: parser.labelCount,
                             arenaBytes: max(batchSize, 1) * 128)
        }
        let handoff = Handoff(batches: batches)
        let parsing = ParseTask(reader: reader, parser: parser, handoff: handoff)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            parsing.run()
            finished.signal()
        }
        thread.name = "ingestd-replay-parse"
        thread.start()
        defer { finished.wait() }  // the parser and the batches outlive the thread

        var index = 0
        while true {
            handoff.full.wait()
            let batch = batches[index % batches.count]
            index &+= 1
            let rejections = batch.rejections
            // The index of the next rejected event (Int.max: none left).
            var nextRejection = 0
            var rejectedAt = rejections.first?.index ?? .max
            for i in 0..<batch.count {
                let position = QuarantinePosition.line(batch.lineNumbers[i])
                if i == rejectedAt {
                    let rejection = rejections[nextRejection].rejection
                    nextRejection += 1
                    rejectedAt = nextRejection < rejections.count ? rejections[nextRejection].index : .max
                    ingestor.reject(parsed: rejection, writer: writer, position: position, nowMillis: 0)
                    each(rejection)
                } else {
                    each(ingestor.apply(parsed: batch.labels(i), timestampMillis: batch.timestamps[i],
                                        cost: batch.costs[i], writer: writer, position: position, nowMillis: 0))
                }
            }
            let last = batch.isLast
            let error = batch.error
            handoff.free.signal()
            if last {
                if let error { throw error }
                return
            }
        }
    }

    /// The ring's two counts: batches ready to apply, batches free to fill. A batch belongs to
    /// the thread that waited for it until that thread signals the other count.
    private final class Handoff: @unchecked Sendable {
        let batches: [ParsedEventBatch]
        let full = DispatchSemaphore(value: 0)
        let free: DispatchSemaphore

        init(batches: [ParsedEventBatch]) {
            self.batches = batches
            free = DispatchSemaphore(value: batches.count)
        }
    }

    /// The second thread's work: read, parse, fill batches in ring order.
    private final class ParseTask: @unchecked Sendable {  // used by the parse thread only, then joined
        let reader: NDJSONReader
        let parser: EventParser
        let handoff: Handoff

        init(reader: NDJSONReader, parser: EventParser, handoff: Handoff) {
            self.reader = reader
            self.parser = parser
            self.handoff = handoff
        }

        func run() {
            let position = Position(handoff: handoff)
            do {
                let parser = self.parser
                try reader.forEachLine { line, number in
                    var batch = position.batch
                    if batch.isFull { batch = position.handOff() }
                    if let rejection = parser.parse(line) {
                        batch.appendRejection(rejection, line: number)
                        return
                    }
                    var labelBytes = 0
                    for j in 0..<parser.labelCount { labelBytes &+= parser.labelValue(j).count }
                    labelBytes &+= parser.resourceId.count
                    if !batch.fits(labelBytes: labelBytes) && batch.count > 0 { batch = position.handOff() }
                    batch.append(parser, labelBytes: labelBytes, line: number)
                }
            } catch {
                position.batch.error = error
            }
            let batch = position.batch
            batch.isLast = true
            handoff.full.signal()
        }
    }

    /// The batch the parse thread is filling. A class with unchecked fields rather than
    /// variables captured by the line closure, which the runtime checks on every access.
    private final class Position {
        let handoff: Handoff
        @exclusivity(unchecked) var index = 0
        @exclusivity(unchecked) var batch: ParsedEventBatch

        init(handoff: Handoff) {
            self.handoff = handoff
            handoff.free.wait()
            batch = handoff.batches[0]
            batch.reset()
        }

        /// Hands the filled batch to the applying thread; waits for the next free one.
        func handOff() -> ParsedEventBatch {
            handoff.full.signal()
            index &+= 1
            handoff.free.wait()
            batch = handoff.batches[index % handoff.batches.count]
            batch.reset()
            return batch
        }
    }
}
