import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Stream
import Testing
@testable import Alerts
@testable import Ingestd

/// GET /v1/notifications served by a real Hummingbird server on loopback over a real outbox.
@Suite struct NotificationsEndpointTests {
    func message(_ receiver: String) -> NotificationMessage {
        NotificationMessage(receiver: receiver, status: .firing, groupKey: "{}:{alertname=\"X\"}", groupLabels: [:],
                            commonLabels: [:], commonAnnotations: [:],
                            alerts: [.init(status: .firing, labels: ["alertname": "X"], annotations: [:], startsAt: 0, endsAt: nil,
                                           fingerprint: "f", value: 1, measure: 1, revision: 0)],
                            truncatedAlerts: 0, externalURL: "")
    }

    /// Runs the endpoint on an ephemeral port for `body`.
    func withServer(_ outbox: Outbox, _ body: (Int) async throws -> Void) async throws {
        let router = Router(context: IngestdRequestContext.self)
        NotificationsEndpoint(outbox: outbox).register(on: router)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port)
    }

    func get(_ port: Int, _ query: String) async throws -> (Int, [String: Any]) {
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/v1/notifications\(query)"))
        let (data, response) = try await URLSession.shared.data(from: url)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    @Test func receiptsAreFilteredLimitedAndBadParametersAre400s() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("notifications-endpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("notifications.db").path, schema: [Outbox.module])
        let outbox = Outbox(database: database)
        var ids: [Int64] = []
        for (receiver, key) in [("ops", "a"), ("slack", "b"), ("ops", "c")] {
            ids.append(try database.transaction { c in
                try Outbox.insert(.init(receiver: receiver, fallback: nil, idempotencyKey: key, createdAtMillis: 1_767_225_600_000,
                                        message: message(receiver)), on: c)
            })
        }
        try outbox.markFailed(id: ids[0], error: "HTTP 500: boom", nextAttemptAt: 1_767_225_660_000)
        try outbox.markDelivered(id: ids[1], atMillis: 1_767_225_601_000)

        try await withServer(outbox) { port in
            let (status, all) = try await get(port, "")
            #expect(status == 200)
            let rows = try #require(all["notifications"] as? [[String: Any]])
            #expect(rows.map { $0["idempotencyKey"] as? String } == ["c", "b", "a"])  // newest first
            let retrying = rows[2]
            #expect(retrying["state"] as? String == "retrying")
            #expect(retrying["attempts"] as? Int == 1)
            #expect(retrying["lastError"] as? String == "HTTP 500: boom")
            #expect(retrying["nextAttemptAt"] as? String == "2026-01-01T00:01:00Z")
            #expect(retrying["createdAt"] as? String == "2026-01-01T00:00:00Z")
            #expect(retrying["receiver"] as? String == "ops")
            #expect(retrying["status"] as? String == "firing")
            #expect(retrying["alerts"] as? Int == 1)
            #expect(rows[1]["deliveredAt"] as? String == "2026-01-01T00:00:01Z")
            #expect(rows[0]["state"] as? String == "queued")
            #expect(rows[0]["lastError"] == nil)

            let (_, ops) = try await get(port, "?receiver=ops")
            #expect((ops["notifications"] as? [[String: Any]])?.map { $0["idempotencyKey"] as? String } == ["c", "a"])
            let (_, delivered) = try await get(port, "?state=delivered")
            #expect((delivered["notifications"] as? [[String: Any]])?.map { $0["idempotencyKey"] as? String } == ["b"])
            let (_, one) = try await get(port, "?limit=1&receiver=ops&state=queued")
            #expect((one["notifications"] as? [[String: Any]])?.map { $0["idempotencyKey"] as? String } == ["c"])

            for bad in ["?limit=0", "?limit=10001", "?limit=abc", "?limit=99999999999999999999999"] {
                let (status, body) = try await get(port, bad)
                #expect(status == 400, "\(bad)")
                #expect((body["error"] as? String)?.contains("limit must be a whole number from 1 to 10000") == true, "\(bad)")
            }
            let (badState, body) = try await get(port, "?state=lost")
            #expect(badState == 400)
            #expect((body["error"] as? String)?.contains("queued, retrying, delivered, dead") == true)
        }
    }
}
