// Notification delivery over loopback (release): (1) latency from queueing a notification (the
// outbox insert's commit, then `wake`) to the moment an in-process HTTP receiver has read the
// whole request, one notification at a time, p50/p99 (the target: p99 ≤ 20 ms for
// transition → webhook with group_wait 0; this is the delivery part of that path); (2) outbox
// throughput: 5,000 notifications queued in one transaction, time until all are marked
// delivered. One receiver, one worker, one kept-alive connection.

import Alerts
import Benchmark
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Stream

func monotonicNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// Answers 200 to every request and records when each one was fully read.
final class BenchReceiver: @unchecked Sendable {
    // @unchecked: `received` is only touched under `lock`.
    private let lock = NSCondition()
    private var received: [UInt64] = []
    private var channel: (any Channel)?

    var port = 0

    func start() throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(receiver: self))
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
        self.channel = channel
    }

    func stop() { try? channel?.close().wait() }

    fileprivate func record() {
        lock.lock()
        received.append(monotonicNanos())
        lock.broadcast()
        lock.unlock()
    }

    /// Waits until `count` requests have arrived; returns the arrival time of the `count`th.
    func waitFor(_ count: Int) -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        while received.count < count { lock.wait() }
        return received[count - 1]
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let receiver: BenchReceiver
        init(receiver: BenchReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            receiver.record()
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

struct DeliveryFixture: @unchecked Sendable {
    let receiver: BenchReceiver
    let database: SQLiteDatabase
    let outbox: Outbox
    let delivery: NotificationDelivery
    let receiverSettings: Receiver

    static func make() -> DeliveryFixture {
        let server = BenchReceiver()
        try! server.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-bench-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try! SQLiteDatabase(path: directory.appendingPathComponent("notifications.db").path, schema: [Outbox.module, NotifySchema.module])
        let outbox = Outbox(database: database)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let delivery = NotificationDelivery(outbox: outbox, logger: logger, userAgent: "ingestd-bench")
        var receiver = Receiver(name: "bench", kind: .webhook,
                                url: Secret(value: "http://127.0.0.1:\(server.port)/hook", source: .inline))
        receiver.signingSecret = Secret(value: "bench-secret", source: .inline)
        delivery.configure(receivers: [receiver])
        return DeliveryFixture(receiver: server, database: database, outbox: outbox, delivery: delivery, receiverSettings: receiver)
    }

    static func message(_ i: Int) -> NotificationMessage {
        let alert = NotificationMessage.Alert(
            status: .firing, labels: ["alertname": "HighSpend", "account": "\(100_000_000_000 + i)", "service": "AmazonEC2"],
            annotations: ["summary": "EC2 spend is high"], startsAt: 1_767_225_600_000, endsAt: nil,
            fingerprint: "fp\(i)", value: 150.5, measure: 1234.25, revision: 0)
        return NotificationMessage(receiver: "bench", status: .firing, groupKey: "{}:{account=\"\(i)\"}", groupLabels: ["account": "\(i)"],
                                   commonLabels: alert.labels, commonAnnotations: alert.annotations, alerts: [alert],
                                   truncatedAlerts: 0, externalURL: "http://127.0.0.1:9090")
    }

    func entry(_ key: String, _ i: Int) -> Outbox.Entry {
        Outbox.Entry(receiver: "bench", fallback: nil, idempotencyKey: key, createdAtMillis: WallClock.nowMillis(), message: Self.message(i))
    }

    /// Nothing queued or retrying is left.
    func allDelivered() -> Bool {
        let queued = (try? outbox.receipts(receiver: "bench", state: .queued, limit: 1)) ?? [Receipt]()
        let retrying = (try? outbox.receipts(receiver: "bench", state: .retrying, limit: 1)) ?? [Receipt]()
        return queued.isEmpty && retrying.isEmpty
    }
}

func registerNotificationDeliveryBenchmarks() {
    Benchmark(
        "notifications: queue → received at a loopback webhook, one at a time",
        configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                             maxDuration: .seconds(60), maxIterations: 1)
    ) { benchmark, fixture in
        let n = 1_000
        var latencies: [Double] = []
        benchmark.startMeasurement()
        for i in 0..<n {
            let start = monotonicNanos()
            try! fixture.database.transaction { connection in try Outbox.insert(fixture.entry("lat-\(i)", i), on: connection) }
            fixture.delivery.wake(receiver: "bench")
            let arrived = fixture.receiver.waitFor(i + 1)
            latencies.append(Double(arrived - start) / 1e6)
        }
        benchmark.stopMeasurement()
        let measured = Array(latencies.dropFirst(20))  // the first requests open the connection
        Summary.shared.line("notification delivery latency (queue commit → request read by a loopback receiver), "
            + "\(measured.count) notifications one at a time: "
            + String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 ≤ 20 ms)",
                     Summary.percentile(measured, 50), Summary.percentile(measured, 99), measured.max() ?? 0))
        fixture.delivery.shutdown()
        fixture.receiver.stop()
    } setup: {
        DeliveryFixture.make()
    }

    Benchmark(
        "notifications: firing transition → received at a loopback webhook, group_wait 0",
        configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                             maxDuration: .seconds(60), maxIterations: 1)
    ) { benchmark, fixture in
        // The daemon's path after a round: the dispatcher routes and groups the round's alerts,
        // flushes the due group (notification log + outbox in one transaction) and wakes the worker.
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let silences = try! SilenceStore(database: fixture.database)
        let config = NotificationConfig(receivers: ["bench": fixture.receiverSettings],
                                        route: Route(receiver: "bench", grouping: .labels(["account"]), groupWaitMillis: 0))
        let notifier = Notifier(dispatcher: try! Dispatcher(database: fixture.database, silences: silences, config: config,
                                                            externalURL: "http://127.0.0.1:9466", logger: logger),
                                delivery: fixture.delivery)
        let n = 1_000
        var active: [Alert] = []
        var latencies: [Double] = []
        benchmark.startMeasurement()
        for i in 0..<n {
            let now = WallClock.nowMillis()
            let labels = ["alertname": "HighSpend", "account": "\(100_000_000_000 + i)", "severity": "warning"]
            let alert = Alert(rule: "spend/HighSpend", fingerprint: AlertFingerprint.of(labels), labels: labels, state: .firing,
                              activeAt: now, firedAt: now, lastHeldAt: now, value: 150, measure: 150,
                              annotations: ["summary": "spend is high"], owner: "http", checkedAt: now, checkedSum: 150)
            active.append(alert)
            let transition = AlertTransition(at: now, state: .firing, rule: alert.rule, fingerprint: alert.fingerprint,
                                             labels: labels, annotations: alert.annotations, value: 150, measure: 150,
                                             activeAt: now, firedAt: now, owner: "http")
            let start = monotonicNanos()
            notifier.observe(active: active, transitions: [transition], now: now)
            let arrived = fixture.receiver.waitFor(i + 1)
            latencies.append(Double(arrived - start) / 1e6)
        }
        benchmark.stopMeasurement()
        let measured = Array(latencies.dropFirst(20))
        Summary.shared.line("alert transition → webhook received (dispatcher, notification log, outbox, delivery; group_wait 0; "
            + "\(measured.count) alerts one at a time, up to \(n) active): "
            + String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 ≤ 20 ms)",
                     Summary.percentile(measured, 50), Summary.percentile(measured, 99), measured.max() ?? 0))
        fixture.delivery.shutdown()
        fixture.receiver.stop()
    } setup: {
        DeliveryFixture.make()
    }

    Benchmark(
        "notifications: outbox throughput, 5,000 queued",
        configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                             maxDuration: .seconds(120), maxIterations: 1)
    ) { benchmark, fixture in
        let n = 5_000
        benchmark.startMeasurement()
        let start = monotonicNanos()
        try! fixture.database.transaction { connection in
            for i in 0..<n { try Outbox.insert(fixture.entry("tp-\(i)", i), on: connection) }
        }
        let queued = monotonicNanos()
        fixture.delivery.wake(receiver: "bench")
        _ = fixture.receiver.waitFor(n)
        while !fixture.allDelivered() { usleep(1_000) }
        let done = monotonicNanos()
        benchmark.stopMeasurement()
        let seconds = Double(done - queued) / 1e9
        Summary.shared.line("outbox throughput: \(grouped(n)) notifications queued in one transaction in "
            + String(format: "%.0f ms", Double(queued - start) / 1e6) + ", all delivered (2xx and marked) "
            + String(format: "%.2f s later: %.0f notifications/s (one receiver, one connection)", seconds, Double(n) / seconds))
        fixture.delivery.shutdown()
        fixture.receiver.stop()
    } setup: {
        DeliveryFixture.make()
    }
}
