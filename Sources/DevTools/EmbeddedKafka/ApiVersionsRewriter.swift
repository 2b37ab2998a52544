import Logging
import NIOCore

/// Strips KIP-482 tagged fields from ApiVersions v3+ responses.
///
/// librdkafka before 2.2.0 (Debian 12 ships 2.0.2) mis-skips tagged fields in the
/// ApiVersions response and fails with "Read underflow". Tansu includes such fields
/// (e.g. SupportedFeatures/FinalizedFeatures), so `KafkaCompatProxy` passes every
/// ApiVersions v3+ response through this rewrite. Tagged fields are optional by
/// definition, so dropping them leaves a response every client understands.
///
/// Pure byte manipulation, no I/O: tests exercise it directly.
enum ApiVersionsRewriter {
    /// Kafka api key of ApiVersions.
    static let apiKey: Int16 = 18
    /// The first ApiVersions version with a flexible (tagged-field) body.
    static let firstFlexibleVersion: Int16 = 3
    /// UNSUPPORTED_VERSION: brokers answer it with a v0-shaped body, whatever was asked.
    static let unsupportedVersionErrorCode: Int16 = 35

    /// Whether a response to a request with this header must go through `rewrite`.
    static func needsRewrite(apiKey: Int16, apiVersion: Int16) -> Bool {
        apiKey == Self.apiKey && apiVersion >= firstFlexibleVersion
    }

    /// Returns `payload` (a response without its 4-byte length prefix, starting with the
    /// correlation id) carrying zero tagged fields. Versions below 3 have none and come
    /// back untouched; so does a payload that does not parse, after a warning, because
    /// forwarding the broker's bytes is never worse than dropping the connection.
    static func rewrite(_ payload: ByteBuffer, requestApiVersion: Int16, logger: Logger) -> ByteBuffer {
        guard requestApiVersion >= firstFlexibleVersion else { return payload }
        do {
            return try strippingTaggedFields(from: payload) ?? payload
        } catch {
            logger.warning(
                "ApiVersions response not rewritten, forwarding it unchanged",
                metadata: [
                    "reason": "\(error)",
                    "api_version": "\(requestApiVersion)",
                    "bytes": "\(payload.readableBytes)",
                ]
            )
            return payload
        }
    }

    /// The v3+ response without tagged fields, or nil when it carries none or is an
    /// UNSUPPORTED_VERSION answer (v0-shaped: nothing to strip).
    static func strippingTaggedFields(from payload: ByteBuffer) throws(MalformedApiVersionsResponse) -> ByteBuffer? {
        // UNSUPPORTED_VERSION comes with a v0 body that has no tagged fields to strip.
        if payload.getInteger(at: payload.readerIndex + 4, as: Int16.self) == unsupportedVersionErrorCode {
            return nil
        }
        var reader = payload
        let response = try ApiVersionsV3Response(parsing: &reader)
        guard reader.readableBytes == 0 else {
            throw .trailingBytes(reader.readableBytes)
        }
        guard response.hadTaggedFields else { return nil }
        return response.serializedWithoutTaggedFields()
    }
}

/// Why a response could not be rewritten; it is forwarded as it came.
enum MalformedApiVersionsResponse: Error, Equatable, CustomStringConvertible {
    case truncated(field: String)
    case varintTooLong(field: String)
    case trailingBytes(Int)

    var description: String {
        switch self {
        case .truncated(let field): "response ends inside \(field)"
        case .varintTooLong(let field): "\(field) is not a valid unsigned varint"
        case .trailingBytes(let count): "\(count) bytes left after the final tagged-field section"
        }
    }
}

/// The fields of an ApiVersions v3 response (header v0: ApiVersions responses never use
/// a flexible header) that survive the rewrite; tagged fields are only counted.
private struct ApiVersionsV3Response {
    struct ApiKeyRange {
        var apiKey: Int16
        var minVersion: Int16
        var maxVersion: Int16
    }

    var correlationID: Int32
    var errorCode: Int16
    /// nil for a null compact array (length varint 0), kept as null.
    var apiKeys: [ApiKeyRange]?
    var throttleTimeMs: Int32
    var hadTaggedFields: Bool

    init(parsing buffer: inout ByteBuffer) throws(MalformedApiVersionsResponse) {
        correlationID = try buffer.readKafkaInt32(field: "correlation_id")
        errorCode = try buffer.readKafkaInt16(field: "error_code")
        var sawTags = false
        let lengthPlusOne = try buffer.readUnsignedVarint(field: "api_keys length")
        if lengthPlusOne == 0 {
            apiKeys = nil
        } else {
            let count = Int(lengthPlusOne - 1)
            // Each entry takes at least 7 bytes: reject absurd counts before allocating.
            guard count * 7 <= buffer.readableBytes else { throw .truncated(field: "api_keys") }
            var keys: [ApiKeyRange] = []
            keys.reserveCapacity(count)
            for _ in 0..<count {
                let key = ApiKeyRange(
                    apiKey: try buffer.readKafkaInt16(field: "api_key"),
                    minVersion: try buffer.readKafkaInt16(field: "min_version"),
                    maxVersion: try buffer.readKafkaInt16(field: "max_version")
                )
                if try buffer.skipTaggedFields(field: "api_keys entry tagged fields") > 0 { sawTags = true }
                keys.append(key)
            }
            apiKeys = keys
        }
        throttleTimeMs = try buffer.readKafkaInt32(field: "throttle_time_ms")
        if try buffer.skipTaggedFields(field: "top-level tagged fields") > 0 { sawTags = true }
        hadTaggedFields = sawTags
    }

    func serializedWithoutTaggedFields() -> ByteBuffer {
        let entryCount = apiKeys?.count ?? 0
        var out = ByteBuffer()
        out.reserveCapacity(4 + 2 + 5 + entryCount * 7 + 4 + 1)
        out.writeInteger(correlationID)
        out.writeInteger(errorCode)
        if let apiKeys {
            out.writeUnsignedVarint(UInt32(apiKeys.count) + 1)
            for key in apiKeys {
                out.writeInteger(key.apiKey)
                out.writeInteger(key.minVersion)
                out.writeInteger(key.maxVersion)
                out.writeUnsignedVarint(0)  // no tagged fields
            }
        } else {
            out.writeUnsignedVarint(0)
        }
        out.writeInteger(throttleTimeMs)
        out.writeUnsignedVarint(0)  // no tagged fields
        return out
    }
}

extension ByteBuffer {
    fileprivate mutating func readKafkaInt16(field: String) throws(MalformedApiVersionsResponse) -> Int16 {
        guard let value = readInteger(as: Int16.self) else { throw .truncated(field: field) }
        return value
    }

    fileprivate mutating func readKafkaInt32(field: String) throws(MalformedApiVersionsResponse) -> Int32 {
        guard let value = readInteger(as: Int32.self) else { throw .truncated(field: field) }
        return value
    }

    /// Kafka's UNSIGNED_VARINT: 7 bits a byte, low groups first, at most 5 bytes.
    fileprivate mutating func readUnsignedVarint(field: String) throws(MalformedApiVersionsResponse) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<5 {
            guard let byte = readInteger(as: UInt8.self) else { throw .truncated(field: field) }
            // The fifth byte may only carry the top 4 bits of a UInt32.
            if index == 4 && byte > 0x0F { throw .varintTooLong(field: field) }
            value |= UInt32(byte & 0x7F) << (7 * UInt32(index))
            if byte & 0x80 == 0 { return value }
        }
        throw .varintTooLong(field: field)
    }

    /// Skips a TAG_BUFFER (count, then tag/size/bytes per field); returns the count.
    fileprivate mutating func skipTaggedFields(field: String) throws(MalformedApiVersionsResponse) -> UInt32 {
        let count = try readUnsignedVarint(field: field)
        for _ in 0..<count {
            _ = try readUnsignedVarint(field: "\(field) tag")
            let size = try readUnsignedVarint(field: "\(field) size")
            guard Int(size) <= readableBytes else { throw .truncated(field: field) }
            moveReaderIndex(forwardBy: Int(size))
        }
        return count
    }

    fileprivate mutating func writeUnsignedVarint(_ value: UInt32) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }
}
