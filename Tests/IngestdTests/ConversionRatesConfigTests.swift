import Stream
import Testing
@testable import Ingestd

/// ingest.conversion_rates: only listed, non-base currencies with a finite positive rate.
@Suite struct ConversionRatesConfigTests {
    @Test func ratesReachTheParserOptions() throws {
        let c = try IngestdConfig.load(path: nil, environment: [
            "INGESTD_INGEST_CURRENCIES": "[USD, EUR]", "INGESTD_INGEST_CONVERSION_RATES": "{EUR: 1.08}",
        ])
        #expect(c.parserOptions(format: .coststream).conversionRates == ["EUR": 1.08])
    }

    @Test func badRatesAreConfigErrorsThatSayWhy() {
        let cases: [(String, String)] = [
            ("{GBP: 1.2}", "list GBP in ingest.currencies"),
            ("{USD: 2}", "list USD in ingest.currencies after"),
            ("{EUR: -1}", "must be a positive number"),
            ("{EUR: .inf}", "must be a positive number"),
            ("{EUR: abc}", "must be a positive number"),
        ]
        for (rates, message) in cases {
            do {
                _ = try IngestdConfig.load(path: nil, environment: [
                    "INGESTD_INGEST_CURRENCIES": "[USD, EUR]", "INGESTD_INGEST_CONVERSION_RATES": rates,
                ])
                Issue.record("\(rates) was accepted")
            } catch {
                #expect("\(error)".contains(message), "\(rates): \(error)")
            }
        }
    }
}
