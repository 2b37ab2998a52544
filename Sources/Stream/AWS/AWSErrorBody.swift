import Foundation

/// The error document of AWS's JSON protocols: {"__type":"com.amazonaws...#ThrottlingException",
/// "message":"..."}; some services spell it "Message". Parsed with JSONSerialization: errors are
/// rare and small, far from any hot path.
public struct AWSErrorBody: Sendable, Equatable {
    /// The part after '#' (and before any ':'), e.g. "LimitExceededException", "ExpiredTokenException".
    public var type: String
    public var message: String

    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    /// nil when the body is not a JSON object with a string `__type` (or `code`).
    public static func parse(_ body: [UInt8]) -> AWSErrorBody? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return nil }
        guard let raw = (object["__type"] as? String) ?? (object["code"] as? String) else { return nil }
        var type = Substring(raw)
        if let hash = type.lastIndex(of: "#") { type = type[type.index(after: hash)...] }
        // The X-Amzn-ErrorType form "Name:http://internal..." also turns up in bodies.
        if let colon = type.firstIndex(of: ":") { type = type[..<colon] }
        guard !type.isEmpty else { return nil }
        let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        return AWSErrorBody(type: String(type), message: message)
    }
}
