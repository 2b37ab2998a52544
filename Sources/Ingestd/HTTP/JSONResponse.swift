import Foundation
import Hummingbird

/// JSON answers and errors. Errors always carry a message saying what to do.
enum JSONResponse {
    /// `value` as JSON, or a 500 with a JSON error when it cannot be encoded (a non-finite
    /// Double, say): never an empty or partial 200 that a client would take for an answer.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let (status, data) = body(value, status: status)
        return response(data, status: status)
    }

    /// The status and bytes `make` sends.
    static func body(_ value: some Encodable, status: HTTPResponse.Status) -> (HTTPResponse.Status, Data) {
        do {
            return (status, try encode(value))
        } catch {
            return (.internalServerError,
                    encodeError("the response could not be encoded as JSON (\(error)): an internal fault, please report it"))
        }
    }

    /// The bytes `make` would send (kept by the idempotency store to answer a repeat identically).
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    static func response(_ data: some Sequence<UInt8>, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Encodable {
        let error: String
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        response(encodeError(message), status: status)
    }

    /// A string always encodes; the literal is a fallback that cannot fail either.
    private static func encodeError(_ message: String) -> Data {
        (try? encode(ErrorBody(error: message))) ?? Data(#"{"error":"internal error"}"#.utf8)
    }
}
