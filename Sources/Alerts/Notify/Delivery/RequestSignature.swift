import Crypto
import Foundation

/// The `X-Ingestd-Signature` header: `v1=` and the lowercase hex HMAC-SHA256, keyed with the
/// receiver's secret, of `TIMESTAMP + "." + BODY`, where TIMESTAMP is the `X-Ingestd-Timestamp`
/// header (Unix seconds). A receiver recomputes it over the raw body and compares in constant
/// time, and rejects old timestamps (replays); README "Notifications: delivery" has an example.
public enum RequestSignature {
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "v1=" + hex(Array(mac))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
