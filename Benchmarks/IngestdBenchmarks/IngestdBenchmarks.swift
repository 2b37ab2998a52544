// Speed and memory numbers of the ingest path and the window store (release build, one core).
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
//   (or `make bench`; add `--filter parse` etc. to run a subset)
//
// Each benchmark runs in its own process. Besides the table, every benchmark prints a summary
// line starting with `ingestd-bench:` on stderr (events/s with the target, bytes per series,
// query p50/p99), so the headline numbers can be grepped from the run's output:
//   swift package --allow-writing-to-package-directory benchmark 2>&1 | grep ingestd-bench
//
// Reading the tables: "Malloc (total)" counts the runner's own allocations too (see the
// "reference: empty measured region" benchmark); a pass whose count equals the reference made
// no allocation itself. Targets: parse+apply ≥ 20× Foundation's JSONDecoder measured in the same
// process (absolute rates swing 2× with the machine's load; the ratio does not), with no
// allocation per event once the series exist; bytes/series within 10% of Σ buckets × 12 B.
//
// Corpus: the dev corpus (151,058 coststream lines, 36 series, 70 days of event time), from
// $BENCH_CORPUS, else ../../shared/data/cost-anomaly-dev/events.jsonl.gz relative to this
// package, else /work/shared/data/cost-anomaly-dev/events.jsonl.gz.

import Benchmark
import Foundation
import Stream

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Metrics and output

enum Metrics {
    /// Events per second of one pass, measured around the pass itself.
    static let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
    /// The store's own accounting (`ShardStatistics.allocatedBytes`) divided by the series count.
    static let allocatedPerSeries = BenchmarkMetric.custom("bytes/series (store allocatedBytes)", useScalingFactor: false)
    /// Growth of the resident set (/proc/self/statm) while the store was built, per series.
    static let residentPerSeries = BenchmarkMetric.custom("bytes/series (RSS growth)", useScalingFactor: false)
}

func report(_ line: String) {
    FileHandle.standardError.write(Data(("ingestd-bench: " + line + "\n").utf8))
}

/// Collects per-iteration numbers and prints one summary line per benchmark from the global
/// teardown hook: the runner discards a benchmark's output while it runs (`--no-progress`), and
/// the teardown runs after output is restored. Each benchmark runs in its own process.
final class Summary: @unchecked Sendable {
    static let shared = Summary()
    private let lock = NSLock()
    private var samples: [String: [Double]] = [:]
    private var skip: [String: Int] = [:]
    private var formats: [String: ([Double]) -> String] = [:]
    private var order: [String] = []
    private var lines: [String] = []

    /// `format` turns the samples (warm-up iterations dropped) into the printed line.
    func record(_ key: String, _ value: Double, warmup: Int, _ format: @escaping ([Double]) -> String) {
        lock.lock(); defer { lock.unlock() }
        if samples[key] == nil { order.append(key); samples[key] = []; skip[key] = warmup; formats[key] = format }
        samples[key]!.append(value)
    }

    /// A line printed after the others: median(numerator) / median(denominator), judged
    /// against `target`.
    func ratio(_ name: String, _ numerator: String, over denominator: String, target: Double) {
        lock.lock(); defer { lock.unlock() }
        ratios.append((name, numerator, denominator, target))
    }
    private var ratios: [(name: String, numerator: String, denominator: String, target: Double)] = []

    func line(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        lines.append(text)
    }

    func flush() {
        lock.lock(); defer { lock.unlock() }
        for key in order {
            var values = samples[key]!
            if values.count > skip[key]! { values.removeFirst(skip[key]!) }
            report(formats[key]!(values))
        }
        for text in lines { report(text) }
        for r in ratios {
            guard var top = samples[r.numerator], var bottom = samples[r.denominator] else { continue }
            if top.count > skip[r.numerator]! { top.removeFirst(skip[r.numerator]!) }
            if bottom.count > skip[r.denominator]! { bottom.removeFirst(skip[r.denominator]!) }
            guard !top.isEmpty, !bottom.isEmpty else { continue }
            let ratio = Summary.percentile(top, 50) / Summary.percentile(bottom, 50)
            report("\(r.name): \(String(format: "%.1f", ratio))× (medians, \(top.count) and \(bottom.count) passes in this process); "
                + "target ≥ \(String(format: "%g", r.target))× " + (ratio >= r.target ? "met" : "MISSED"))
        }
        samples = [:]; order = []; lines = []; ratios = []
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        // Nearest rank.
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// "median X events/s (min … max, N passes)".
func rateSummary(_ name: String, target: Double? = nil) -> ([Double]) -> String {
    { values in
        let median = Summary.percentile(values, 50)
        var text = "\(name): median \(grouped(Int(median))) events/s (min \(grouped(Int(values.min() ?? 0))), "
            + "max \(grouped(Int(values.max() ?? 0))), \(values.count) passes; \(String(format: "%.0f", 1e9 / median)) ns/event)"
        if let target {
            text += median >= target
                ? "; target ≥ \(grouped(Int(target))) met"
                : "; target ≥ \(grouped(Int(target))) MISSED by \(String(format: "%.1f", (1 - median / target) * 100))%"
        }
        return text
    }
}

func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}

func percent(_ measured: Double, over expected: Double) -> String {
    String(format: "%+.1f%%", (measured / expected - 1) * 100)
}

/// Resident set size of this process in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

// MARK: - Corpus

/// The dev corpus in one contiguous buffer with one byte range per line; loaded once per process.
final class Corpus: @unchecked Sendable {
    let path: String
    let bytes: UnsafeMutableRawBufferPointer
    /// Line i is bytes[bounds[2i] ..< bounds[2i+1]] (newline excluded).
    let bounds: UnsafeMutableBufferPointer<Int>
    let count: Int
    /// Line numbers (0-based) of each series' first event: applied before a measured pass so the
    /// pass runs on the steady state (every series already exists).
    let firstLineOfEachSeries: [Int]

    static let shared: Corpus = {
        do { return try Corpus.load() } catch {
            fatalError("cannot load the corpus: \(error)")
        }
    }()

    private init(path: String, data: [UInt8], ranges: [Range<Int>], firstLines: [Int]) {
        self.path = path
        bytes = .allocate(byteCount: max(data.count, 1), alignment: 64)
        bytes.copyBytes(from: data)
        bounds = .allocate(capacity: ranges.count * 2)
        for (i, r) in ranges.enumerated() {
            bounds[2 * i] = r.lowerBound
            bounds[2 * i + 1] = r.upperBound
        }
        count = ranges.count
        firstLineOfEachSeries = firstLines
    }

    @inline(__always)
    func line(_ i: Int) -> UnsafeRawBufferPointer {
        let start = bounds[2 &* i]
        return UnsafeRawBufferPointer(start: bytes.baseAddress! + start, count: bounds[2 &* i &+ 1] &- start)
    }

    var byteCount: Int { bounds[2 * count - 1] }

    static func locate() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["BENCH_CORPUS"], !env.isEmpty { candidates.append(env) }
        let relative = "shared/data/cost-anomaly-dev/events.jsonl.gz"
        let cwd = FileManager.default.currentDirectoryPath
        candidates.append(cwd + "/../../" + relative) // cwd = Benchmarks/
        // This file is Benchmarks/IngestdBenchmarks/IngestdBenchmarks.swift in the checkout.
        let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageDir.appendingPathComponent("../../" + relative).standardizedFileURL.path)
        candidates.append("/work/" + relative)
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    static func load() throws -> Corpus {
        guard let path = locate() else {
            throw NDJSONReader.ReadError.cannotOpen("events.jsonl.gz", "set BENCH_CORPUS to the dev corpus (events.jsonl.gz)")
        }
        var data: [UInt8] = []
        data.reserveCapacity(40 << 20)
        var ranges: [Range<Int>] = []
        var seen = Set<[String]>()
        var firstLines: [Int] = []
        let parser = EventParser(options: EventParserOptions())
        try NDJSONReader(path: path).forEachLine { line, _ in
            if parser.parse(line) == nil {
                let key = (0..<parser.labelCount).map { String(decoding: parser.labelValue($0), as: UTF8.self) }
                if seen.insert(key).inserted { firstLines.append(ranges.count) }
            }
            let start = data.count
            data.append(contentsOf: line)
            ranges.append(start..<data.count)
            data.append(UInt8(ascii: "\n"))
        }
        let corpus = Corpus(path: path, data: data, ranges: ranges, firstLines: firstLines)
        report("corpus \(path): \(grouped(corpus.count)) lines, \(grouped(data.count)) bytes, \(firstLines.count) series")
        return corpus
    }
}

// MARK: - The passes (one write scope per pass, as `ingestd replay` does)

/// Parses every corpus line and applies it; returns how many were counted.
@inline(never)
func parseAndApplyPass(_ corpus: Corpus, parser: EventParser, shard: Shard) -> Int {
    shard.write { writer in
        var counted = 0
        for i in 0..<corpus.count {
            if parser.parse(corpus.line(i)) == nil,
               writer.apply(parser, timestampMillis: parser.timestampMillis, cost: parser.cost) == nil {
                counted &+= 1
            }
        }
        return counted
    }
}

/// `parseAndApplyPass` with every event moved into one clock hour (`timestampMillis`): the
/// corpus spans 70 days, so with its own times a repeated pass reaches the per-series
/// contributor sketch (current and previous hour only) for almost no event; here every event does.
@inline(never)
func parseAndApplyOneHourPass(_ corpus: Corpus, parser: EventParser, shard: Shard, timestampMillis: Int64) -> Int {
    shard.write { writer in
        var counted = 0
        for i in 0..<corpus.count {
            if parser.parse(corpus.line(i)) == nil,
               writer.apply(parser, timestampMillis: timestampMillis, cost: parser.cost) == nil {
                counted &+= 1
            }
        }
        return counted
    }
}

/// Parses every corpus line; returns how many parsed (plus a checksum so nothing is elided).
@inline(never)
func parsePass(_ corpus: Corpus, parser: EventParser) -> (parsed: Int, checksum: Double) {
    var parsed = 0
    var checksum = 0.0
    for i in 0..<corpus.count where parser.parse(corpus.line(i)) == nil {
        parsed &+= 1
        checksum += parser.cost
    }
    return (parsed, checksum)
}

/// The baseline: the same lines through Foundation's JSONDecoder into a Codable struct.
struct CodableCostEvent: Decodable {
    var accountId: String
    var service: String
    var region: String?
    var resourceId: String?
    var cost: Double
    var currency: String?
    var timestamp: String
    var metadata: Metadata?

    struct Metadata: Decodable {
        var usageType: String?
        var source: String?
    }
}

@inline(never)
func jsonDecoderPass(_ corpus: Corpus, decoder: JSONDecoder, lines: Int? = nil) -> (decoded: Int, checksum: Double) {
    var decoded = 0
    var checksum = 0.0
    for i in 0..<(lines ?? corpus.count) {
        let line = corpus.line(i)
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: line.baseAddress!), count: line.count, deallocator: .none)
        if let event = try? decoder.decode(CodableCostEvent.self, from: data) {
            decoded &+= 1
            checksum += event.cost
        }
    }
    return (decoded, checksum)
}

/// A fresh store with the default configuration whose series all exist (each series' first
/// event applied with cost 0), so a pass measures the steady state, not series creation.
func warmedReplayShard(_ corpus: Corpus, parser: EventParser) -> (WindowStore, Shard) {
    let store = WindowStore(configuration: StoreConfiguration())
    let shard = store.shard("replay")
    shard.write { writer in
        for i in corpus.firstLineOfEachSeries where parser.parse(corpus.line(i)) == nil {
            _ = writer.apply(parser, timestampMillis: parser.timestampMillis, cost: 0)
        }
    }
    return (store, shard)
}

// MARK: - Synthetic stores

let juneFirst2026Millis = UTCCalendar.days(year: 2026, month: 6, day: 1) * 86_400_000

func totalAllocatedBytes(_ store: WindowStore) -> Int {
    store.allShards.reduce(0) { $0 + $1.statistics.allocatedBytes }
}

/// Builds `seriesCount` series (distinct accounts) in one shard with the default resolutions
/// and reports the store's accounting and the RSS growth per series.
func measureBytesPerSeries(_ benchmark: Benchmark, seriesCount: Int, fillEveryBucket: Bool) {
    let configuration = StoreConfiguration()
    let labels = (0..<seriesCount).map { StringLabels([String(format: "acct-%06d", $0), "AmazonEC2", "us-east-1", "USD"]) }
    let buckets = configuration.resolutions.reduce(0) { $0 + $1.buckets }
    let expected = buckets * 12
    let minute = configuration.resolutions[0]
    let hour = configuration.resolutions[1]

    let rssBefore = residentBytes()
    benchmark.startMeasurement()
    let store = WindowStore(configuration: configuration)
    let shard = store.shard("memory")
    var events = 0
    shard.write { writer in
        for source in labels {
            if fillEveryBucket {
                // One event in each of the 840 hours the 1h ring keeps, then one in each of the
                // 2880 minutes of the last 48h (which the 1m ring keeps): every bucket of both
                // rings is written, so every page of the series' rings is really touched.
                let hours = Int64(hour.buckets)
                for h in 0..<hours {
                    _ = writer.apply(source, timestampMillis: juneFirst2026Millis + h * hour.stepMillis, cost: 1)
                }
                let end = juneFirst2026Millis + hours * hour.stepMillis
                let minutes = Int64(minute.buckets)
                for m in 0..<minutes {
                    _ = writer.apply(source, timestampMillis: end - (minutes - m) * minute.stepMillis, cost: 1)
                }
                events += hour.buckets + minute.buckets
            } else {
                _ = writer.apply(source, timestampMillis: juneFirst2026Millis, cost: 1)
                events += 1
            }
        }
    }
    benchmark.stopMeasurement()
    let rssAfter = residentBytes()

    let stats = shard.statistics
    guard stats.series == seriesCount else {
        benchmark.error("expected \(seriesCount) series, the store has \(stats.series)")
        return
    }
    if fillEveryBucket {
        // Every bucket of every series is non-empty.
        var filled = [Int64: Int]()
        for r in configuration.resolutions {
            var n = 0
            shard.forEachBucket(stepSeconds: r.stepSeconds) { _, _, _, _ in n += 1 }
            filled[r.stepSeconds] = n
        }
        let expectedFilled = [minute.stepSeconds: minute.buckets * seriesCount, hour.stepSeconds: hour.buckets * seriesCount]
        if filled != expectedFilled {
            benchmark.error("not every bucket was written: \(filled) vs \(expectedFilled)")
            return
        }
    }
    let allocated = totalAllocatedBytes(store)
    let perSeriesAllocated = Double(allocated) / Double(seriesCount)
    let perSeriesResident = Double(rssAfter - rssBefore) / Double(seriesCount)
    benchmark.measurement(Metrics.allocatedPerSeries, Int(perSeriesAllocated.rounded()))
    benchmark.measurement(Metrics.residentPerSeries, Int(perSeriesResident.rounded()))
    Summary.shared.line("bytes/series, default resolutions (1m×\(minute.buckets) + 1h×\(hour.buckets) = \(buckets) buckets × 12 B = \(grouped(expected)) B expected), "
        + "\(grouped(seriesCount)) series, \(grouped(events)) events\(fillEveryBucket ? " (every bucket written)" : " (one each)"): "
        + "store allocatedBytes \(grouped(Int(perSeriesAllocated))) B/series (\(percent(perSeriesAllocated, over: Double(expected)))), "
        + "RSS growth \(grouped(Int(perSeriesResident))) B/series (\(percent(perSeriesResident, over: Double(expected)))), "
        + "configuration.ringBytesPerSeries \(grouped(configuration.ringBytesPerSeries)) B")
    withExtendedLifetime(store) {}
}

/// 100,000 series: 1,000 accounts × 100 services (half named Amazon…, half AWS…), spread over
/// 6 shards like the partitions of a topic, each series with 3 events in the last hour.
struct QueryFixture: @unchecked Sendable {
    let store: WindowStore
    let atMillis: Int64
    let accounts: Int
    let services: Int
    let expectedTotal: Double
    let expectedAmazonTotal: Double

    static func make(accounts: Int = 1_000, services: Int = 100, shards: Int = 6) -> QueryFixture {
        let started = ContinuousClock.now
        let configuration = StoreConfiguration(maxSeries: accounts * services)
        let store = WindowStore(configuration: configuration)
        let shardList = (0..<shards).map { store.shard("kafka/cost-events/\($0)") }
        let serviceNames = (0..<services).map { $0 % 2 == 0 ? "AmazonService\($0)" : "AWSService\($0)" }
        let atMillis = juneFirst2026Millis + 10 * 86_400_000 + 12 * 3_600_000 + 30_000 // 2026-06-11T12:00:30Z
        var total = 0.0
        var amazon = 0.0
        for a in 0..<accounts {
            let account = String(format: "%012d", 100_000_000_000 + a * 7919)
            shardList[a % shards].write { writer in
                for s in 0..<services {
                    let labels = StringLabels([account, serviceNames[s], "us-east-1", "USD"])
                    for k in 0..<3 {
                        // Minutes 1, 18, 35 (+ a spread) before `at`: all inside "last 1h".
                        let ts = atMillis - Int64(1 + k * 17 + (a + s) % 10) * 60_000
                        let cost = Double((a * 31 + s * 7 + k) % 1000) / 100
                        if writer.apply(labels, timestampMillis: ts, cost: cost) == nil {
                            total += cost
                            if s % 2 == 0 { amazon += cost }
                        }
                    }
                }
            }
        }
        let fixture = QueryFixture(store: store, atMillis: atMillis, accounts: accounts, services: services,
                                   expectedTotal: total, expectedAmazonTotal: amazon)
        Summary.shared.line("query fixture: \(grouped(store.seriesCount)) series in \(shards) shards, "
            + "\(grouped(totalAllocatedBytes(store) >> 20)) MiB allocated, built in \(String(format: "%.1f", seconds(ContinuousClock.now - started))) s")
        return fixture
    }
}

func runQuery(_ benchmark: Benchmark, _ fixture: QueryFixture, _ name: String, _ query: WindowQuery, expectedTotal: Double) {
    let answer: WindowAnswer
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    do { answer = try fixture.store.query(query, atMillis: fixture.atMillis) } catch {
        benchmark.error("query failed: \(error)")
        return
    }
    let elapsed = ContinuousClock.now - start
    benchmark.stopMeasurement()
    Summary.shared.record(name, seconds(elapsed) * 1000, warmup: 2) { ms in
        "\(name) over \(grouped(fixture.store.seriesCount)) series (\(fixture.accounts) groups): "
            + String(format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d queries)",
                     Summary.percentile(ms, 50), Summary.percentile(ms, 99), ms.max() ?? 0, ms.count)
    }
    let total = answer.groups.reduce(0) { $0 + $1.sum }
    if answer.groups.count != fixture.accounts || abs(total - expectedTotal) > 1e-6 * max(1, expectedTotal) {
        benchmark.error("wrong answer: \(answer.groups.count) groups, total \(total), expected \(fixture.accounts) groups, \(expectedTotal)")
    }
    blackHole(answer)
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(5),
        maxIterations: 40)
    Benchmark.teardown = { Summary.shared.flush() }

    // The runner's own cost per measured region with the ingest benchmarks' metrics (sampling
    // CPU time allocates): subtract its "Malloc (total)" before dividing by the events of a pass.
    Benchmark(
        "reference: empty measured region",
        configuration: .init(metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocCountLarge],
                             warmupIterations: 1, maxDuration: .seconds(1), maxIterations: 1000)
    ) { benchmark in
        blackHole(benchmark)
    }

    // --- Ingest: parse + apply, parse only, JSONDecoder baseline -------------------------------

    Benchmark(
        "ingest: parse+apply, dev corpus, default store (1 pass = 151,058 events, series pre-created)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocCountLarge, Metrics.eventsPerSecond],
            warmupIterations: 2, maxDuration: .seconds(6), maxIterations: 40)
    ) { benchmark, parser in
        let corpus = Corpus.shared
        let decoder = JSONDecoder()
        let (store, shard) = warmedReplayShard(corpus, parser: parser)
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        let counted = parseAndApplyPass(corpus, parser: parser, shard: shard)
        let elapsed = ContinuousClock.now - start
        benchmark.stopMeasurement()
        if counted != corpus.count { benchmark.error("\(corpus.count - counted) of \(corpus.count) events were not counted") }
        let eps = Double(corpus.count) / seconds(elapsed)
        benchmark.measurement(Metrics.eventsPerSecond, Int(eps))
        Summary.shared.record("parse+apply", eps, warmup: 2,
                              rateSummary("parse+apply (EventParser + Shard.write/apply, default store, 1 core)"))
        withExtendedLifetime(store) {}
        // The baseline of the target, interleaved with the passes (outside the measured region)
        // so that both see the same load: JSONDecoder over the first lines of the corpus.
        let sample = min(corpus.count, 15_000)
        let decoderStart = ContinuousClock.now
        let decoded = jsonDecoderPass(corpus, decoder: decoder, lines: sample)
        let decoderElapsed = ContinuousClock.now - decoderStart
        if decoded.decoded != sample { benchmark.error("\(sample - decoded.decoded) lines did not decode") }
        blackHole(decoded.checksum)
        Summary.shared.record("JSONDecoder, same process", Double(sample) / seconds(decoderElapsed), warmup: 1,
                              rateSummary("Foundation JSONDecoder, interleaved with the parse+apply passes (\(grouped(sample)) lines each)"))
    } setup: {
        _ = Corpus.shared
        Summary.shared.ratio("parse+apply / JSONDecoder", "parse+apply", over: "JSONDecoder, same process", target: 20)
        return EventParser(options: EventParserOptions())
    }

    Benchmark(
        "ingest: parse+apply, dev corpus, one event hour (1 pass = 151,058 events, each into its series' contributor sketch)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocCountLarge, Metrics.eventsPerSecond],
            warmupIterations: 2, maxDuration: .seconds(6), maxIterations: 40)
    ) { benchmark, parser in
        let corpus = Corpus.shared
        let (store, shard) = warmedReplayShard(corpus, parser: parser)
        // The hour after the corpus's newest event: every ring and sketch takes every event.
        let hour = (shard.statistics.watermarkMillis ?? 0) / 3_600_000 * 3_600_000 + 3_600_000
        // One unmeasured pass first, so the sketches and the name table know every id (a fresh
        // store's first pass allocates them: 2 chunks and the table's growth, ≈ 12 mallocs); the
        // measured pass's "Malloc (total)" then equals the reference's if no event allocates.
        _ = parseAndApplyOneHourPass(corpus, parser: parser, shard: shard, timestampMillis: hour + 1_800_000)
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        let counted = parseAndApplyOneHourPass(corpus, parser: parser, shard: shard, timestampMillis: hour + 1_800_000)
        let elapsed = ContinuousClock.now - start
        benchmark.stopMeasurement()
        if counted != corpus.count { benchmark.error("\(corpus.count - counted) of \(corpus.count) events were not counted") }
        let eps = Double(corpus.count) / seconds(elapsed)
        benchmark.measurement(Metrics.eventsPerSecond, Int(eps))
        Summary.shared.record("parse+apply, one hour", eps, warmup: 2,
                              rateSummary("parse+apply, every event in one clock hour (EventParser + Shard.write/apply, default store, 1 core)"))
        withExtendedLifetime(store) {}
    } setup: {
        _ = Corpus.shared
        return EventParser(options: EventParserOptions())
    }

    Benchmark(
        "ingest: parse only, dev corpus (1 pass = 151,058 events)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, Metrics.eventsPerSecond],
            warmupIterations: 2, maxDuration: .seconds(5), maxIterations: 40)
    ) { benchmark, parser in
        let corpus = Corpus.shared
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        let result = parsePass(corpus, parser: parser)
        let elapsed = ContinuousClock.now - start
        benchmark.stopMeasurement()
        if result.parsed != corpus.count { benchmark.error("\(corpus.count - result.parsed) lines did not parse") }
        blackHole(result.checksum)
        let eps = Double(corpus.count) / seconds(elapsed)
        benchmark.measurement(Metrics.eventsPerSecond, Int(eps))
        let bytesPerEvent = Double(corpus.byteCount) / Double(corpus.count)
        Summary.shared.record("parse", eps, warmup: 2) { values in
            rateSummary("parse only (EventParser)")(values)
                + String(format: ", %.0f MB/s of JSON", Summary.percentile(values, 50) * bytesPerEvent / 1e6)
        }
    } setup: {
        _ = Corpus.shared
        return EventParser(options: EventParserOptions())
    }

    Benchmark(
        "ingest: Foundation JSONDecoder baseline, dev corpus (1 pass = 151,058 events)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, Metrics.eventsPerSecond],
            warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 5)
    ) { benchmark, decoder in
        let corpus = Corpus.shared
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        let result = jsonDecoderPass(corpus, decoder: decoder)
        let elapsed = ContinuousClock.now - start
        benchmark.stopMeasurement()
        if result.decoded != corpus.count { benchmark.error("\(corpus.count - result.decoded) lines did not decode") }
        blackHole(result.checksum)
        let eps = Double(corpus.count) / seconds(elapsed)
        benchmark.measurement(Metrics.eventsPerSecond, Int(eps))
        Summary.shared.record("JSONDecoder", eps, warmup: 1, rateSummary("Foundation JSONDecoder baseline (Codable struct)"))
    } setup: {
        _ = Corpus.shared
        return JSONDecoder()
    }

    // --- Memory per series ---------------------------------------------------------------------
    // One iteration and no warm-up: the measured build must be the process's first, so that the
    // ring chunks come from fresh mmap'd pages rather than memory a previous iteration freed.

    Benchmark(
        "memory: bytes/series, 10,000 series × 1 event, default resolutions",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResidentDelta, .mallocCountTotal, Metrics.allocatedPerSeries, Metrics.residentPerSeries],
            warmupIterations: 0, maxDuration: .seconds(30), maxIterations: 1)
    ) { benchmark in
        measureBytesPerSeries(benchmark, seriesCount: 10_000, fillEveryBucket: false)
    }

    Benchmark(
        "memory: bytes/series, 1,000 series × every bucket written (3,720 events each), default resolutions",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResidentDelta, .mallocCountTotal, Metrics.allocatedPerSeries, Metrics.residentPerSeries],
            warmupIterations: 0, maxDuration: .seconds(30), maxIterations: 1)
    ) { benchmark in
        measureBytesPerSeries(benchmark, seriesCount: 1_000, fillEveryBucket: true)
    }

    // --- Query latency over 100,000 series -----------------------------------------------------

    Benchmark(
        "query: sum by (account) over last 1h, 100,000 series",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
            timeUnits: .milliseconds, warmupIterations: 2, maxDuration: .seconds(8), maxIterations: 200)
    ) { benchmark, fixture in
        let query = WindowQuery(by: ["account"], span: .last(seconds: 3600))
        runQuery(benchmark, fixture, "query sum by (account) [1h]", query, expectedTotal: fixture.expectedTotal)
    } setup: {
        QueryFixture.make()
    }

    Benchmark(
        "query: sum by (account) {service=~\"Amazon.*\"} over last 1h, 100,000 series",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
            timeUnits: .milliseconds, warmupIterations: 2, maxDuration: .seconds(8), maxIterations: 200)
    ) { benchmark, fixture in
        let query = WindowQuery(matchers: [try! LabelMatcher("service", .matches, "Amazon.*")],
                                by: ["account"], span: .last(seconds: 3600))
        runQuery(benchmark, fixture, "query sum by (account) {service=~\"Amazon.*\"} [1h]", query,
                 expectedTotal: fixture.expectedAmazonTotal)
    } setup: {
        QueryFixture.make()
    }

    registerRuleEvaluationBenchmarks()
    registerNotificationDeliveryBenchmarks()
    registerAnomalyDetectorBenchmarks()
    registerAnomalyRoundBenchmark()
}
