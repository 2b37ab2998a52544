import Crypto
import Synchronization

/// The tokens in force, swapped whole by a reload. A presented secret is hashed and compared
/// with every configured digest in constant time, so neither which token matched nor how many
/// bytes of a digest did shows in the time taken.
final class TokenStore: Sendable {
    private let settings: Mutex<AuthSettings>

    init(_ settings: AuthSettings) { self.settings = Mutex(settings) }

    var current: AuthSettings { settings.withLock { $0 } }

    func replace(_ new: AuthSettings) { settings.withLock { $0 = new } }

    /// The principal of the token whose secret this is, or nil.
    func principal(secret: Substring) -> Principal? {
        let digest = Array(SHA256.hash(data: Array(secret.utf8)))
        let tokens = settings.withLock { $0.tokens }
        var found: Principal?
        for token in tokens where Self.equal(token.digest, digest) { found = token.principal }
        return found
    }

    /// Both 32 bytes; every byte is looked at whatever the others are.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
