import CCurl
import CCurlShim
import Synchronization

/// One peer's HTTP client: a libcurl easy handle driven through its own multi handle, both kept
/// for the owner's life so the connection is reused (keep-alive). Shared by the webhook
/// notifiers (Alerts) and the AWS JSON client: one curl loop, one place for its rules.
/// `perform` runs on one thread at a time; `abort` may be called from any thread and makes a
/// request in flight return `.aborted` at once (`curl_multi_wakeup` interrupts the poll).
package final class CurlSession: @unchecked Sendable {
    // @unchecked: `easy`, `multi` and `body` are used by `perform` on its one caller's thread;
    // other threads only touch `aborted` (atomic) and call curl_multi_wakeup, which libcurl
    // documents as callable from any thread.
    private let easy: UnsafeMutableRawPointer
    private let multi: UnsafeMutableRawPointer
    private let body: UnsafeMutablePointer<ingestd_curl_body>
    private let aborted = Atomic<Bool>(false)

    /// How much of each answer's body is kept.
    package enum BodyCapture: Sendable, Equatable {
        /// The first bytes (at most `bytes`), the rest read and dropped: what an error quotes.
        case prefix(bytes: Int)
        /// All of it; an answer longer than `limitBytes` is `.failed` (the transfer is stopped).
        case whole(limitBytes: Int)
    }

    package enum Method: Sendable { case get, post }

    /// AWS Signature Version 4, computed by libcurl (CURLOPT_AWS_SIGV4) over the method, URL,
    /// body and every header in `headers` (plus Host and X-Amz-Date, which it adds).
    package struct SigV4: Sendable {
        /// "aws:amz:REGION:SERVICE".
        package var provider: String
        package var accessKeyID: String
        package var secretAccessKey: String
        package init(provider: String, accessKeyID: String, secretAccessKey: String) {
            self.provider = provider
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
        }
    }

    package struct Request: Sendable {
        package var method: Method
        package var url: String
        package var headers: [String]
        package var body: [UInt8]
        package var timeoutMillis: Int64
        package var sigV4: SigV4?
        /// Sent with CURLOPT_USERAGENT, which libcurl adds after signing (so it is never in
        /// SignedHeaders; a `User-Agent` line in `headers` would be).
        package var userAgent: String?
        package init(method: Method = .post, url: String, headers: [String], body: [UInt8], timeoutMillis: Int64,
                     sigV4: SigV4? = nil, userAgent: String? = nil) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeoutMillis = timeoutMillis
            self.sigV4 = sigV4
            self.userAgent = userAgent
        }
    }

    package enum Outcome: Sendable, Equatable {
        /// The peer answered: its status, `Retry-After` in seconds (0 when absent) and the body
        /// as `BodyCapture` says.
        case answered(status: Int, retryAfterSeconds: Int64, body: [UInt8])
        /// No answer: libcurl's error text (never the URL: curl_easy_strerror names only the failure).
        case failed(String)
        /// `abort` was called.
        case aborted
    }

    package struct SetupError: Error, CustomStringConvertible {
        package let description: String
    }

    /// `capture`: the 200-byte prefix the notifiers quote by default.
    package init(capture: BodyCapture = .prefix(bytes: 200)) throws {
        let global = ingestd_curl_global_init_once()
        guard global == CURLE_OK else { throw SetupError(description: "libcurl could not initialise: \(String(cString: curl_easy_strerror(global)))") }
        guard let easy = curl_easy_init() else { throw SetupError(description: "curl_easy_init failed (out of memory?)") }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            throw SetupError(description: "curl_multi_init failed (out of memory?)")
        }
        self.easy = easy
        self.multi = multi
        body = .allocate(capacity: 1)
        var state = ingestd_curl_body()
        switch capture {
        case .prefix(let bytes): state.limit = max(0, bytes); state.keep_all = 0
        case .whole(let limit): state.limit = max(0, limit); state.keep_all = 1
        }
        body.initialize(to: state)
        // No SIGALRM for DNS timeouts (unsafe with threads); http(s) only; never follow a
        // redirect (a 3xx is an answer the operator should see, not a hop to elsewhere).
        _ = ingestd_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ingestd_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ingestd_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        _ = ingestd_curl_setopt_long(easy, CURLOPT_POST, 1)
        _ = ingestd_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ingestd_curl_capture_body(easy, body)
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        ingestd_curl_body_free(body)
        body.deallocate()
    }

    /// Makes the request in flight, and every later one, return `.aborted`.
    package func abort() {
        aborted.store(true, ordering: .releasing)
        curl_multi_wakeup(multi)
    }

    package var isAborted: Bool { aborted.load(ordering: .acquiring) }

    package func perform(_ request: Request) -> Outcome {
        if isAborted { return .aborted }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        // "Expect:" turns off curl's 100-continue wait for large bodies. Not when signing:
        // libcurl 7.88 signs every line in the header list, and this empty one ends up in
        // SignedHeaders as `expect` with an empty value while no such header is sent, so the
        // server's signature differs. Unsigned, curl sends no Expect below 1 MiB (7.88) and adds
        // it after signing above.
        let lines = request.sigV4 == nil ? request.headers + ["Expect:"] : request.headers
        for line in lines {
            guard let appended = curl_slist_append(headers, line) else { return .failed("out of memory building the request headers") }
            headers = appended
        }
        // The signing options are set (or cleared) on every request: the handle is reused.
        defer {
            // The secret does not stay in the handle between requests.
            _ = ingestd_curl_setopt_string(easy, CURLOPT_AWS_SIGV4, nil)
            _ = ingestd_curl_setopt_string(easy, CURLOPT_USERNAME, nil)
            _ = ingestd_curl_setopt_string(easy, CURLOPT_PASSWORD, nil)
        }
        let timeout = Int(clamping: max(1, request.timeoutMillis))
        var setup = ingestd_curl_setopt_string(easy, CURLOPT_URL, request.url)
        if setup == CURLE_OK { setup = ingestd_curl_setopt_pointer(easy, CURLOPT_HTTPHEADER, headers) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_string(easy, CURLOPT_USERAGENT, request.userAgent) }
        if let sigV4 = request.sigV4 {
            // USERNAME and PASSWORD rather than USERPWD: no parsing of "key:secret" at a colon.
            if setup == CURLE_OK { setup = ingestd_curl_setopt_string(easy, CURLOPT_AWS_SIGV4, sigV4.provider) }
            if setup == CURLE_OK { setup = ingestd_curl_setopt_string(easy, CURLOPT_USERNAME, sigV4.accessKeyID) }
            if setup == CURLE_OK { setup = ingestd_curl_setopt_string(easy, CURLOPT_PASSWORD, sigV4.secretAccessKey) }
        }
        switch request.method {
        case .get:
            // HTTPGET leaves an earlier request's body set, and libcurl's signer hashes whatever
            // body is set: clear it first.
            if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, 0) }
            if setup == CURLE_OK { setup = ingestd_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, nil) }
            if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_HTTPGET, 1) }
        case .post:
            if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_POST, 1) }
            if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count) }
            if setup == CURLE_OK {
                setup = request.body.withUnsafeBytes { raw in
                    // COPYPOSTFIELDS copies the bytes now (POSTFIELDSIZE, set first, says how many).
                    ingestd_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                }
            }
        }
        guard setup == CURLE_OK else { return .failed(String(cString: curl_easy_strerror(setup))) }
        ingestd_curl_body_reset(body)

        guard curl_multi_add_handle(multi, easy) == CURLM_OK else { return .failed("curl_multi_add_handle failed") }
        defer { curl_multi_remove_handle(multi, easy) }
        var running: Int32 = 1
        while true {
            let performed = curl_multi_perform(multi, &running)
            guard performed == CURLM_OK else { return .failed(String(cString: curl_multi_strerror(performed))) }
            if running == 0 { break }
            if isAborted { return .aborted }
            // Waits for socket activity, the transfer's own timers, or curl_multi_wakeup.
            let polled = curl_multi_poll(multi, nil, 0, 1000, nil)
            guard polled == CURLM_OK else { return .failed(String(cString: curl_multi_strerror(polled))) }
            if isAborted { return .aborted }
        }
        var result = CURLE_OK
        guard ingestd_curl_multi_done(multi, &result) == 1 else { return .failed("libcurl reported no result for the transfer") }
        if body.pointee.overflowed != 0 {
            return .failed("the response body is larger than the \(body.pointee.limit)-byte limit; the transfer was stopped")
        }
        if body.pointee.out_of_memory != 0 { return .failed("out of memory holding the response body") }
        guard result == CURLE_OK else { return .failed(String(cString: curl_easy_strerror(result))) }
        var status = 0
        _ = ingestd_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: curl_off_t = 0
        _ = ingestd_curl_getinfo_off_t(easy, CURLINFO_RETRY_AFTER, &retryAfter)
        let length = Int(body.pointee.length)
        let bytes = length == 0 ? [] : [UInt8](UnsafeBufferPointer(start: body.pointee.bytes, count: length))
        return .answered(status: status, retryAfterSeconds: Int64(max(0, retryAfter)), body: bytes)
    }
}
