import Foundation
@testable import Ingestd
import Stream
import Testing

@Suite struct RulesConfigTests {
    @Test func rulesKeysHaveDefaultsAndEnvironmentOverrides() throws {
        let defaults = try IngestdConfig.load(path: nil, environment: [:])
        #expect(defaults.rules.files == ["rules/*.yaml"] && defaults.rules.evaluationIntervalSeconds == 60)
        let overridden = try IngestdConfig.load(path: nil, environment: [
            "INGESTD_RULES_FILES": "[a/*.yaml, b.yaml]", "INGESTD_RULES_EVALUATION_INTERVAL": "15s"])
        #expect(overridden.rules.files == ["a/*.yaml", "b.yaml"] && overridden.rules.evaluationIntervalSeconds == 15)
        #expect(overridden.rules.filesOrigin.description == "environment variable INGESTD_RULES_FILES")
    }

    @Test func theIntervalIsAtLeastOneSecond() {
        #expect(throws: ConfigErrors.self) { try IngestdConfig.load(path: nil, environment: ["INGESTD_RULES_EVALUATION_INTERVAL": "0s"]) }
        do {
            _ = try IngestdConfig.load(path: nil, environment: ["INGESTD_RULES_EVALUATION_INTERVAL": "0s"])
        } catch {
            #expect(error.description == "environment variable INGESTD_RULES_EVALUATION_INTERVAL: rules.evaluation_interval must be at least 1s")
        }
    }
}
