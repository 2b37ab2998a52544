import CCurl
import CCurlShim
import Synchronization

/// One receiver's HTTP client: a libcurl easy handle driven through its own multi handle, both
/// kept for the worker's life so the connection to the receiver is reused (keep-alive).
/// `perform` runs on the worker's thread only; `abort` may be called from any thread and makes a
/// request in flight return `.aborted` at once (`curl_multi_wakeup` interrupts the poll).
final class CurlSession: @unchecked Sendable {
    // @unchecked: `easy`, `multi` and `capture` are used by `perform` on the one worker thread;
    // other threads only touch `aborted` (atomic) and call curl_multi_wakeup, which libcurl
    // documents as callable from any thread.
    private let easy: UnsafeMutableRawPointer
    private let multi: UnsafeMutableRawPointer
    private let capture: UnsafeMutablePointer<ingestd_curl_capture>
    private let aborted = Atomic<Bool>(false)

    struct Request {
        var url: String
        var headers: [String]
        var body: [UInt8]
        var timeoutMillis: Int64
    }

    enum Outcome: Equatable {
        /// The receiver answered: its status, `Retry-After` in seconds (0 when absent) and the
        /// first bytes of its answer.
        case answered(status: Int, retryAfterSeconds: Int64, body: String)
        /// No answer: libcurl's error text (never the URL: curl_easy_strerror names only the failure).
        case failed(String)
        /// `abort` was called.
        case aborted
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    init() throws {
        let global = ingestd_curl_global_init_once()
        guard global == CURLE_OK else { throw SetupError(description: "libcurl could not initialise: \(String(cString: curl_easy_strerror(global)))") }
        guard let easy = curl_easy_init() else { throw SetupError(description: "curl_easy_init failed (out of memory?)") }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            throw SetupError(description: "curl_multi_init failed (out of memory?)")
        }
        self.easy = easy
        self.multi = multi
        capture = .allocate(capacity: 1)
        capture.initialize(to: ingestd_curl_capture())
        // No SIGALRM for DNS timeouts (unsafe with threads); http(s) only; never follow a
        // redirect (a 3xx is an answer the operator should see, not a hop to elsewhere).
        _ = ingestd_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ingestd_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ingestd_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        _ = ingestd_curl_setopt_long(easy, CURLOPT_POST, 1)
        _ = ingestd_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ingestd_curl_capture_body(easy, capture)
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        capture.deallocate()
    }

    /// Makes the request in flight, and every later one, return `.aborted`.
    func abort() {
        aborted.store(true, ordering: .releasing)
        curl_multi_wakeup(multi)
    }

    var isAborted: Bool { aborted.load(ordering: .acquiring) }

    func perform(_ request: Request) -> Outcome {
        if isAborted { return .aborted }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        // "Expect:" turns off curl's 100-continue wait for bodies over 1 KiB.
        for line in request.headers + ["Expect:"] {
            guard let appended = curl_slist_append(headers, line) else { return .failed("out of memory building the request headers") }
            headers = appended
        }
        let timeout = Int(clamping: max(1, request.timeoutMillis))
        var setup = ingestd_curl_setopt_string(easy, CURLOPT_URL, request.url)
        if setup == CURLE_OK { setup = ingestd_curl_setopt_pointer(easy, CURLOPT_HTTPHEADER, headers) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout) }
        if setup == CURLE_OK { setup = ingestd_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count) }
        if setup == CURLE_OK {
            setup = request.body.withUnsafeBytes { raw in
                // COPYPOSTFIELDS copies the bytes now (POSTFIELDSIZE, set first, says how many).
                ingestd_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }
        guard setup == CURLE_OK else { return .failed(String(cString: curl_easy_strerror(setup))) }
        capture.pointee.length = 0

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
        guard result == CURLE_OK else { return .failed(String(cString: curl_easy_strerror(result))) }
        var status = 0
        _ = ingestd_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: curl_off_t = 0
        _ = ingestd_curl_getinfo_off_t(easy, CURLINFO_RETRY_AFTER, &retryAfter)
        let body = withUnsafeBytes(of: &capture.pointee.bytes) { raw in
            String(decoding: raw.prefix(Int(capture.pointee.length)), as: UTF8.self)
        }
        return .answered(status: status, retryAfterSeconds: Int64(max(0, retryAfter)), body: body)
    }
}
