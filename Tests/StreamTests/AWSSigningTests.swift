import Foundation
import Stream
import Testing

/// What libcurl's SigV4 puts on the wire, captured as raw bytes by a loopback server and
/// compared with AWS's published example and with botocore (an independent implementation).
@Suite("AWS SigV4 signing")
struct AWSSigningTests {
    static let keyID = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let amzDate = "20150830T123600Z"
    static let target = "AWSInsightsIndexService.GetCostAndUsage"
    static let body = Array(#"{"TimePeriod":{"Start":"2026-11-01","End":"2026-11-02"},"Granularity":"DAILY","Metrics":["UnblendedCost"],"GroupBy":[{"Type":"DIMENSION","Key":"SERVICE"}]}"#.utf8)

    @Test func publishedGetVanillaExample() throws {
        let server = try CaptureServer()
        defer { server.stop() }
        let session = try CurlSession(capture: .whole(limitBytes: 1 << 20))
        // The example's Host while connecting to loopback: libcurl signs a Host header set by
        // the caller (checked with the curl CLI) and sends it instead of its own.
        let outcome = session.perform(.init(
            method: .get, url: "http://127.0.0.1:\(server.port)/",
            headers: ["Host: example.amazonaws.com", "X-Amz-Date: \(Self.amzDate)"], body: [], timeoutMillis: 10_000,
            sigV4: .init(provider: "aws:amz:us-east-1:service", accessKeyID: Self.keyID, secretAccessKey: Self.secret)))
        #expect(outcome == .answered(status: 200, retryAfterSeconds: 0, body: Array("{}".utf8)))
        let request = try #require(server.requests.first)
        #expect(request.requestLine == "GET / HTTP/1.1")
        #expect(request.values("Host") == ["example.amazonaws.com"])
        #expect(request.values("Authorization") == [
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ])
        #expect(request.body.isEmpty)
    }

    @Test func botocoreReproducesThePublishedExample() throws {
        // The oracle itself, on the published values: if this fails, the other comparisons mean nothing.
        let expected = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
            + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        #expect(try BotocoreOracle.authorization(method: "GET", url: "http://example.amazonaws.com/", headers: [:], body: [],
                                                accessKeyID: Self.keyID, secretAccessKey: Self.secret, sessionToken: nil,
                                                region: "us-east-1", service: "service", amzDate: Self.amzDate) == expected)
    }

    /// Sends one GetCostAndUsage request and checks the captured bytes against botocore.
    private func checkCostExplorerRequest(_ credentials: AWSCredentials) throws {
        let server = try CaptureServer()
        defer { server.stop() }
        let client = try AWSJSONClient(endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1", service: "ce", timeoutMillis: 10_000)
        let outcome = client.call(target: Self.target, body: Self.body, credentials: credentials, amzDate: Self.amzDate)
        #expect(outcome == .answered(status: 200, body: Array("{}".utf8), retryAfterSeconds: 0))
        let request = try #require(server.requests.first)
        #expect(request.requestLine == "POST / HTTP/1.1")
        #expect(request.body == Self.body)
        #expect(request.values("X-Amz-Target") == [Self.target])
        #expect(request.values("Content-Type") == ["application/x-amz-json-1.1"])
        #expect(request.values("Content-Length") == ["\(Self.body.count)"])
        #expect(request.values("X-Amz-Security-Token") == (credentials.sessionToken.map { [$0] } ?? []))
        #expect(request.values("Host") == ["127.0.0.1:\(server.port)"])
        // libcurl 7.88 sends the date twice when the caller sets it (its signer's copy and ours).
        #expect(Set(request.values("X-Amz-Date")) == [Self.amzDate])
        let expected = try BotocoreOracle.authorization(
            method: "POST", url: "http://127.0.0.1:\(server.port)/",
            headers: ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": Self.target], body: Self.body,
            accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken,
            region: "us-east-1", service: "ce", amzDate: Self.amzDate)
        #expect(request.values("Authorization") == [expected])
        // The User-Agent is sent but not signed (botocore does not sign it either).
        #expect(request.values("User-Agent") == ["ingestd"])
        #expect(!(request.value("Authorization") ?? "").contains("user-agent"))
    }

    @Test func costExplorerRequestMatchesBotocore() throws {
        try checkCostExplorerRequest(AWSCredentials(accessKeyID: Self.keyID, secretAccessKey: Self.secret, origin: "test"))
    }

    @Test func costExplorerRequestWithSessionTokenMatchesBotocore() throws {
        let token = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample+token/with=padding=="
        try checkCostExplorerRequest(AWSCredentials(accessKeyID: "ASIAEXAMPLEKEY", secretAccessKey: Self.secret,
                                                    sessionToken: token, origin: "test"))
    }

    @Test func costExplorerRequestWithProfileCredentialsMatchesBotocore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", """
            [default]
            aws_access_key_id = AKIADEFAULTDEFAULT
            aws_secret_access_key = default/secret/default/secret/default/sec

            [billing]
            aws_access_key_id = AKIABILLINGEXAMPLE
            aws_secret_access_key = bIlLiNg+SeCrEt/0123456789abcdefghijklmnop
            aws_session_token = FwoGZXIvYXdzEBillingToken/+=
            """)
        let credentials = try AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path], profile: "billing").resolve()
        #expect(credentials.accessKeyID == "AKIABILLINGEXAMPLE")
        #expect(credentials.sessionToken == "FwoGZXIvYXdzEBillingToken/+=")
        try checkCostExplorerRequest(credentials)
    }

    @Test func errorStatusesAreAnswersWithTheirBodyAndRetryAfter() throws {
        let throttled = Array(#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#.utf8)
        let server = try CaptureServer { _ in CaptureServer.answer(status: 400, headers: ["Retry-After: 7"], body: throttled) }
        defer { server.stop() }
        let client = try AWSJSONClient(endpoint: "http://127.0.0.1:\(server.port)/", region: "us-east-1", service: "ce", timeoutMillis: 10_000)
        let outcome = client.call(target: Self.target, body: Self.body,
                                  credentials: AWSCredentials(accessKeyID: Self.keyID, secretAccessKey: Self.secret, origin: "test"))
        #expect(outcome == .answered(status: 400, body: throttled, retryAfterSeconds: 7))
        guard case .answered(_, let body, _) = outcome else { return }
        #expect(AWSErrorBody.parse(body) == AWSErrorBody(type: "ThrottlingException", message: "Rate exceeded"))
    }

    @Test func errorBodies() {
        #expect(AWSErrorBody.parse(Array(#"{"__type":"LimitExceededException","message":"Too many requests"}"#.utf8))
            == AWSErrorBody(type: "LimitExceededException", message: "Too many requests"))
        #expect(AWSErrorBody.parse(Array(#"{"__type":"com.amazon.coral.service#ExpiredTokenException","Message":"The security token included in the request is expired"}"#.utf8))
            == AWSErrorBody(type: "ExpiredTokenException", message: "The security token included in the request is expired"))
        #expect(AWSErrorBody.parse(Array(#"{"__type":"ValidationException:http://internal.amazon.com/coral/"}"#.utf8))
            == AWSErrorBody(type: "ValidationException", message: ""))
        #expect(AWSErrorBody.parse(Array("<html>502 Bad Gateway</html>".utf8)) == nil)
        #expect(AWSErrorBody.parse(Array(#"{"message":"no type"}"#.utf8)) == nil)
        #expect(AWSErrorBody.parse(Array(#"["__type"]"#.utf8)) == nil)
        #expect(AWSErrorBody.parse([]) == nil)
    }

    @Test func aBodyOverTheLimitFailsClearly() throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 300_000)
        let server = try CaptureServer { _ in CaptureServer.answer(status: 200, body: big) }
        defer { server.stop() }
        let client = try AWSJSONClient(endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1", service: "ce",
                                       timeoutMillis: 10_000, maxResponseBytes: 100_000)
        let credentials = AWSCredentials(accessKeyID: Self.keyID, secretAccessKey: Self.secret, origin: "test")
        let outcome = client.call(target: Self.target, body: Self.body, credentials: credentials)
        #expect(outcome == .failed("the response body is larger than the 100000-byte limit; the transfer was stopped"))
        // At the limit exactly, the whole body arrives; and the client is usable after a failure.
        let exact = try AWSJSONClient(endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1", service: "ce",
                                      timeoutMillis: 10_000, maxResponseBytes: big.count)
        #expect(exact.call(target: Self.target, body: Self.body, credentials: credentials) == .answered(status: 200, body: big, retryAfterSeconds: 0))
        #expect(client.call(target: Self.target, body: Self.body, credentials: credentials) == outcome)
    }

    @Test func connectionRefusedFailsWithoutSecrets() throws {
        // A port that was just free: bind a server, note its port, stop it.
        let server = try CaptureServer()
        let port = server.port
        server.stop()
        let client = try AWSJSONClient(endpoint: "http://127.0.0.1:\(port)", region: "us-east-1", service: "ce", timeoutMillis: 10_000)
        let credentials = AWSCredentials(accessKeyID: Self.keyID, secretAccessKey: Self.secret, sessionToken: "TOKEN-s3cr3t", origin: "test")
        let outcome = client.call(target: Self.target, body: Self.body, credentials: credentials)
        guard case .failed(let text) = outcome else {
            Issue.record("expected .failed, got \(outcome)")
            return
        }
        #expect(text.contains("connect"))
        #expect(!text.contains(Self.secret) && !text.contains("TOKEN-s3cr3t"))
    }

    @Test func badEndpointsAreRejectedAtSetup() {
        for endpoint in ["ce.us-east-1.amazonaws.com", "https://", "https://key:secret@ce.us-east-1.amazonaws.com",
                         "https://ce.us-east-1.amazonaws.com/path", "https://ce.us-east-1.amazonaws.com/?a=b"] {
            #expect(throws: AWSJSONClient.SetupError.self, "\(endpoint)") {
                try AWSJSONClient(endpoint: endpoint, region: "us-east-1", service: "ce", timeoutMillis: 1000)
            }
        }
        #expect(throws: AWSJSONClient.SetupError.self) {
            try AWSJSONClient(endpoint: "https://ce.us-east-1.amazonaws.com", region: "us:east", service: "ce", timeoutMillis: 1000)
        }
    }
}
