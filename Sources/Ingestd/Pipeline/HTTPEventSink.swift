import Crypto
import Foundation
import Hummingbird
import Logging
import Stream
import Synchronization

/// Events posted to /v1/events: parsed and counted into the `http` shard, and journaled in
/// SQLite before the response says "accepted" — unlike Kafka, nobody can resend them after a
/// crash. The journal append happens under the shard lock, together with the apply, so a
/// snapshot (which takes the same lock) sees a request either entirely or not at all; the
/// shard's position (`nextOffset`) is the next journal seq, and the snapshot's transaction
/// deletes the journal entries it covers.
///
/// A request with an idempotency key is looked up under the same lock, and its answer stored in
/// the journal append's transaction: a repeat is answered from SQLite and counts nothing.
final class HTTPEventSink: Sendable {
    static let shardKey = "http"

    struct Report: Encodable, Sendable {
        struct Item: Encodable, Sendable {
            let index: Int
            let reason: String
            let message: String
        }

        var accepted = 0
        var rejected = 0
        var errors: [Item] = []
    }

    private let store: WindowStore
    private let journal: EventJournal
    private let idempotencyKeys: IdempotencyKeys
    private let quarantine: Quarantine
    /// Parser options per format name (coststream, focus, cur and the configured mappings).
    private let formats: [String: EventParserOptions]
    private let logger: Logger
    private let badEventLogsPerMinute: Int
    private let requests = Atomic<Int>(0)

    init(store: WindowStore, journal: EventJournal, idempotencyKeys: IdempotencyKeys, quarantine: Quarantine,
         formats: [String: EventParserOptions], logger: Logger, badEventLogsPerMinute: Int) {
        self.store = store
        self.journal = journal
        self.idempotencyKeys = idempotencyKeys
        self.quarantine = quarantine
        self.formats = formats
        self.logger = logger
        self.badEventLogsPerMinute = badEventLogsPerMinute
    }

    struct UnknownFormat: Error, CustomStringConvertible {
        let name: String
        let known: [String]
        var description: String { "unknown format \"\(name)\": use one of \(known.joined(separator: ", "))" }
    }

    struct KeyReused: Error, CustomStringConvertible {
        let key: String
        var description: String {
            "Idempotency-Key \"\(key)\" was used in the last 24 h for a different body or format: use a new key for a new batch"
        }
    }

    /// The HTTP answer to a batch: the report as JSON, or the first answer to a repeated key.
    struct Answer: Sendable {
        let status: HTTPResponse.Status
        let body: [UInt8]
        /// Answered from the idempotency store; nothing was counted.
        let repeated: Bool
    }

    /// Splits a body (JSON array or NDJSON) and ingests every event; per-event errors by index.
    /// With `idempotencyKey`, a key seen in the last 24 h returns its first answer unchanged
    /// (or throws `KeyReused` when the body or format differs) and nothing is applied,
    /// journaled, quarantined or counted.
    /// `accounts`: the token's accounts; an event for any other is rejected as `forbidden_account`.
    func ingest(_ body: [UInt8], format: String = "coststream", nowMillis: Int64, idempotencyKey: String? = nil,
                accounts: AccountAllowList? = nil) throws -> Answer {
        guard let options = formats[format] else { throw UnknownFormat(name: format, known: formats.keys.sorted()) }
        // A scoped token's repeat is "the same request" only under the same scope.
        let requestHash = idempotencyKey.map { _ in Self.requestHash(body, format: format + (accounts.map { "\u{0}" + $0.key } ?? "")) } ?? []
        let requestID = requests.wrappingAdd(1, ordering: .relaxed).newValue
        let parser = EventParser(options: options)
        let ingestor = EventIngestor(source: .http, quarantine: quarantine, logger: logger,
                                     badEventLogsPerMinute: badEventLogsPerMinute)
        let answer = try body.withUnsafeBytes { bytes -> Answer in
            let ranges = try EventBatch.split(bytes)
            return try store.shard(Self.shardKey).write(nowMillis: nowMillis) { writer -> Answer in
                // Under the shard lock: a concurrent request with the same key waits here until
                // this one's record is committed, and then finds it.
                if let key = idempotencyKey, let first = try idempotencyKeys.find(key, nowMillis: nowMillis) {
                    guard first.requestHash == requestHash else { throw KeyReused(key: key) }
                    return Answer(status: .init(code: first.status), body: first.response, repeated: true)
                }
                var report = Report()
                var accepted: [(tsMillis: Int64, cost: Double, labels: [UInt8])] = []
                for (index, range) in ranges.enumerated() {
                    let event = UnsafeRawBufferPointer(rebasing: bytes[range])
                    if let rejection = ingestor.ingest(event, parser: parser, writer: writer,
                                                       position: .request(id: requestID, index: index), nowMillis: nowMillis,
                                                       accounts: accounts) {
                        report.errors.append(.init(index: index, reason: rejection.reason.rawValue, message: rejection.detail))
                    } else {
                        accepted.append((parser.timestampMillis, parser.cost, Self.encodeLabels(parser)))
                    }
                }
                report.accepted = accepted.count
                report.rejected = report.errors.count
                let status: HTTPResponse.Status = (report.accepted == 0 && report.rejected > 0) ? .unprocessableContent : .ok
                let encoded = Array(try JSONResponse.encode(report))
                let record = idempotencyKey.map {
                    IdempotencyKeys.Record(key: $0, requestHash: requestHash, status: status.code, response: encoded, createdMillis: nowMillis)
                }
                let last = try journal.append(shard: Self.shardKey, entries: accepted, idempotency: record)
                if last > 0 { writer.advance(nextOffset: last + 1) }
                return Answer(status: status, body: encoded, repeated: false)
            }
        }
        try ingestor.flush()
        return answer
    }

    /// SHA-256 of the format name and the decoded body: what makes two requests "the same".
    static func requestHash(_ body: [UInt8], format: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(format.utf8) + [0])
        hasher.update(data: body)
        return Array(hasher.finalize())
    }

    /// The HTTP shard's snapshot is of a store layout that cannot be converted without losing
    /// history, and nothing can replay it: the operator chooses.
    struct UnconvertibleHistory: Error, CustomStringConvertible {
        let reason: String
        var description: String {
            "the HTTP events' history cannot be carried over: \(reason). Restore the previous store.resolutions/store.labels, "
                + "or start once with `ingestd run --discard-http-history` to keep what converts and drop the rest"
        }
    }

    /// Rebuilds the shard after a restart through the engine: the snapshot (converted to a new
    /// store layout when that loses nothing, or when `discardUnconvertible`), then the journal
    /// entries after it. A snapshot that cannot be converted stops the start (never silently).
    func restore(engine: PartitionEngine, discardUnconvertible: Bool) throws -> (fromSnapshot: Bool, journaled: Int) {
        var fromSnapshot = false
        // The layout the journal tail was written under: the snapshot's (the journal after a
        // snapshot comes from the process that wrote it, and a converting start saves at once).
        var journalLabels = store.configuration.inputLabelNames
        switch engine.restore(Self.shardKey) {
        case .restored(_, let layout):
            fromSnapshot = true
            if let layout {
                journalLabels = layout.fromLabels
                logger.notice("http shard converted to the new store layout", metadata: ["conversion": "\(layout)"])
            }
        case .incompatible(let reason):
            guard discardUnconvertible else { throw UnconvertibleHistory(reason: reason) }
            let lossy = PartitionEngine(store: engine.store, snapshots: engine.snapshots,
                                        conversion: LayoutConversion(labelDefaults: engine.conversion.labelDefaults, allowLoss: true), logger: logger)
            if case .restored(_, let layout) = lossy.restore(Self.shardKey) {
                fromSnapshot = true
                if let layout { journalLabels = layout.fromLabels }
                logger.warning("--discard-http-history: the http shard kept what converts", metadata: ["conversion": "\(layout.map { "\($0)" } ?? "")"])
            }
        case .rebuild(let reason):
            if reason != "no local snapshot" {
                logger.error("http shard snapshot unusable; rebuilding from the journal alone", metadata: ["reason": "\(reason)"])
            }
        }
        let shard = store.shard(Self.shardKey)
        let after = (shard.statistics.nextOffset ?? 1) - 1
        let entries = try journal.entries(shard: Self.shardKey, after: after)
        let labelNames = store.configuration.inputLabelNames
        try shard.write { writer in
            for entry in entries {
                var values = Self.decodeLabels(entry.labels)
                guard values.count == journalLabels.count else {
                    throw JournalLayoutMismatch(seq: entry.seq, values: values, labelNames: journalLabels)
                }
                if journalLabels != labelNames { values = engine.conversion.labels(values, from: journalLabels, to: labelNames) }
                _ = writer.apply(StringLabels(values), timestampMillis: entry.tsMillis, cost: entry.cost)
                writer.advance(nextOffset: entry.seq + 1)
            }
        }
        return (fromSnapshot, entries.count)
    }

    /// A journaled event written under another label layout (e.g. before the `currency` label).
    struct JournalLayoutMismatch: Error, CustomStringConvertible {
        let seq: Int64
        let values: [String]
        let labelNames: [String]
        var description: String {
            "HTTP journal entry \(seq) has \(values.count) label values \(values), the store has \(labelNames.count) labels " +
            "\(labelNames): it was written under another store.labels layout; restore that layout to keep these events"
        }
    }

    /// Label values joined by 0xFF, a byte that never occurs in UTF-8.
    private static func encodeLabels(_ parser: EventParser) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<parser.labelCount {
            if i > 0 { out.append(0xFF) }
            out.append(contentsOf: parser.labelValue(i))
        }
        return out
    }

    static func decodeLabels(_ bytes: [UInt8]) -> [String] {
        bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}
