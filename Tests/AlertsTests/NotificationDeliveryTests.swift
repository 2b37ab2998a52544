import Crypto
import Foundation
import Stream
import Synchronization
import Testing
@testable import Alerts

/// NotificationDelivery against real HTTP servers on loopback with injected faults, over a real
/// notifications.db. Nothing is timed against a limit: orderings, counts and the server's own
/// receive times are what is asserted.
@Suite struct NotificationDeliveryTests {
    /// Keys of the requests the server accepted (answered 2xx), in order.
    func accepted(_ server: LoopbackReceiver, okFrom: (Int) -> Bool) -> [String] {
        server.requests.enumerated().filter { okFrom($0.offset) }.compactMap { $0.element.idempotencyKey }
    }

    @Test func failing500sAreRetriedInOrderAndEachKeyIsAcceptedOnce() async throws {
        let failing = Atomic<Bool>(true)
        let server = try await LoopbackReceiver { _, _ in failing.load(ordering: .relaxed) ? .status(500, body: "boom") : .status(200) }
        let bench = try DeliveryBench()
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server)])
        for key in ["k1", "k2", "k3"] { try bench.queue("ops", key: key) }

        try await eventually("three failed attempts") { server.requests.count >= 3 }
        // While failing: the head is retrying with its error and next attempt; the rest wait (FIFO).
        let head = try #require(try bench.receipt("k1"))
        #expect(head.state == .retrying)
        #expect(head.attempts >= 1)
        #expect(head.lastError == "HTTP 500: boom")
        #expect(head.nextAttemptAt != nil)
        #expect(try bench.receipt("k2")?.state == .queued)
        #expect(try bench.receipt("k2")?.attempts == 0)
        #expect(server.requests.allSatisfy { $0.idempotencyKey == "k1" })

        let failedCount = Mutex(0)
        server.setScript { index, _ in
            failedCount.withLock { if $0 == 0 { $0 = index } }
            return .status(200)
        }
        try await eventually("all delivered") { try ["k1", "k2", "k3"].allSatisfy { try bench.state($0) == .delivered } }
        bench.delivery.shutdown()

        let firstOK = failedCount.withLock { $0 }
        #expect(accepted(server) { $0 >= firstOK } == ["k1", "k2", "k3"])
        #expect(server.requests.prefix(firstOK).allSatisfy { $0.idempotencyKey == "k1" })
        let k1 = try #require(try bench.receipt("k1"))
        #expect(k1.attempts == firstOK + 1)
        #expect(k1.lastError == "HTTP 500: boom")  // kept on the receipt for the operator
        #expect(k1.deliveredAt != nil && k1.nextAttemptAt == nil)
        #expect(try bench.receipt("k3")?.attempts == 1)
        // Every attempt went over one kept-alive connection.
        #expect(server.connections == 1)
        let receipts = try bench.outbox.receipts(receiver: "ops", state: .delivered, limit: 2)
        #expect(receipts.map(\.idempotencyKey) == ["k3", "k2"])  // newest first, limited
    }

    @Test func retryAfterOn429And503IsWaitedExactly() async throws {
        let server = try await LoopbackReceiver { index, _ in
            switch index {
            case 0: .status(429, headers: [("Retry-After", "2")], body: "slow down")
            case 2: .status(503, headers: [("Retry-After", "1")])
            default: .status(200)
            }
        }
        let bench = try DeliveryBench()
        // Backoff of 10 ms: only Retry-After can explain a wait of seconds.
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server, initialBackoffMillis: 10, maxBackoffMillis: 10)])
        try bench.queue("ops", key: "a")
        try bench.queue("ops", key: "b")
        try await eventually("both delivered") { try bench.state("a") == .delivered && bench.state("b") == .delivered }
        bench.delivery.shutdown()

        let r = server.requests
        #expect(r.map(\.idempotencyKey) == ["a", "a", "b", "b"])
        let after429 = r[1].receivedAt - r[0].receivedAt
        let after503 = r[3].receivedAt - r[2].receivedAt
        print("retry-after: next attempt \(after429) ms after the 429 (Retry-After: 2), \(after503) ms after the 503 (Retry-After: 1)")
        #expect(after429 >= 2_000)
        #expect(after503 >= 1_000)
        #expect(try bench.receipt("a")?.lastError == "HTTP 429: slow down")
        #expect(try bench.receipt("b")?.lastError == "HTTP 503")
    }

    @Test func aHangIsATimeoutAndIsRetried() async throws {
        let server = try await LoopbackReceiver { index, _ in index == 0 ? .hang : .status(200) }
        let bench = try DeliveryBench()
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server, timeoutMillis: 300)])
        try bench.queue("ops", key: "h1")
        try await eventually("delivered") { try bench.state("h1") == .delivered }
        bench.delivery.shutdown()
        #expect(server.requests.map(\.idempotencyKey) == ["h1", "h1"])
        let receipt = try #require(try bench.receipt("h1"))
        #expect(receipt.attempts == 2)
        #expect(receipt.lastError == "Timeout was reached")
        try await eventually("curl gave up on the hung connection") { server.closedHanging == 1 }
    }

    @Test func aHangingReceiverHoldsUpNoOtherAndShutdownAbortsIt() async throws {
        let hanging = try await LoopbackReceiver { _, _ in .hang }
        let healthy = try await LoopbackReceiver()
        let bench = try DeliveryBench()
        bench.delivery.configure(receivers: [
            DeliveryBench.receiver("stuck", hanging, timeoutMillis: 3_600_000),
            DeliveryBench.receiver("ok", healthy),
        ])
        try bench.queue("stuck", key: "s0")
        try await eventually("the stuck receiver has its first request") { hanging.requests.count == 1 }
        for i in 0..<20 {
            try bench.queue("stuck", key: "s\(i + 1)")
            try bench.queue("ok", key: "ok\(i)")
        }
        try await eventually("all 20 delivered to the healthy receiver") {
            try bench.outbox.receipts(receiver: "ok", state: .delivered, limit: 100).count == 20
        }
        // All of them went through while the other receiver's first request was still hanging.
        #expect(healthy.requests.map(\.idempotencyKey) == (0..<20).map { "ok\($0)" })
        #expect(hanging.requests.count == 1)
        #expect(try bench.outbox.receipts(receiver: "stuck", state: .queued, limit: 100).count == 21)

        let started = ContinuousClock.now
        bench.delivery.shutdown()  // would block for the 1 h timeout if the abort did not work
        print("shutdown with a request hanging (timeout 1 h) took \(ContinuousClock.now - started)")
        try await eventually("the hung connection closed") { hanging.closedHanging == 1 }
        // An aborted request is not an attempt.
        #expect(try bench.receipt("s0")?.attempts == 0)
        #expect(try bench.receipt("s0")?.state == .queued)
    }

    @Test func aResetConnectionIsAFailedAttempt() async throws {
        let server = try await LoopbackReceiver { index, _ in index < 2 ? .reset : .status(204) }
        let bench = try DeliveryBench()
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server)])
        try bench.queue("ops", key: "r1")
        try await eventually("delivered") { try bench.state("r1") == .delivered }
        bench.delivery.shutdown()
        #expect(server.requests.map(\.idempotencyKey) == ["r1", "r1", "r1"])
        let receipt = try #require(try bench.receipt("r1"))
        #expect(receipt.attempts == 3)
        let error = try #require(receipt.lastError)
        print("after a reset, last_error: \(error)")
        #expect(!error.hasPrefix("HTTP"))  // a transport error, not a status
        #expect(server.connections == 3)    // each reset forced a new connection
    }

    @Test func maxAgeDeadLettersAndTheFallbackReceiverGetsIt() async throws {
        let down = try await LoopbackReceiver { _, _ in .status(500, body: "down") }
        let slack = try await LoopbackReceiver()
        let bench = try DeliveryBench()
        bench.delivery.configure(receivers: [
            DeliveryBench.receiver("ops", down, maxAgeMillis: 600),
            DeliveryBench.receiver("slack-finops", slack, kind: .slack),
        ])
        try bench.queue("ops", key: "d1", fallback: "slack-finops")
        try await eventually("the fallback received it") { slack.requests.count == 1 }
        try await eventually("the fallback's receipt says delivered") { try bench.state("d1:fallback") == .delivered }
        bench.delivery.shutdown()

        let dead = try #require(try bench.receipt("d1"))
        #expect(dead.state == .dead)
        #expect(dead.deadAt != nil)
        #expect(dead.lastError == "HTTP 500: down")
        #expect(dead.attempts == down.requests.count)
        #expect(down.requests.allSatisfy { $0.idempotencyKey == "d1" })
        let letters = try bench.outbox.deadLetters(limit: 10)
        #expect(letters.map(\.idempotencyKey) == ["d1"])
        #expect(letters.first?.lastError == "HTTP 500: down")

        let request = slack.requests[0]
        #expect(request.idempotencyKey == "d1:fallback")
        #expect(request.json?["blocks"] != nil)  // rendered anew for the Slack receiver
        let fallback = try #require(try bench.receipt("d1:fallback"))
        #expect(fallback.receiver == "slack-finops")
        #expect(fallback.fallbackOf == "ops")
    }

    @Test func keysAreStableAcrossRestartAndEachIsAcceptedOnce() async throws {
        let failing = Atomic<Bool>(true)
        let server = try await LoopbackReceiver { _, _ in failing.load(ordering: .relaxed) ? .status(500) : .status(200) }
        let directory: URL
        do {
            let first = try DeliveryBench()
            directory = first.directory
            first.delivery.configure(receivers: [DeliveryBench.receiver("ops", server)])
            for i in 0..<5 { try first.queue("ops", key: "key-\(i)") }
            try await eventually("two failed attempts") { server.requests.count >= 2 }
            first.delivery.shutdown()
        }
        let beforeRestart = server.requests.count
        failing.store(false, ordering: .relaxed)

        let second = try DeliveryBench(directory: directory)
        second.delivery.configure(receivers: [DeliveryBench.receiver("ops", server)])
        try await eventually("all delivered after the restart") {
            try second.outbox.receipts(receiver: "ops", state: .delivered, limit: 100).count == 5
        }
        second.delivery.shutdown()
        let requests = server.requests
        #expect(requests.prefix(beforeRestart).allSatisfy { $0.idempotencyKey == "key-0" })
        #expect(requests.dropFirst(beforeRestart).map(\.idempotencyKey) == (0..<5).map { "key-\($0)" })
        // Attempts recorded: each answered failure before the restart, plus the delivery. (A
        // request the shutdown aborted reached the server but is not an attempt.)
        let attempts = try #require(try second.receipt("key-0")?.attempts)
        #expect(attempts >= 2 && attempts <= beforeRestart + 1)
    }

    @Test func theSignatureVerifiesWithTheDocumentedAlgorithm() async throws {
        let server = try await LoopbackReceiver()
        let bench = try DeliveryBench()
        let secret = "whsec-0123456789"
        bench.delivery.configure(receivers: [
            DeliveryBench.receiver("signed", server, secret: secret),
            DeliveryBench.receiver("plain", server),
        ])
        try bench.queue("signed", key: "sig1")
        try await eventually("delivered") { try bench.state("sig1") == .delivered }
        try bench.queue("plain", key: "plain1")
        try await eventually("delivered") { try bench.state("plain1") == .delivered }
        bench.delivery.shutdown()

        let signed = server.requests[0]
        let timestamp = try #require(signed.headers["x-ingestd-timestamp"])
        #expect(Int64(timestamp) != nil)
        // The receiver's side, as README documents it: HMAC-SHA256(secret, TIMESTAMP + "." + BODY), hex, "v1=".
        let mac = HMAC<SHA256>.authenticationCode(for: Data(timestamp.utf8) + Data(".".utf8) + Data(signed.body),
                                                  using: SymmetricKey(data: Data(secret.utf8)))
        let expected = "v1=" + mac.map { String(format: "%02x", $0) }.joined()
        #expect(signed.headers["x-ingestd-signature"] == expected)
        #expect(signed.headers["content-type"] == "application/json")
        #expect(signed.headers["user-agent"] == "ingestd-test/1")
        #expect(signed.headers["idempotency-key"] == "sig1")
        let plain = server.requests[1]
        #expect(plain.headers["x-ingestd-signature"] == nil && plain.headers["x-ingestd-timestamp"] == nil)
    }

    @Test func noLogOrReceiptContainsTheURLOrTheSecret() async throws {
        let server = try await LoopbackReceiver { index, _ in
            switch index {
            // A reset on a fresh connection (on a reused one, libcurl itself retries once).
            case 0: .reset
            case 1: .status(500, body: "internal")
            case 2: .hang
            default: .status(200)
            }
        }
        let bench = try DeliveryBench()
        let secret = "whsec-never-log-me"
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server, secret: secret, timeoutMillis: 300)])
        try bench.queue("ops", key: "log1")
        try await eventually("delivered") { try bench.state("log1") == .delivered }
        // A receiver the config does not define: its entry waits, saying why.
        try bench.queue("ghost", key: "ghost1")
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server, secret: secret, timeoutMillis: 300)])
        try await eventually("the unconfigured receiver is noted") {
            try bench.receipt("ghost1")?.lastError?.contains("receiver \"ghost\" is not configured") == true
        }
        bench.delivery.shutdown()

        let lines = bench.logs.all
        let failures = lines.filter { $0.contains("notification attempt failed") }
        #expect(failures.count == 3)
        #expect(failures.contains { $0.contains("error=HTTP 500: internal") })
        #expect(failures.contains { $0.contains("error=Timeout was reached") })
        let receipts = try bench.outbox.receipts(receiver: nil, state: nil, limit: 100)
        for text in lines + receipts.compactMap(\.lastError) {
            #expect(!text.contains("TOKEN-s3cr3t-path"), "\(text)")
            #expect(!text.contains("127.0.0.1:\(server.port)"), "\(text)")
            #expect(!text.contains(secret), "\(text)")
        }
        #expect(try bench.state("ghost1") == .queued)
    }

    @Test func anUnconfiguredReceiversOldEntryDeadLettersToItsFallback() async throws {
        let server = try await LoopbackReceiver()
        let bench = try DeliveryBench()
        // Queued two hours ago for a receiver no file defines: past the default max age of 1 h.
        try bench.queue("ghost", key: "g1", fallback: "ops", createdAt: WallClock.nowMillis() - 7_200_000)
        bench.delivery.configure(receivers: [DeliveryBench.receiver("ops", server)])
        try await eventually("the fallback delivered") { try bench.state("g1:fallback") == .delivered }
        bench.delivery.shutdown()
        let dead = try #require(try bench.receipt("g1"))
        #expect(dead.state == .dead)
        #expect(dead.attempts == 0)
        #expect(dead.lastError?.contains("receiver \"ghost\" is not configured") == true)
        #expect(server.requests.map(\.idempotencyKey) == ["g1:fallback"])
        #expect(try bench.receipt("g1:fallback")?.fallbackOf == "ghost")
    }

    @Test func aReloadThatRemovesAReceiverKeepsItsEntriesUntilItIsBack() async throws {
        let server = try await LoopbackReceiver { index, _ in index == 0 ? .hang : .status(200) }
        let bench = try DeliveryBench()
        let ops = DeliveryBench.receiver("ops", server, timeoutMillis: 3_600_000)
        bench.delivery.configure(receivers: [ops])
        try bench.queue("ops", key: "re1")
        try await eventually("the first request hangs") { server.requests.count == 1 }
        bench.delivery.configure(receivers: [])  // the reload removed it: its request is aborted
        try await eventually("the entry notes its receiver is gone") {
            try bench.receipt("re1")?.lastError?.contains("is not configured") == true
        }
        #expect(try bench.receipt("re1")?.attempts == 0)
        #expect(try bench.state("re1") == .queued)
        bench.delivery.configure(receivers: [ops])  // and the next one brings it back
        try await eventually("delivered") { try bench.state("re1") == .delivered }
        bench.delivery.shutdown()
        #expect(server.requests.map(\.idempotencyKey) == ["re1", "re1"])
        try await eventually("the aborted connection closed") { server.closedHanging == 1 }
    }
}
