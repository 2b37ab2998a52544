import Hummingbird
import NIOPosix
import Prometheus

/// GET /metrics in the Prometheus text format. Gauges that describe state (series, shards,
/// watermarks) are refreshed by `refresh` right before each scrape, not on the event path.
struct MetricsEndpoint {
    let registry: PrometheusCollectorRegistry
    let refresh: @Sendable () -> Void

    func register(on router: Router<IngestdRequestContext>) {
        router.get("/metrics") { _, _ in
            // Off the event loop: the refresh reads SQLite (which a snapshot save may hold) and
            // takes shard locks.
            try await NIOThreadPool.singleton.runIfActive { refresh() }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16_384)
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
