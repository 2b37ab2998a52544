import Foundation
import Stream
import Testing
@testable import Ingestd

@Suite struct ConfigTests {
    private func write(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func errors(_ yaml: String, env: [String: String] = [:]) throws -> [String] {
        let path = try write(yaml)
        do {
            _ = try IngestdConfig.load(path: path, environment: env)
            return []
        } catch {
            return error.errors.map { $0.description.replacingOccurrences(of: path, with: "F") }
        }
    }

    @Test func theShippedConfigFileStatesTheBuiltInDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try IngestdConfig.load(path: root.appendingPathComponent("etc/ingestd.yaml").path, environment: [:])
        let builtIn = try IngestdConfig.load(path: nil, environment: [:])
        #expect(file.store == builtIn.store)
        #expect(file.dataDir == builtIn.dataDir && file.logLevel == builtIn.logLevel)
        #expect(file.http.host == builtIn.http.host && file.http.port == builtIn.http.port && file.http.maxBodyBytes == builtIn.http.maxBodyBytes)
        #expect(file.ingest.currencies == builtIn.ingest.currencies && file.ingest.maxEventBytes == builtIn.ingest.maxEventBytes)
        #expect(file.ingest.quarantinePayloadBytes == builtIn.ingest.quarantinePayloadBytes)
        #expect(file.ingest.badEventLogsPerMinute == builtIn.ingest.badEventLogsPerMinute)
        #expect(file.ingest.quarantineMaxRows == builtIn.ingest.quarantineMaxRows)
        #expect(file.snapshotIntervalSeconds == builtIn.snapshotIntervalSeconds && file.shutdownGraceSeconds == builtIn.shutdownGraceSeconds)
        #expect(file.kafka.topics == builtIn.kafka.topics && file.kafka.brokers == builtIn.kafka.brokers)
        #expect(file.kafka.groupID == builtIn.kafka.groupID && file.kafka.pollBatch == builtIn.kafka.pollBatch)
        #expect(file.kafka.embeddedPort == builtIn.kafka.embeddedPort && file.kafka.enabled == builtIn.kafka.enabled)
        #expect(file.kafka.properties.isEmpty && file.mappings.isEmpty)
        #expect(file.rules.files == builtIn.rules.files && file.rules.evaluationIntervalSeconds == builtIn.rules.evaluationIntervalSeconds)
        #expect(builtIn.store.resolutions == [Resolution(stepSeconds: 60, buckets: 2880), Resolution(stepSeconds: 3600, buckets: 840)])
        // Cost Explorer is off in both; switched on, the file's section states the defaults.
        #expect(file.costExplorer == nil && builtIn.costExplorer == nil)
        let polling = try IngestdConfig.load(path: root.appendingPathComponent("etc/ingestd.yaml").path,
                                             environment: ["INGESTD_COST_EXPLORER_ENABLED": "true"])
        #expect(polling.costExplorer == CostExplorerConfiguration())
    }

    @Test func everyMistakeIsReportedWithItsPositionAtOnce() throws {
        let found = try errors("""
            store:
              max_seris: 10
              max_series: -1
              resolutions:
                - step: 1m
                  retention: 90s
            http:
              listen: nowhere
            kafka:
              topics:
                - name: t
                  format: avro
            bogus: 1
            """)
        #expect(found.contains { $0.hasPrefix("F:2:3: unknown key \"store.max_seris\" (did you mean \"max_series\"?)") })
        #expect(found.contains { $0.hasPrefix("F:3:15: store.max_series must be a whole number ≥ 1") })
        #expect(found.contains { $0.hasPrefix("F:5:7: retention must be a positive multiple of step") })
        #expect(found.contains { $0.hasPrefix("F:8:11: http.listen must be HOST:PORT") })
        #expect(found.contains { $0.hasPrefix("F:12:15: format must be coststream, focus, cur or the name of a mapping") })
        #expect(found.contains { $0.hasPrefix("F:13:1: unknown key \"bogus\"") })
        #expect(found.count == 6, "\(found)")
    }

    @Test func costExplorerSettingsAreCheckedEvenWhileDisabled() throws {
        let found = try errors("""
            store:
              labels: [team, source]
            cost_explorer:
              enabled: false
              group_by: [SERVICE, TAG:owner, USAGE_TYPE]
              metric: Dollars
              lookback: 400d
              budget_per_day: 1e400
              endpoint: ce.example
            """)
        #expect(found.contains { $0.hasPrefix("F:2:18: store.labels: \"source\" cannot be a tag label") })
        #expect(found.contains { $0.hasPrefix("F:5:23: cost_explorer.group_by: TAG:owner becomes label \"owner\", which is not in store.labels") })
        #expect(found.contains { $0.hasPrefix("F:5:34: cost_explorer.group_by: \"USAGE_TYPE\" is not one of") })
        #expect(found.contains { $0.hasPrefix("F:6:11: cost_explorer.metric") })
        #expect(found.contains { $0.hasPrefix("F:7:13: cost_explorer.lookback must be between one daily period and the store's longest retention (5w), got 400d") })
        #expect(found.contains { $0.hasPrefix("F:8:19: cost_explorer.budget_per_day is USD per UTC day") })
        #expect(found.contains { $0.hasPrefix("F:9:13: cost_explorer.endpoint: AWS endpoint ce.example must start with https://") })
        #expect(try errors("cost_explorer: {endpoint: 'https://ce.example.com/v1?x=1', region: US_EAST}") == [
            "F:1:27: cost_explorer.endpoint: AWS endpoint https://ce.example.com/v1?x=1 must be scheme://host[:port] with no path or query (requests go to /)",
            "F:1:68: cost_explorer.region: AWS region \"US_EAST\" must be lowercase letters, digits and '-' (e.g. us-east-1)"])
        // Both inputs on: selectors without a source read the streamed series only.
        let both = try IngestdConfig.load(path: try write("cost_explorer: {enabled: true}\nkafka: {brokers: 'b:9092'}\n"), environment: [:])
        #expect(both.store.sourcesOutsideDefault == ["cost-explorer"])
        let polledOnly = try IngestdConfig.load(path: try write("cost_explorer: {enabled: true}\nkafka: {enabled: false}\n"), environment: [:])
        #expect(polledOnly.store.sourcesOutsideDefault.isEmpty && polledOnly.costExplorer?.requestsPerDay == 100)
    }

    @Test func yamlSyntaxErrorsNameTheirPosition() throws {
        let found = try errors("store:\n  max_series: [1,\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("F:3:") == true, "\(found)")
    }

    @Test func environmentVariablesOverrideKeysAndAreCheckedToo() throws {
        let path = try write("store:\n  max_series: 10\n")
        let c = try IngestdConfig.load(path: path, environment: [
            "INGESTD_STORE_MAX_SERIES": "20",
            "INGESTD_INGEST_CURRENCIES": "[USD, EUR]",
            "INGESTD_KAFKA_TOPICS": "[{name: a, format: focus, partitions: 2}]",
            "INGESTD_KAFKA_PROPERTY_SASL_PASSWORD": "s3cret",
            "INGESTD_STORE_RESOLUTIONS": "[{step: 5m, retention: 1d}]",
            "UNRELATED": "x",
        ])
        #expect(c.store.maxSeries == 20)
        #expect(c.ingest.currencies == ["USD", "EUR"])
        #expect(c.kafka.topics == [IngestdConfig.Topic(name: "a", format: .focus, partitions: 2)])
        #expect(c.kafka.properties["sasl.password"] == "s3cret")
        #expect(c.store.resolutions == [Resolution(stepSeconds: 300, buckets: 288)])
        let bad = try errors("", env: ["INGESTD_STORE_MAX_SERIE": "1", "INGESTD_SNAPSHOT_INTERVAL": "soon"])
        #expect(bad.contains { $0.hasPrefix("environment variable INGESTD_STORE_MAX_SERIE: unknown override") })
        #expect(bad.contains { $0.hasPrefix("environment variable INGESTD_SNAPSHOT_INTERVAL: snapshot.interval: invalid duration") })
    }

    @Test func mappingsAreUsableAsTopicFormats() throws {
        let path = try write("""
            mappings:
              billing:
                account: billing.account
                service: svc
                cost: amount.value
                timestamp: at
            kafka:
              topics:
                - name: t
                  format: billing
            """)
        let c = try IngestdConfig.load(path: path, environment: [:])
        guard case .mapping(let m) = c.kafka.topics.first?.format else {
            Issue.record("topic format is not the mapping")
            return
        }
        #expect(m.account == "billing.account" && m.cost == "amount.value" && m.region == nil)
    }
}
