import ArgumentParser
import Foundation
import Logging
import Stream

/// `ingestd replay FILE`: loads events as fast as it can with event time as the clock, then
/// prints a summary; `--dump-hourly` prints every hour of every series as CSV.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Load NDJSON events (.gz too) into the window store as fast as possible, event time driving the clock.")

    @Argument(help: "NDJSON file, optionally gzip-compressed (.gz).")
    var file: String

    @Option(name: .shortAndLong, help: "Config file for the store layout, labels and currencies.")
    var config: String?

    @Option(help: "Event shape: coststream, focus, cur, or a mapping name from the config.")
    var format = "coststream"

    @Flag(help: "Print hourly sums per series as CSV (timestamp,account,service,region[,tags…],cost) on stdout; the summary goes to stderr.")
    var dumpHourly = false

    func run() throws {
        let settings = try IngestdConfig.loadForCommand(path: config, exitStatus: 78)
        LoggingSetup.bootstrap(level: settings.logLevel)
        let logger = Logger(label: "ingestd.replay")
        let eventFormat = try settings.eventFormat(named: format)
        if dumpHourly && !settings.store.resolutions.contains(where: { $0.stepSeconds == 3600 }) {
            throw ValidationError("--dump-hourly needs a 1h resolution in store.resolutions")
        }

        let store = WindowStore(configuration: settings.store)
        let shard = store.shard("replay")
        var rows: [HourRow] = []
        if dumpHourly {
            // Hours the 1h ring reuses during the replay are final (later events for them were too old).
            shard.observeEvictions { labels, resolution, start, sum, _ in
                if resolution.stepSeconds == 3600 { rows.append(HourRow(start: start, labels: Array(labels.dropLast()), sum: sum)) }
            }
        }
        let parser = EventParser(options: settings.parserOptions(format: eventFormat))
        let ingestor = EventIngestor(source: .replay, quarantine: nil, logger: logger,
                                     badEventLogsPerMinute: settings.ingest.badEventLogsPerMinute)
        var lines = 0
        var bad: [RejectReason: Int] = [:]
        let started = DispatchTime.now()
        // Lines are parsed on a second thread while this one applies them, in order.
        try shard.write { writer in
            try ReplayPipeline(reader: NDJSONReader(path: file), parser: parser).run(ingestor: ingestor, writer: writer) { rejection in
                lines += 1
                if let rejection { bad[rejection.reason, default: 0] += 1 }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        try ingestor.flush()

        if dumpHourly {
            // The input labels (the corpus' series.csv columns): every series here is source="replay".
            shard.forEachBucket(stepSeconds: 3600) { labels, start, sum, _ in rows.append(HourRow(start: start, labels: Array(labels.dropLast()), sum: sum)) }
            rows.sort { $0.start != $1.start ? $0.start < $1.start : $0.labels.lexicographicallyPrecedes($1.labels) }
            var out = "timestamp," + settings.store.inputLabelNames.joined(separator: ",") + ",cost\n"
            for row in rows {
                out += UTCCalendar.iso8601(millis: row.start) + "," + row.labels.joined(separator: ",") + ",\(row.sum)\n"
                if out.utf8.count > 1 << 20 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
        let accepted = lines - bad.values.reduce(0, +)
        var summary = "replayed \(lines) events: \(accepted) counted, \(lines - accepted) bad"
        if !bad.isEmpty { summary += " (" + bad.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ") + ")" }
        summary += "; \(store.seriesCount) series; \(String(format: "%.3f", seconds)) s, \(Int(Double(lines) / max(seconds, 1e-9))) events/s"
        if let w = store.watermarkMillis { summary += "; watermark \(UTCCalendar.iso8601(millis: w))" }
        FileHandleOutput.standardError(summary + "\n")
    }

    struct HourRow {
        let start: Int64
        let labels: [String]
        let sum: Double
    }
}
