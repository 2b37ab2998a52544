import Foundation
import Hummingbird

/// JSON answers and errors. Errors always carry a message saying what to do.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Encodable {
        let error: String
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        make(ErrorBody(error: message), status: status)
    }
}
