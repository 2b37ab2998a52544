import Foundation
import Alerts
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
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
    /// `--discard-http-history`: accept losing HTTP history that a store layout change cannot convert.
    var discardHTTPHistory = false
    /// Reread on SIGHUP and POST /v1/reload for the tokens and the TLS certificate.
    var configPath: String?

    func run() async throws {
        let dataDir = URL(fileURLWithPath: config.dataDir)
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: dataDir.appendingPathComponent("ingestd.db").path, schema: [StreamSchema.module, AlertHistory.module])
        let quarantine = Quarantine(database: database, maxPayloadBytes: config.ingest.quarantinePayloadBytes)
        let journal = EventJournal(database: database)
        let store = WindowStore(configuration: config.store)
        let readiness = Readiness()
        // A snapshot from another store layout is converted (a new label reads as its default;
        // the currency of history from before the currency label is the first configured one).
        let engine = PartitionEngine(store: store, snapshots: SnapshotStore(database: database),
                                     conversion: LayoutConversion(labelDefaults: ["currency": config.ingest.currencies.first ?? "USD"]),
                                     logger: logger)

        // Alert state is partition state: registered before any partition is restored, so
        // pending and firing alerts come back with the windows they were computed from.
        let alerts = AlertTable()
        engine.register(alerts)
        let ruleLoader = RuleFileLoader(store: config.store, defaultIntervalSeconds: config.rules.evaluationIntervalSeconds)
        let rules = try RuleRegistry(patterns: config.rules.files, nowMillis: WallClock.nowMillis()) { [config] () throws(ConfigErrors) in
            try ruleLoader.loadAll(patterns: config.rules.files, origin: config.rules.filesOrigin)
        }
        RuleReloader.record(rules.status)
        let evaluator = RuleEvaluator(engine: engine, table: alerts)
        // Before any partition is restored: alerts of rules removed while the daemon was down
        // do not come back.
        evaluator.retain(rules: rules.ruleKeys)
        // Notifications have their own database: a multi-megabyte snapshot transaction must never
        // hold up a delivery's bookkeeping.
        let notifyDatabase = try SQLiteDatabase(path: dataDir.appendingPathComponent("notifications.db").path,
                                                schema: [Outbox.module, NotifySchema.module, StreamLog.module])
        let silences = try SilenceStore(database: notifyDatabase)
        let outbox = Outbox(database: notifyDatabase)
        let notifier = Notifier(
            dispatcher: try Dispatcher(database: notifyDatabase, silences: silences, config: rules.notifications,
                                       externalURL: config.externalURL, logger: logger),
            delivery: NotificationDelivery(outbox: outbox, logger: logger,
                                           userAgent: "ingestd/\(IngestdVersion.string)"))
        notifier.configure(rules.notifications, now: WallClock.nowMillis())
        if let horizon = notifier.dispatcher.recoveryHorizon {
            // At most a week back: older notifications have long been repeated or resolved.
            let since = max(horizon, WallClock.nowMillis() - 7 * 86_400_000)
            let history = try AlertHistory(database: database).entries(sinceMillis: since, limit: 100_000).map(\.transition)
            notifier.dispatcher.recover(history: history, now: WallClock.nowMillis())
        }
        if rules.notifications.route == nil {
            logger.notice("no rule file defines route: alerts are not notified (README: Notifications)")
        }
        let stream = StreamPublisher(hub: try StreamHub(log: StreamLog(database: notifyDatabase), queueLimit: config.stream.clientQueue,
                                                             maxClients: config.stream.maxClients, logger: logger), outbox: outbox)
        let reloader = RuleReloader(registry: rules, evaluator: evaluator, notifier: notifier, stream: stream, logger: logger)
        logger.info("rules loaded", metadata: ["groups": "\(rules.groups.count)", "rules": "\(rules.ruleKeys.count)",
                                               "files": "\(config.rules.files.joined(separator: ", "))"])

        let idempotencyKeys = IdempotencyKeys(database: database)
        let sink = HTTPEventSink(store: store, journal: journal, idempotencyKeys: idempotencyKeys, quarantine: quarantine,
                                 formats: config.namedFormats.mapValues { config.parserOptions(format: $0) }, logger: logger,
                                 badEventLogsPerMinute: config.ingest.badEventLogsPerMinute)
        let restored = try sink.restore(engine: engine, discardUnconvertible: discardHTTPHistory)
        // Saved at once, so the journal that follows is always in the snapshot's layout.
        try engine.save([HTTPEventSink.shardKey], journaled: [HTTPEventSink.shardKey], nowMillis: WallClock.nowMillis())
        logger.info("http shard restored", metadata: ["from_snapshot": "\(restored.fromSnapshot)", "journal_entries": "\(restored.journaled)"])

        var costExplorer: CostExplorerPoller?
        if let ce = config.costExplorer {
            let state = CostExplorerState(configuration: ce)
            engine.register(state)
            let poller = CostExplorerPoller(
                configuration: ce,
                client: try AWSJSONClient(endpoint: ce.endpoint, region: ce.region, service: "ce", timeoutMillis: ce.requestTimeoutSeconds * 1000),
                credentials: AWSCredentialProvider(environment: ProcessInfo.processInfo.environment, profile: ce.profile),
                budget: RequestBudget(database: database, perDay: ce.requestsPerDay), engine: engine, state: state,
                currencies: .init(codes: config.ingest.currencies, rates: config.ingest.conversionRates), logger: logger)
            // Before any service runs: the evaluator and the poller find the partition restored.
            logger.info("cost explorer partition \(poller.restore())", metadata: [
                "endpoint": "\(ce.endpoint)", "granularity": "\(ce.granularity.rawValue)",
                "interval": "\(DurationText.format(seconds: ce.intervalSeconds))", "budget_requests_per_day": "\(ce.requestsPerDay)",
                "unsourced_selectors_read": "\(config.store.sourcesOutsideDefault.isEmpty ? "every source" : "every source but \(config.store.sourcesOutsideDefault.joined(separator: ", "))")"])
            readiness.block(CostExplorerService.component, "cost explorer: the first poll has not completed", partial: false)
            costExplorer = poller
        }

        var services: [any Service] = [
            // The HTTP partition; the Cost Explorer one is saved by its poller (one writer each).
            PeriodicSnapshotService(engine: engine, intervalSeconds: config.snapshotIntervalSeconds,
                                    keys: [HTTPEventSink.shardKey], logger: logger),
            QuarantineRetentionService(quarantine: quarantine, maxRows: config.ingest.quarantineMaxRows, logger: logger),
            IdempotencyKeyRetentionService(keys: idempotencyKeys, clock: WallClock.nowMillis, logger: logger),
        ]
        var kafka: KafkaIngestService?
        if config.kafka.enabled {
            let service = KafkaIngestService(config: config, engine: engine, quarantine: quarantine,
                                             readiness: readiness, logger: logger)
            services.append(service)
            kafka = service
        }
        if let costExplorer { services.append(CostExplorerService(poller: costExplorer, readiness: readiness, logger: logger)) }

        // After the inputs: shutdown runs in reverse, so evaluation stops before the final snapshots.
        services.append(NotificationService(notifier: notifier, silences: silences, logger: logger))
        services.append(RuleEvaluationService(registry: rules, evaluator: evaluator, reloader: reloader,
                                              readiness: readiness, notifier: notifier, stream: stream, logger: logger))
        let tokens = TokenStore(config.auth)
        let certificates = try config.http.tls.map { settings throws(TLSCertificates.LoadError) in try TLSCertificates(settings) }
        let access = AccessReloader(configPath: configPath, started: config, tokens: tokens, certificates: certificates, logger: logger)
        if !config.auth.enabled {
            logger.warning("auth.tokens is empty: the HTTP API is open to anyone who can reach the listener (README: Auth and TLS)",
                           metadata: ["listen": "\(config.http.host):\(config.http.port)"])
        }
        services.append(RuleReloadSignalService(reloader: reloader, access: access))

        let router = Router(context: IngestdRequestContext.self)
        // First: every route and the /v1/stream upgrade pass the token check.
        router.add(middleware: AuthMiddleware(tokens: tokens, logger: logger))
        HealthEndpoints(readiness: readiness).register(on: router)
        MetricsEndpoint(registry: registry, refresh: { [kafka] in
            StoreGauges.refresh(store, quarantine: quarantine)
            kafka?.refreshGauges()
        }).register(on: router)
        EventsEndpoint(sink: sink, maxBodyBytes: config.http.maxBodyBytes, clock: WallClock.nowMillis).register(on: router)
        SeriesEndpoint(store: store, clock: WallClock.nowMillis, readiness: readiness).register(on: router)
        RulesEndpoint(registry: rules, evaluator: evaluator, reloader: reloader, access: access).register(on: router)
        SilencesEndpoint(silences: silences, clock: WallClock.nowMillis).register(on: router)
        AnomalyEndpoint(evaluator: evaluator, database: database, clock: WallClock.nowMillis).register(on: router)
        NotificationsEndpoint(outbox: outbox).register(on: router)
        AWSAnomaliesEndpoint(poller: costExplorer).register(on: router)
        StreamEndpoint(hub: stream.hub, store: store, logger: logger).register(on: router)
        AlertsEndpoint(table: alerts, history: AlertHistory(database: database), clock: WallClock.nowMillis).register(on: router)
        PageEndpoint().register(on: router)
        // The WebSocket upgrade (/v1/stream) shares the listener and its middleware (auth).
        let plain: HTTPServerBuilder = .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(closeTimeout: .seconds(5))))
        let app = Application(
            router: router,
            // TLS wraps the whole channel, upgrade included: plain HTTP on this port fails its handshake.
            server: try certificates.map { try HTTPServerBuilder.tls(plain, tlsConfiguration: $0.serverConfiguration()) } ?? plain,
            configuration: .init(address: .hostname(config.http.host, port: config.http.port), serverName: "ingestd"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")",
                                                    "tls": "\(certificates == nil ? "off" : "on")",
                                                    "auth": "\(config.auth.enabled ? "\(config.auth.tokens.count) tokens" : "off")"])
            },
            logger: logger)
        services.append(app)
        // After the server: it shuts down first and closes the stream's sockets (1001), which
        // would otherwise hold the server's graceful shutdown open.
        services.append(StreamService(publisher: stream, logger: logger))

        // Every service is essential: when one ends or fails (the HTTP port is taken, the broker
        // cannot start) the others shut down gracefully and the process exits 1, so systemd
        // restarts it — never a half-alive daemon.
        var groupConfig = ServiceGroupConfiguration(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                                           failureTerminationBehavior: .gracefullyShutdownGroup) },
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
        try await ShutdownDeadline.enforce(graceSeconds: config.shutdownGraceSeconds, logger: logger) {
            try await group.run()
        }
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
