import Foundation
import Stream
import Testing

@Suite("Quarantine")
struct QuarantineTests {
    private static func kafkaEvent(offset: Int64, partition: Int32 = 0, detail: String = "not JSON",
                                   reason: RejectReason = .invalidJSON, payload: [UInt8] = Array("{oops".utf8),
                                   receivedAt: Int64 = 1_700_000_000_000) -> QuarantinedEvent {
        .kafka(topic: "cost-events", partition: partition, offset: offset,
               rejection: EventRejection(reason, detail), payload: payload, receivedAt: receivedAt)
    }

    @Test func recordedEventsReadBackNewestFirstWithEveryField() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))
        let fromKafka = Self.kafkaEvent(offset: 41, partition: 3)
        let fromHTTP = QuarantinedEvent.located(
            .http, position: "request 17 index 3", rejection: EventRejection(.negativeCost, "cost -2 is not a credit"),
            payload: Array(#"{"cost":-2}"#.utf8), receivedAt: 1_700_000_000_500)

        #expect(try quarantine.record([fromKafka, fromHTTP]) == 2)

        let recent = try quarantine.recent(limit: 10)
        #expect(recent.count == 2)
        #expect(recent.allSatisfy { $0.id != nil })
        #expect(recent.map { var event = $0; event.id = nil; return event } == [fromHTTP, fromKafka])
        #expect(recent[0].source == .http && recent[0].topic == nil && recent[0].offset == nil)
        #expect(recent[1].topic == "cost-events" && recent[1].partition == 3 && recent[1].offset == 41)
    }

    @Test func theSameKafkaOffsetIsRecordedOnlyOnce() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))

        #expect(try quarantine.record([Self.kafkaEvent(offset: 7)]) == 1)
        // Redelivered after a crash (even with a different detail), and twice within one batch.
        #expect(try quarantine.record([Self.kafkaEvent(offset: 7, detail: "seen again")]) == 0)
        #expect(try quarantine.record([Self.kafkaEvent(offset: 8), Self.kafkaEvent(offset: 8)]) == 1)
        // Same offset in another partition is another message.
        #expect(try quarantine.record([Self.kafkaEvent(offset: 7, partition: 1)]) == 1)

        #expect(try quarantine.count() == 3)
        #expect(try quarantine.recent(limit: 10).filter { $0.offset == 7 && $0.partition == 0 }.map(\.detail)
            == ["not JSON"])
    }

    @Test func pruningKeepsOnlyTheNewestRows() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))
        try quarantine.record((0..<10).map { Self.kafkaEvent(offset: $0) })
        #expect(try quarantine.prune(keepingNewest: 20) == 0)
        #expect(try quarantine.prune(keepingNewest: 4) == 6)
        #expect(try quarantine.recent(limit: 100).map(\.offset) == [9, 8, 7, 6])
        #expect(try quarantine.prune(keepingNewest: 0) == 4)
        #expect(try quarantine.count() == 0)
    }

    @Test func eventsWithoutAKafkaOffsetAreNeverMerged() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))
        let line = QuarantinedEvent.located(.replay, position: "line 42", rejection: EventRejection(.oversized, "2 MB"),
                                            payload: [1, 2, 3], receivedAt: 1)

        #expect(try quarantine.record([line, line]) == 2)
        #expect(try quarantine.count() == 2)
    }

    @Test func payloadIsTruncatedToTheLimitAndKeepsItsOriginalLength() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")), maxPayloadBytes: 16)
        let big = (0..<100).map(UInt8.init)
        let small = [UInt8](repeating: 9, count: 16)
        var alreadyCut = Self.kafkaEvent(offset: 3, payload: Array(big.prefix(10)))
        alreadyCut.payloadBytes = 5_000

        try quarantine.record([Self.kafkaEvent(offset: 1, payload: big), Self.kafkaEvent(offset: 2, payload: small),
                               alreadyCut])

        let byOffset = Dictionary(uniqueKeysWithValues: try quarantine.recent(limit: 10).map { ($0.offset!, $0) })
        #expect(byOffset[1]?.payload == Array(big.prefix(16)))
        #expect(byOffset[1]?.payloadBytes == 100)
        #expect(byOffset[2]?.payload == small)
        #expect(byOffset[2]?.payloadBytes == 16)
        #expect(byOffset[3]?.payload == Array(big.prefix(10)))
        #expect(byOffset[3]?.payloadBytes == 5_000)
    }

    @Test func defaultPayloadLimitIs4096Bytes() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))

        try quarantine.record([Self.kafkaEvent(offset: 1, payload: [UInt8](repeating: 7, count: 10_000))])

        let stored = try #require(try quarantine.recent(limit: 1).first)
        #expect(stored.payload.count == 4096)
        #expect(stored.payloadBytes == 10_000)
    }

    @Test func countsAreGroupedByReason() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))

        try quarantine.record([
            Self.kafkaEvent(offset: 1, reason: .invalidJSON), Self.kafkaEvent(offset: 2, reason: .invalidJSON),
            Self.kafkaEvent(offset: 3, reason: .unknownCurrency),
        ])

        #expect(try quarantine.counts() == [.invalidJSON: 2, .unknownCurrency: 1])
        #expect(try quarantine.count() == 3)
    }

    @Test func recentHonoursItsLimit() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))

        try quarantine.record((1...5).map { Self.kafkaEvent(offset: $0) })

        #expect(try quarantine.recent(limit: 2).map(\.offset) == [5, 4])
        #expect(try quarantine.recent(limit: 0).isEmpty)
    }

    @Test func aBatchWithOneFailingRowRecordsNothing() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let database = try SQLiteTestSchema.open(directory.path("q.sqlite"))
        try database.execute("""
            CREATE TRIGGER refuse_boom BEFORE INSERT ON quarantine WHEN NEW.detail = 'boom'
            BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END
            """)
        let quarantine = Quarantine(database: database)

        let error = #expect(throws: SQLiteError.self) {
            try quarantine.record([Self.kafkaEvent(offset: 1), Self.kafkaEvent(offset: 2, detail: "boom")])
        }
        #expect(error?.code == SQLiteTestCode.constraintTrigger)
        #expect(try quarantine.count() == 0)
    }

    @Test func aKafkaRowWithoutItsOffsetIsRefused() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let quarantine = Quarantine(database: try SQLiteTestSchema.open(directory.path("q.sqlite")))
        var event = Self.kafkaEvent(offset: 1)
        event.offset = nil

        let error = #expect(throws: SQLiteError.self) { try quarantine.record([event]) }
        #expect(error?.primaryCode == SQLiteTestCode.constraint)
        #expect(try quarantine.count() == 0)
    }

    @Test func recordedEventsSurviveReopen() throws {
        let directory = try SQLiteTestDirectory()
        defer { directory.remove() }
        let path = directory.path("q.sqlite")
        do {
            try Quarantine(database: try SQLiteTestSchema.open(path)).record([Self.kafkaEvent(offset: 99)])
        }

        let reopened = Quarantine(database: try SQLiteTestSchema.open(path))
        #expect(try reopened.recent(limit: 10).map(\.offset) == [99])
        #expect(try reopened.record([Self.kafkaEvent(offset: 99)]) == 0)  // still deduplicated
    }
}
