import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Stream
import Testing
@testable import Alerts
@testable import Ingestd

/// What a subscription lets through, the client's bounded queue, and the log's sequence numbers
/// across a reopen (a restart).
@Suite struct StreamSubscriptionTests {
    func event(_ kind: StreamEvent.Kind, accounts: [String?], seq: Int64 = 1) -> StreamEvent {
        StreamEvent(seq: seq, kind: kind, atMillis: 0,
                    labels: accounts.map { a in a.map { ["account": $0, "alertname": "A"] } ?? ["alertname": "A"] }, data: "{}")
    }

    func subscription(_ text: String, scope: AccessScope = .unrestricted) throws -> StreamSubscription {
        guard case .subscribe(let s, _) = try StreamRequest.parse(text, scope: scope) else { throw CancellationError() }
        return s
    }

    @Test func aScopedSubscriptionSeesOnlyWhatAllItsAccountsMaySee() throws {
        let scoped = try subscription(#"{"type":"subscribe","id":"s"}"#, scope: AccessScope(accounts: ["a"]))
        #expect(scoped.matches(event(.alert, accounts: ["a"])))
        #expect(!scoped.matches(event(.alert, accounts: ["b"])))
        #expect(!scoped.matches(event(.alert, accounts: [nil])), "no account label: not for a scoped token")
        #expect(!scoped.matches(event(.notification, accounts: ["a", "b"])), "a notification about b too")
        #expect(scoped.matches(event(.notification, accounts: ["a", "a"])))
        #expect(!scoped.matches(event(.reload, accounts: [])), "reloads name every account's rules")
        let open = try subscription(#"{"type":"subscribe","id":"s","kinds":["reload","alert"],"match":"{account=\"b\"}"}"#)
        #expect(open.matches(event(.alert, accounts: ["b"])) && !open.matches(event(.alert, accounts: ["a"])))
        #expect(!open.matches(event(.notification, accounts: ["b"])), "kind not subscribed")
        #expect(open.matches(event(.reload, accounts: [])) == false, "a reload has no labels to match {account=\"b\"}")
    }

    @Test func aScopedTokensCostTicksAreLimitedToItsAccountsEvenWithRegexCharacters() throws {
        let s = try subscription(#"{"type":"subscribe","id":"c","kinds":["cost"],"cost":{"window":"1h","by":["service"],"every":"5s"}}"#,
                                 scope: AccessScope(accounts: ["a.b", "c|d"]))
        let matcher = try #require(s.cost?.query.matchers.last)
        #expect(matcher.name == "account" && matcher.op == .matches)
        let compiled = LabelMatcher.Compiled(matcher, labelNames: ["account"])
        #expect(compiled.matches(value: "a.b") && compiled.matches(value: "c|d"))
        #expect(!compiled.matches(value: "axb") && !compiled.matches(value: "c") && !compiled.matches(value: "d"))
        let none = try subscription(#"{"type":"subscribe","id":"c","kinds":["cost"],"cost":{"window":"1h","every":"5s"}}"#,
                                    scope: AccessScope(accounts: []))
        let nothing = LabelMatcher.Compiled(try #require(none.cost?.query.matchers.last), labelNames: ["account"])
        #expect(!nothing.matches(value: "") && !nothing.matches(value: "a"))
    }

    @Test func sinceTakesEverySequenceNumberAndNoBoolean() throws {
        for n in [0, 1, 2, 4711] {
            guard case .subscribe(_, let since) = try StreamRequest.parse(#"{"type":"subscribe","id":"s","since":\#(n)}"#, scope: .unrestricted) else {
                Issue.record("not a subscribe")
                continue
            }
            #expect(since == Int64(n))
        }
        for bad in ["true", "false", "-1", "1.5", "\"3\""] {
            #expect(throws: (any Error).self, "since: \(bad)") {
                try StreamRequest.parse(#"{"type":"subscribe","id":"s","since":\#(bad)}"#, scope: .unrestricted)
            }
        }
    }

    /// A client on NIO's in-memory channel: what its socket writes is read back as frames.
    func client(queueLimit: Int) -> (StreamClient, EmbeddedChannel) {
        let channel = EmbeddedChannel()
        return (StreamClient(id: 1, scope: .unrestricted, queueLimit: queueLimit, socket: StreamSocket(channel: channel)), channel)
    }

    func written(_ channel: EmbeddedChannel) throws -> [String] {
        channel.embeddedEventLoop.run()
        var texts: [String] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
            #expect(frame.opcode == .text && frame.fin)
            texts.append(String(buffer: frame.data))
        }
        return texts
    }

    @Test func aClientThatFallsBehindIsCutOffAndOthersAreNot() throws {
        let (slow, slowChannel) = client(queueLimit: 16)
        let (fast, fastChannel) = client(queueLimit: 16)
        let sub = StreamSubscription(id: "s", kinds: [.alert], matchers: .all, scope: .unrestricted, cost: nil)
        slow.add(sub, replaying: false)
        fast.add(sub, replaying: false)
        // The slow client's socket never gets to write (its loop does not run): 16 wait.
        for i in 1...16 {
            slow.deliver(event(.alert, accounts: ["a"], seq: Int64(i)))
            fast.deliver(event(.alert, accounts: ["a"], seq: Int64(i)))
            #expect(try written(fastChannel).count == 1, "what is written no longer counts")
        }
        #expect(slow.closeReason == nil, "a full queue is still fine")
        #expect(slow.socket.unwritten == 16 && fast.socket.unwritten == 0)
        slow.deliver(event(.alert, accounts: ["a"], seq: 17))
        fast.deliver(event(.alert, accounts: ["a"], seq: 17))
        #expect(slow.closeReason == .tooSlow)
        #expect(fast.closeReason == nil)
        #expect(!slow.send("{}"), "nothing more is queued")
        let texts = try written(slowChannel)
        #expect(texts.count == 16 && texts.last!.contains("\"seq\":16"), "what was queued before the cut is still written")
        #expect(try written(fastChannel).first!.contains("\"seq\":17"))
    }

    @Test func liveEventsWaitForTheReplayAndFollowIt() async throws {
        let (client, channel) = client(queueLimit: 16)
        let sub = StreamSubscription(id: "s", kinds: [.alert], matchers: .all, scope: .unrestricted, cost: nil)
        client.add(sub, replaying: true)
        client.deliver(event(.alert, accounts: ["a"], seq: 9))
        client.send("replayed")
        client.endReplay("s")
        client.deliver(event(.alert, accounts: ["a"], seq: 10))
        let got = try written(channel)
        #expect(got.count == 3 && got[0] == "replayed" && got[1].contains("\"seq\":9") && got[2].contains("\"seq\":10"))
    }

    @Test func aSubscriptionIsConfirmedBeforeItsFirstEvent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = StreamLog(database: try SQLiteDatabase(path: dir.appendingPathComponent("n.db").path, schema: [StreamLog.module]))
        let hub = try StreamHub(log: log, logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        let client = try #require(hub.connect(scope: .unrestricted, socket: StreamSocket(channel: channel)))
        let upTo = hub.subscribe(client, StreamSubscription(id: "s", kinds: [.alert], matchers: .all, scope: .unrestricted, cost: nil), replaying: false)
        hub.publish([event(.alert, accounts: ["a"])])
        let got = try written(channel)
        #expect(got.count == 2 && got[0] == "{\"type\":\"subscribed\",\"id\":\"s\",\"seq\":\(upTo)}" && got[1].contains("\"seq\":\(upTo + 1)"))
    }

    @Test func sequenceNumbersContinueAfterAReopenAndPruning() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func open() throws -> StreamLog {
            StreamLog(database: try SQLiteDatabase(path: dir.appendingPathComponent("n.db").path, schema: [StreamLog.module]),
                      retentionMillis: 1000, maxEvents: 2)
        }
        let log = try open()
        let stored = try log.append((1...3).map { _ in event(.alert, accounts: ["a"], seq: 0) })
        #expect(stored.map(\.seq) == [1, 2, 3])
        try log.prune(now: 0)
        #expect(try log.oldestSeq() == 2, "at most maxEvents kept")
        try log.prune(now: 10_000)
        #expect(try log.oldestSeq() == nil)
        let reopened = try open()
        #expect(try reopened.latestSeq() == 3, "numbers never go back, even with every row pruned")
        #expect(try reopened.append([event(.alert, accounts: ["a"], seq: 0)]).first?.seq == 4)
        #expect(try reopened.events(after: 0, upTo: 10, limit: 10).map(\.seq) == [4])
    }
}
