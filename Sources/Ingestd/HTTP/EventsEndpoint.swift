import Hummingbird
import NIOCore
import NIOPosix
import Stream

/// POST /v1/events[?format=focus]: a JSON array or NDJSON of events in one format (default
/// coststream; also focus, cur and the configured mappings). 200 with per-event errors by index when at least
/// one event was accepted (or the body was empty), 422 when every event was rejected, 400 when
/// the body is not a batch at all, 413 when it is larger than http.max_body_bytes.
struct EventsEndpoint {
    let sink: HTTPEventSink
    let maxBodyBytes: Int
    let clock: @Sendable () -> Int64

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/events") { request, _ -> Response in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return JSONResponse.error(.contentTooLarge, "body larger than http.max_body_bytes (\(maxBodyBytes) bytes): split the batch")
            }
            let bytes = Array(buffer: body)
            let now = clock()
            let format = request.uri.queryParameters["format"].map(String.init) ?? "coststream"
            do {
                // SQLite work (the journal's fsync) runs on the blocking pool, not an event loop.
                let report = try await NIOThreadPool.singleton.runIfActive { try sink.ingest(bytes, format: format, nowMillis: now) }
                let status: HTTPResponse.Status = (report.accepted == 0 && report.rejected > 0) ? .unprocessableContent : .ok
                return JSONResponse.make(report, status: status)
            } catch let unknown as HTTPEventSink.UnknownFormat {
                return JSONResponse.error(.badRequest, unknown.description)
            } catch let rejection as EventRejection {
                return JSONResponse.error(.badRequest, "body is neither a JSON array nor NDJSON: \(rejection.detail)")
            } catch {
                // The journal append failed after the events were applied: they are counted in
                // memory but would not survive a crash. A resend would count them twice.
                return JSONResponse.error(.internalServerError,
                                          "journal write failed (\(error)): this request's events were counted in memory but are not durable; do not resend them")
            }
        }
    }
}
