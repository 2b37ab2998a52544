import Foundation
import Hummingbird
import HummingbirdCore
import Stream
import Testing
@testable import Ingestd

/// The HTTP layer's parsing and encoding, without a server: parameters, body decoding, keys.
@Suite struct HTTPHardeningTests {
    /// `gzip.compress(b"hello gzip\n", mtime=0)` from Python.
    static let helloGzip: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x57,
        0x48, 0xAF, 0xCA, 0x2C, 0xE0, 0x02, 0x00, 0x39, 0x7C, 0x63, 0x56, 0x0B, 0x00, 0x00, 0x00,
    ]

    @Test func aResponseThatCannotBeEncodedIsA500WithAJSONError() throws {
        let (status, data) = JSONResponse.body(["value": Double.infinity], status: .ok)
        #expect(status == .internalServerError)
        let error = try JSONSerialization.jsonObject(with: data) as? [String: String]
        #expect(error?["error"]?.contains("could not be encoded") == true, "\(String(decoding: data, as: UTF8.self))")
        #expect(JSONResponse.make(["value": Double.nan]).status == .internalServerError)
        #expect(JSONResponse.make(["value": 1.5]).status == .ok)
    }

    @Test func gzipIsDecodedAndEverythingElseIsNamed() throws {
        let decoder = RequestBodyDecoder(maxDecodedBytes: 1 << 20)
        #expect(try decoder.decode(Self.helloGzip, codings: ["gzip"]) == Array("hello gzip\n".utf8))
        #expect(try decoder.decode(Self.helloGzip + Self.helloGzip, codings: ["x-gzip"]) == Array("hello gzip\nhello gzip\n".utf8))
        #expect(try decoder.decode(Array("plain".utf8), codings: ["identity"]) == Array("plain".utf8))
        #expect(throws: RequestBodyDecoder.Failure.unsupported("br")) { try decoder.decode(Self.helloGzip, codings: ["gzip", "br"]) }
        #expect(RequestBodyDecoder.codings(["gzip, Identity", " "]) == ["gzip", "identity"])
        for bad in [Array("plain".utf8), Array(Self.helloGzip.dropLast(4)), Self.helloGzip + [0x00, 0x01], []] {
            #expect(throws: (any Error).self) { try decoder.decode(bad, codings: ["gzip"]) }
            do { _ = try decoder.decode(bad, codings: ["gzip"]) } catch {
                guard case .corrupt = error else { Issue.record("\(bad): \(error), expected corrupt"); continue }
            }
        }
        #expect(throws: RequestBodyDecoder.Failure.tooLarge(limit: 5)) {
            try RequestBodyDecoder(maxDecodedBytes: 5).decode(Self.helloGzip, codings: ["gzip"])
        }
    }

    @Test func idempotencyKeysArePrintableASCIIOfBoundedLength() throws {
        #expect(try EventsEndpoint.idempotencyKey([]) == nil)
        #expect(try EventsEndpoint.idempotencyKey(["a b-1"]) == "a b-1")
        #expect(try EventsEndpoint.idempotencyKey([String(repeating: "k", count: 255)])?.count == 255)
        for bad in [[""], [String(repeating: "k", count: 256)], ["café"], ["tab\there"], ["a", "b"]] {
            #expect(throws: EventsEndpoint.InvalidKey.self) { try EventsEndpoint.idempotencyKey(bad) }
        }
    }

    private func params(_ query: String) -> FlatDictionary<Substring, Substring> {
        URI("/v1/series?" + query).queryParameters
    }

    @Test func seriesParametersOutsideTheirRangeAreBadRequests() throws {
        for query in ["window=1h&offset=10000000000000000s", "window=99999999999999999999s", "window=1h&step=36501d",
                      "window=1h&offset=1h1h1h1h99999999999999999w", "window=0s"] {
            #expect(throws: SeriesEndpoint.BadRequest.self, "\(query)") { try SeriesEndpoint.parse(params(query)) }
        }
        #expect(try SeriesEndpoint.parse(params("window=36500d&offset=36500d&step=1s")).offsetSeconds == 36_500 * 86_400)
        for at in ["9223372036854775807", "-1", "-9223372036854775808", "99999999999999999999", "0000-01-01", "--1", "-"] {
            #expect(throws: SeriesEndpoint.BadRequest.self, "\(at)") { try SeriesEndpoint.instant(at) }
        }
        #expect(try SeriesEndpoint.instant("0") == 0)
        #expect(try SeriesEndpoint.instant("9999-12-31T23:59:59.999Z") == QueryLimits.instantMillis.upperBound)
        let deep = "{service=~\"" + String(repeating: "(", count: 5000) + "\"}"
        #expect(throws: SeriesSelector.SyntaxError.self) { try SeriesEndpoint.parse(params("window=1h&match=" + deep.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)) }
    }

    @Test func configSizesAndDurationsThatWouldOverflowAreErrors() throws {
        let env = ["INGESTD_HTTP_MAX_BODY_BYTES": "9223372036854775807KiB", "INGESTD_SNAPSHOT_INTERVAL": "9999999999999999s",
                   "INGESTD_STORE_MAX_FUTURE_SKEW": "100000000000000000s",
                   "INGESTD_STORE_RESOLUTIONS": "[{step: 1s, retention: 30d}]"]
        do {
            _ = try IngestdConfig.load(path: nil, environment: env)
            Issue.record("expected errors")
        } catch {
            let text = error.errors.map(\.description).joined(separator: "\n")
            #expect(text.contains("http.max_body_bytes must be at most 1GiB"), "\(text)")
            #expect(text.contains("snapshot.interval must be at most 1d"), "\(text)")
            #expect(text.contains("store.max_future_skew must be at most"), "\(text)")
            #expect(text.contains("at most 100000 buckets"), "\(text)")
        }
        // What the existing tests use is still fine.
        _ = try IngestdConfig.load(path: nil, environment: ["INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"])
    }
}
