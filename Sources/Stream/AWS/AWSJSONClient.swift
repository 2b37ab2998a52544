import Synchronization

/// A client for AWS's JSON 1.1 protocol (Cost Explorer and friends): `POST /` with the
/// operation in X-Amz-Target, signed with Signature Version 4. libcurl signs (CURLOPT_AWS_SIGV4):
/// Debian's 7.88 matches botocore for these requests (no query string; the session token as a
/// header we set), which the tests check on captured bytes, so no signing code of our own.
/// Rules that follow from how libcurl 7.88 signs (found by experiment, see AWSSigningTests):
/// it signs Host, X-Amz-Date and every header in the request's list, so only headers AWS
/// expects go in that list; the User-Agent goes through CURLOPT_USERAGENT (added after signing,
/// as botocore leaves it unsigned too); and no empty "Expect:" line (it would be signed as an
/// empty `expect` header that is never sent).
/// One per poller: `call` blocks its caller, and a lock makes overlapping calls wait rather
/// than share the curl handle.
public final class AWSJSONClient: Sendable {
    /// The default bound on an answer's body. GetCostAndUsage pages are well below it.
    public static let defaultMaxResponseBytes = 32 << 20

    public let endpoint: String
    public let region: String
    public let service: String
    public let timeoutMillis: Int64
    public let maxResponseBytes: Int
    private let url: String
    private let userAgent: String
    private let session: CurlSession
    private let serial = Mutex(())

    public struct SetupError: Error, Sendable, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// endpoint: e.g. "https://ce.us-east-1.amazonaws.com" or "http://127.0.0.1:5000" (tests, VPC endpoints).
    /// region: signing region (Cost Explorer: us-east-1). service: "ce".
    public init(endpoint: String, region: String, service: String, timeoutMillis: Int64,
                maxResponseBytes: Int = AWSJSONClient.defaultMaxResponseBytes, userAgent: String = "ingestd") throws(SetupError) {
        if let problem = Self.check(endpoint: endpoint, region: region, service: service) { throw SetupError(description: problem) }
        let path = endpoint.drop(while: { $0 != "/" }).dropFirst(2).drop(while: { $0 != "/" })
        guard timeoutMillis > 0 else { throw SetupError(description: "AWS request timeout must be positive, not \(timeoutMillis) ms") }
        guard maxResponseBytes > 0 else { throw SetupError(description: "AWS response limit must be positive") }
        guard !userAgent.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw SetupError(description: "user agent contains control characters") }
        do {
            session = try CurlSession(capture: .whole(limitBytes: maxResponseBytes))
        } catch {
            throw SetupError(description: "\(error)")
        }
        self.endpoint = endpoint
        self.region = region
        self.service = service
        self.timeoutMillis = timeoutMillis
        self.maxResponseBytes = maxResponseBytes
        self.userAgent = userAgent
        url = String(endpoint.prefix(endpoint.count - path.count)) + "/"
    }

    /// POST / with Content-Type application/x-amz-json-1.1, X-Amz-Target: target (e.g.
    /// "AWSInsightsIndexService.GetCostAndUsage"), signed SigV4 by libcurl, X-Amz-Security-Token
    /// when a session token is set. `amzDate` (tests only): a fixed "YYYYMMDDTHHMMSSZ" sent as
    /// X-Amz-Date, which libcurl then signs with (libcurl 7.88 then sends X-Amz-Date twice,
    /// once from its signer and once from our list, both with this value).
    public func call(target: String, body: [UInt8], credentials: AWSCredentials, amzDate: String? = nil) -> AWSCallOutcome {
        guard Self.isHeaderValue(target), !target.isEmpty else { return .failed("X-Amz-Target must be printable ASCII without line breaks") }
        var headers = ["Content-Type: application/x-amz-json-1.1", "X-Amz-Target: \(target)"]
        if let token = credentials.sessionToken {
            guard Self.isHeaderValue(token) else { return .failed("the session token (from \(credentials.origin)) contains characters a header cannot carry") }
            headers.append("X-Amz-Security-Token: \(token)")
        }
        if let amzDate {
            guard amzDate.utf8.count == 16, Self.isHeaderValue(amzDate) else { return .failed("amzDate must look like 20150830T123600Z") }
            headers.append("X-Amz-Date: \(amzDate)")
        }
        // The key pair goes to libcurl's USERNAME/PASSWORD; check it cannot break those.
        guard Self.isHeaderValue(credentials.accessKeyID), Self.isHeaderValue(credentials.secretAccessKey),
              !credentials.accessKeyID.isEmpty, !credentials.secretAccessKey.isEmpty else {
            return .failed("the credentials from \(credentials.origin) contain characters a key cannot have")
        }
        let request = CurlSession.Request(
            method: .post, url: url, headers: headers, body: body, timeoutMillis: timeoutMillis,
            sigV4: .init(provider: "aws:amz:\(region):\(service)", accessKeyID: credentials.accessKeyID,
                         secretAccessKey: credentials.secretAccessKey),
            userAgent: userAgent)
        let outcome = serial.withLock { _ in session.perform(request) }
        switch outcome {
        case .answered(let status, let retryAfter, let bytes):
            return .answered(status: status, body: bytes, retryAfterSeconds: retryAfter)
        case .failed(let text):
            return .failed(text)
        case .aborted:
            return .failed("aborted: the client is shutting down")
        }
    }

    /// Makes a call in flight, and every later one, fail at once (shutdown).
    public func abort() {
        session.abort()
    }

    /// Why an endpoint, region or service cannot be used, or nil (the config checks with this
    /// too, so a bad value is a configuration error with its position, not a failed start).
    public static func check(endpoint: String, region: String, service: String) -> String? {
        let lower = endpoint.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            return "AWS endpoint \(endpoint) must start with https:// (or http:// for a local test server)"
        }
        let authority = endpoint.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).first ?? ""
        guard !authority.isEmpty else { return "AWS endpoint \(endpoint) has no host" }
        // Credentials in the URL would be sent as Basic auth and show up in logs.
        guard !authority.contains("@") else { return "AWS endpoint must not contain user@ (credentials come from the environment or profile files)" }
        let path = endpoint.drop(while: { $0 != "/" }).dropFirst(2).drop(while: { $0 != "/" })
        // libcurl 7.88 does not sort query parameters when signing; the JSON protocol has none.
        guard path.allSatisfy({ $0 == "/" }), !endpoint.contains("?"), !endpoint.contains("#") else {
            return "AWS endpoint \(endpoint) must be scheme://host[:port] with no path or query (requests go to /)"
        }
        func isToken(_ text: String) -> Bool {
            !text.isEmpty && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        }
        guard isToken(region) else { return "AWS region \"\(region)\" must be lowercase letters, digits and '-' (e.g. us-east-1)" }
        guard isToken(service) else { return "AWS service \"\(service)\" must be lowercase letters, digits and '-' (e.g. ce)" }
        return nil
    }

    private static func isHeaderValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }
}
