import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Stream

/// POST /v1/events[?format=focus]: a JSON array or NDJSON of events in one format (default
/// coststream; also focus, cur and the configured mappings). 200 with per-event errors by index when at least
/// one event was accepted (or the body was empty), 422 when every event was rejected, 400 when
/// the body is not a batch at all, 413 when it is larger than http.max_body_bytes (before or
/// after decoding), 415 for a Content-Encoding other than gzip or identity.
/// With `Idempotency-Key`, a repeat within 24 h gets the first answer and counts nothing.
struct EventsEndpoint {
    let sink: HTTPEventSink
    let maxBodyBytes: Int
    let clock: @Sendable () -> Int64

    static let idempotencyKeyHeader = HTTPField.Name("Idempotency-Key")!

    func register(on router: Router<IngestdRequestContext>) {
        router.post("/v1/events") { request, context -> Response in
            var request = request
            let key: String?
            do throws(InvalidKey) {
                key = try Self.idempotencyKey(request.headers[values: Self.idempotencyKeyHeader])
            } catch {
                return JSONResponse.error(.badRequest, error.message)
            }
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return JSONResponse.error(.contentTooLarge, "body larger than http.max_body_bytes (\(maxBodyBytes) bytes): split the batch")
            }
            let bytes: [UInt8]
            do throws(RequestBodyDecoder.Failure) {
                let codings = RequestBodyDecoder.codings(request.headers[values: .contentEncoding])
                bytes = try RequestBodyDecoder(maxDecodedBytes: maxBodyBytes).decode(Array(buffer: body), codings: codings)
            } catch {
                switch error {
                case .unsupported(let coding):
                    return JSONResponse.error(.unsupportedMediaType, "Content-Encoding \"\(coding)\" is not supported: send gzip or identity")
                case .tooLarge(let limit):
                    return JSONResponse.error(.contentTooLarge, "decoded body larger than http.max_body_bytes (\(limit) bytes): split the batch")
                case .corrupt(let detail):
                    return JSONResponse.error(.badRequest, "body does not match its Content-Encoding: \(detail)")
                }
            }
            let now = clock()
            let format = request.uri.queryParameters["format"].map(String.init) ?? "coststream"
            let accounts = context.scope.accounts.map(AccountAllowList.init)
            do {
                // SQLite work (the journal's fsync) runs on the blocking pool, not an event loop.
                let answer = try await NIOThreadPool.singleton.runIfActive {
                    try sink.ingest(bytes, format: format, nowMillis: now, idempotencyKey: key, accounts: accounts)
                }
                return JSONResponse.response(answer.body, status: answer.status)
            } catch let unknown as HTTPEventSink.UnknownFormat {
                return JSONResponse.error(.badRequest, unknown.description)
            } catch let rejection as EventRejection {
                return JSONResponse.error(.badRequest, "body is neither a JSON array nor NDJSON: \(rejection.detail)")
            } catch let reused as HTTPEventSink.KeyReused {
                return JSONResponse.error(.unprocessableContent, reused.description)
            } catch {
                // The journal append failed after the events were applied: they are counted in
                // memory but would not survive a crash. A resend would count them twice.
                return JSONResponse.error(.internalServerError,
                                          "journal write failed (\(error)): this request's events were counted in memory but are not durable; do not resend them")
            }
        }
    }

    struct InvalidKey: Error { let message: String }

    /// The Idempotency-Key header: absent, or exactly one value of 1 to 255 printable ASCII characters.
    static func idempotencyKey(_ values: [String]) throws(InvalidKey) -> String? {
        guard let key = values.first else { return nil }
        guard values.count == 1 else { throw InvalidKey(message: "send one Idempotency-Key header, not \(values.count)") }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw InvalidKey(message: "Idempotency-Key must be 1 to 255 printable ASCII characters (e.g. a UUID), got \(key.utf8.count) bytes")
        }
        return key
    }
}
