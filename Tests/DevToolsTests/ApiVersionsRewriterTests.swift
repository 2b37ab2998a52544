import Logging
import NIOCore
import Testing

@testable import DevTools

@Suite("ApiVersions tagged-field rewrite", .serialized)
struct ApiVersionsRewriterTests {
    let logger = Logger(label: "test.api-versions-rewriter")

    /// An ApiVersions v3 response payload (from the correlation id on), built field by field.
    struct Response {
        struct Entry {
            var key: Int16
            var min: Int16
            var max: Int16
            var tags: [(tag: UInt32, data: [UInt8])] = []
        }

        var correlationID: Int32 = 42
        var errorCode: Int16 = 0
        var entries: [Entry]? = []
        var throttleTimeMs: Int32 = 0
        var tags: [(tag: UInt32, data: [UInt8])] = []

        var bytes: ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(correlationID)
            buffer.writeInteger(errorCode)
            if let entries {
                buffer.writeVarint(UInt32(entries.count + 1))
                for entry in entries {
                    buffer.writeInteger(entry.key)
                    buffer.writeInteger(entry.min)
                    buffer.writeInteger(entry.max)
                    buffer.writeTags(entry.tags)
                }
            } else {
                buffer.writeVarint(0)
            }
            buffer.writeInteger(throttleTimeMs)
            buffer.writeTags(tags)
            return buffer
        }

        /// The same response with every tag section emptied.
        var withoutTags: Response {
            var copy = self
            copy.entries = entries?.map { var entry = $0; entry.tags = []; return entry }
            copy.tags = []
            return copy
        }
    }

    static let produce = Response.Entry(key: 0, min: 0, max: 9)
    static let fetch = Response.Entry(key: 1, min: 0, max: 13)
    static let apiVersions = Response.Entry(key: 18, min: 0, max: 3)

    // MARK: Rewrites

    @Test func stripsTagsOnEntries() {
        var response = Response(entries: [Self.produce, Self.fetch, Self.apiVersions])
        response.entries![1].tags = [(tag: 0, data: [1, 2, 3])]
        response.entries![2].tags = [(tag: 5, data: []), (tag: 9, data: [7])]

        let rewritten = ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 3, logger: logger)

        #expect(rewritten == response.withoutTags.bytes)
    }

    @Test func stripsTopLevelTags() {
        // SupportedFeatures (0), FinalizedFeaturesEpoch (1), FinalizedFeatures (2), ZkMigrationReady (3).
        let response = Response(
            entries: [Self.produce, Self.apiVersions],
            throttleTimeMs: 17,
            tags: [(0, [1]), (1, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), (2, [1]), (3, [0])])

        let rewritten = ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 3, logger: logger)

        #expect(rewritten == response.withoutTags.bytes)
        #expect(rewritten.readableBytes == response.bytes.readableBytes - 19)
    }

    @Test func stripsTagsEverywhereAndKeepsOtherFields() throws {
        var response = Response(
            correlationID: -7, errorCode: 0, entries: [Self.produce, Self.fetch],
            throttleTimeMs: 1234, tags: [(0, Array(repeating: 0xAB, count: 200))])
        response.entries![0].tags = [(tag: 300, data: [1])]  // a 2-byte varint tag

        let rewritten = ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 4, logger: logger)

        #expect(rewritten == response.withoutTags.bytes)
        #expect(rewritten.getInteger(at: 0, as: Int32.self) == -7)
    }

    @Test func handlesMultiByteArrayLength() {
        var entries = (0..<200).map { Response.Entry(key: Int16($0), min: 0, max: 3) }
        entries[150].tags = [(tag: 1, data: [9, 9])]
        let response = Response(entries: entries, tags: [(0, [1])])

        let rewritten = ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 3, logger: logger)

        #expect(rewritten == response.withoutTags.bytes)
    }

    @Test func keepsNullApiKeysArray() {
        let response = Response(errorCode: 41, entries: nil, tags: [(0, [1])])

        let rewritten = ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 3, logger: logger)

        #expect(rewritten == response.withoutTags.bytes)
    }

    @Test func rewritesARealTansuResponse() throws {
        // Tansu 0.6.0's answer to ApiVersions v3 (correlation id 7): 36 api keys with empty
        // tag sections, then SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures and
        // ZkMigrationReady as top-level tags — what librdkafka 2.0.2 fails on.
        let tansu = try #require(ByteBuffer(testHex: Self.tansuApiVersionsV3))
        let topLevelTags = "0400010101" + "08ffffffffffffffff" + "020101" + "030100"
        #expect(Self.tansuApiVersionsV3.hasSuffix("00000000" + topLevelTags))
        let expected = try #require(
            ByteBuffer(testHex: String(Self.tansuApiVersionsV3.dropLast(topLevelTags.count)) + "00"))

        let rewritten = ApiVersionsRewriter.rewrite(tansu, requestApiVersion: 3, logger: logger)

        #expect(rewritten == expected)
        #expect(rewritten.readableBytes == 283 - 19)
        // Idempotent: nothing left to strip.
        #expect(try ApiVersionsRewriter.strippingTaggedFields(from: rewritten) == nil)
    }

    // MARK: Left alone

    @Test func responseWithoutTagsIsUnchanged() throws {
        let response = Response(entries: [Self.produce, Self.fetch])

        #expect(try ApiVersionsRewriter.strippingTaggedFields(from: response.bytes) == nil)
        #expect(ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: 3, logger: logger) == response.bytes)
    }

    @Test(arguments: [Int16(0), 1, 2])
    func versionsBeforeThreeAreUntouched(version: Int16) {
        // Bytes that would parse as a tagged v3 response must still pass untouched.
        let response = Response(entries: [Self.produce], tags: [(0, [1])])

        #expect(ApiVersionsRewriter.rewrite(response.bytes, requestApiVersion: version, logger: logger) == response.bytes)
    }

    @Test func onlyApiVersionsThreeAndUpNeedRewriting() {
        #expect(ApiVersionsRewriter.needsRewrite(apiKey: 18, apiVersion: 3))
        #expect(ApiVersionsRewriter.needsRewrite(apiKey: 18, apiVersion: 4))
        #expect(!ApiVersionsRewriter.needsRewrite(apiKey: 18, apiVersion: 2))
        #expect(!ApiVersionsRewriter.needsRewrite(apiKey: 3, apiVersion: 12))  // Metadata
    }

    @Test func unsupportedVersionAnswerPassesThrough() throws {
        // A broker answers too new a version with UNSUPPORTED_VERSION and a v0 body.
        var v0 = ByteBuffer()
        v0.writeInteger(Int32(9))
        v0.writeInteger(Int16(35))
        v0.writeInteger(Int32(1))  // INT32 array length: v0 is not compact
        v0.writeInteger(Int16(18))
        v0.writeInteger(Int16(0))
        v0.writeInteger(Int16(3))

        #expect(try ApiVersionsRewriter.strippingTaggedFields(from: v0) == nil)
        #expect(ApiVersionsRewriter.rewrite(v0, requestApiVersion: 4, logger: logger) == v0)
    }

    // MARK: Malformed responses pass through

    @Test func truncatedResponsePassesThrough() throws {
        var response = Response(entries: [Self.produce, Self.fetch], tags: [(0, [1, 2, 3, 4])])
        response.entries![0].tags = [(tag: 0, data: [1])]
        let full = response.bytes
        for length in [0, 3, 5, 7, 12, full.readableBytes - 3, full.readableBytes - 1] {
            let truncated = full.getSlice(at: 0, length: length)!

            #expect(throws: MalformedApiVersionsResponse.self) {
                try ApiVersionsRewriter.strippingTaggedFields(from: truncated)
            }
            #expect(ApiVersionsRewriter.rewrite(truncated, requestApiVersion: 3, logger: logger) == truncated)
        }
    }

    @Test func trailingBytesPassThrough() throws {
        var bytes = Response(entries: [Self.produce], tags: [(0, [1])]).bytes
        bytes.writeInteger(UInt8(0))

        #expect(throws: MalformedApiVersionsResponse.trailingBytes(1)) {
            try ApiVersionsRewriter.strippingTaggedFields(from: bytes)
        }
        #expect(ApiVersionsRewriter.rewrite(bytes, requestApiVersion: 3, logger: logger) == bytes)
    }

    @Test func overlongVarintPassesThrough() throws {
        var bytes = ByteBuffer()
        bytes.writeInteger(Int32(1))
        bytes.writeInteger(Int16(0))
        bytes.writeBytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])  // api_keys length: 6 bytes

        #expect(throws: MalformedApiVersionsResponse.varintTooLong(field: "api_keys length")) {
            try ApiVersionsRewriter.strippingTaggedFields(from: bytes)
        }
        #expect(ApiVersionsRewriter.rewrite(bytes, requestApiVersion: 3, logger: logger) == bytes)
    }

    @Test func tagSizeBeyondTheEndPassesThrough() throws {
        var bytes = Response(entries: [Self.produce]).bytes
        bytes.moveWriterIndex(to: bytes.writerIndex - 1)  // drop the empty top-level tag section
        bytes.writeBytes([1, 0, 50, 1, 2])  // one tag claiming 50 bytes, 2 present

        #expect(throws: MalformedApiVersionsResponse.self) {
            try ApiVersionsRewriter.strippingTaggedFields(from: bytes)
        }
        #expect(ApiVersionsRewriter.rewrite(bytes, requestApiVersion: 3, logger: logger) == bytes)
    }

    @Test func hugeEntryCountPassesThrough() throws {
        var bytes = ByteBuffer()
        bytes.writeInteger(Int32(1))
        bytes.writeInteger(Int16(0))
        bytes.writeBytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])  // 4 billion entries, none present

        #expect(throws: MalformedApiVersionsResponse.truncated(field: "api_keys")) {
            try ApiVersionsRewriter.strippingTaggedFields(from: bytes)
        }
    }

    static let tansuApiVersionsV3 =
        "000000070000250047000000000000020000000900002e0000000000001e000000030000200000000400001000000005"
        + "000019000000040000180000000500000c0000000400000d0000000500004b0000000000000f00000005000013000000"
        + "070000140000000600000a0000000600001d000000030000330000000000003c0000000100001c0000000400001a0000"
        + "000400003200000000000009000000090000000000000b00002a0000000200000b000000090000450000000000002400"
        + "00000200000e00000005000012000000040000080000000900001100000001000016000000050000030000000c00002c"
        + "0000000100000100000011000015000000020000000000040001010108ffffffffffffffff020101030100"
}

extension ByteBuffer {
    /// Bytes from a hex string (test fixtures).
    init?(testHex hex: String) {
        guard hex.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes: bytes)
    }

    fileprivate mutating func writeVarint(_ value: UInt32) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }

    fileprivate mutating func writeTags(_ tags: [(tag: UInt32, data: [UInt8])]) {
        writeVarint(UInt32(tags.count))
        for (tag, data) in tags {
            writeVarint(tag)
            writeVarint(UInt32(data.count))
            writeBytes(data)
        }
    }
}
