import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Stream

/// `ingestd run`: wires the store, persistence, inputs and the HTTP API into one service group
/// that starts in order and, on SIGTERM/SIGINT, stops in reverse: HTTP first, then the
/// consumer (which snapshots and commits), then the final HTTP-shard snapshot.
struct Daemon {
    let config: IngestdConfig
    let logger: Logger
    let registry: PrometheusCollectorRegistry

    func run() async throws {
        let dataDir = URL(fileURLWithPath: config.dataDir)
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: dataDir.appendingPathComponent("ingestd.db").path, migrations: StreamSchema.migrations)
        let quarantine = Quarantine(database: database, maxPayloadBytes: config.ingest.quarantinePayloadBytes)
        let snapshots = SnapshotStore(database: database)
        let journal = EventJournal(database: database)
        let store = WindowStore(configuration: config.store)
        let readiness = Readiness()
        let snapshotter = ShardSnapshotter(store: store, snapshots: snapshots, logger: logger)

        let idempotencyKeys = IdempotencyKeys(database: database)
        let sink = HTTPEventSink(store: store, journal: journal, idempotencyKeys: idempotencyKeys, quarantine: quarantine,
                                 formats: config.namedFormats.mapValues { config.parserOptions(format: $0) }, logger: logger,
                                 badEventLogsPerMinute: config.ingest.badEventLogsPerMinute)
        let restored = try sink.restore(from: snapshots)
        logger.info("http shard restored", metadata: ["from_snapshot": "\(restored.fromSnapshot)", "journal_entries": "\(restored.journaled)"])

        var services: [any Service] = [
            PeriodicSnapshotService(snapshotter: snapshotter, intervalSeconds: config.snapshotIntervalSeconds,
                                    shardKeys: [HTTPEventSink.shardKey], logger: logger),
            QuarantineRetentionService(quarantine: quarantine, maxRows: config.ingest.quarantineMaxRows, logger: logger),
            IdempotencyKeyRetentionService(keys: idempotencyKeys, clock: WallClock.nowMillis, logger: logger),
        ]
        var kafka: KafkaIngestService?
        if config.kafka.enabled {
            let service = KafkaIngestService(config: config, store: store, snapshotter: snapshotter,
                                             quarantine: quarantine, readiness: readiness, logger: logger)
            services.append(service)
            kafka = service
        }

        let router = Router()
        HealthEndpoints(readiness: readiness).register(on: router)
        MetricsEndpoint(registry: registry, refresh: { [kafka] in
            StoreGauges.refresh(store, quarantine: quarantine)
            kafka?.refreshGauges()
        }).register(on: router)
        EventsEndpoint(sink: sink, maxBodyBytes: config.http.maxBodyBytes, clock: WallClock.nowMillis).register(on: router)
        SeriesEndpoint(store: store, clock: WallClock.nowMillis).register(on: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(config.http.host, port: config.http.port), serverName: "ingestd"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        services.append(app)

        var groupConfig = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Past shutdown.grace the services are cancelled: the consumer thread still snapshots
        // what it holds on its way out, and the next start replays the rest from the broker.
        groupConfig.maximumGracefulShutdownDuration = .seconds(config.shutdownGraceSeconds)
        let group = ServiceGroup(configuration: groupConfig)
        logger.info("ingestd started", metadata: [
            "version": "\(IngestdVersion.string)", "data_dir": "\(config.dataDir)",
            "resolutions": "\(config.store.resolutions.map(\.description).joined(separator: ", "))",
            "max_series": "\(config.store.maxSeries)",
        ])
        try await group.run()
        logger.info("ingestd stopped")
    }
}

/// State gauges, refreshed at scrape time (never on the event path).
enum StoreGauges {
    static func refresh(_ store: WindowStore, quarantine: Quarantine) {
        Gauge(label: "ingestd_series").record(store.seriesCount)
        Gauge(label: "ingestd_series_limit").record(store.configuration.maxSeries)
        Gauge(label: "ingestd_store_ring_bytes_per_series").record(store.configuration.ringBytesPerSeries)
        var allocated = 0
        for shard in store.allShards {
            let stats = shard.statistics
            allocated += stats.allocatedBytes
            if let w = stats.watermarkMillis {
                Gauge(label: "ingestd_watermark_seconds", dimensions: [("shard", shard.key)]).record(Double(w) / 1000)
            }
        }
        Gauge(label: "ingestd_store_allocated_bytes").record(allocated)
        if let n = try? quarantine.count() { Gauge(label: "ingestd_quarantine_rows").record(n) }
    }
}
