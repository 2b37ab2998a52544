import Crypto
import Synchronization

/// The tokens in force, swapped whole by a reload. A presented secret is hashed and compared
/// with every configured digest in constant time, so neither which token matched nor how many
/// bytes of a digest did shows in the time taken.
final class TokenStore: Sendable {
    /// A SHA-256 digest as four words: 4 XORs per comparison.
    struct Digest: Sendable, Equatable {
        var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

        init?(_ bytes: some Collection<UInt8>) {
            guard bytes.count == 32 else { return nil }
            var words: [UInt64] = [0, 0, 0, 0]
            for (i, b) in bytes.enumerated() { words[i / 8] = words[i / 8] << 8 | UInt64(b) }
            (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
        }

        /// Every word is looked at whatever the others hold.
        func matches(_ o: Digest) -> Bool { ((w0 ^ o.w0) | (w1 ^ o.w1) | (w2 ^ o.w2) | (w3 ^ o.w3)) == 0 }
    }

    private struct State: Sendable {
        var settings: AuthSettings
        var entries: [(digest: Digest, principal: Principal)]
    }

    private let state: Mutex<State>

    init(_ settings: AuthSettings) { state = Mutex(Self.state(settings)) }

    var current: AuthSettings { state.withLock { $0.settings } }

    func replace(_ new: AuthSettings) {
        let next = Self.state(new)
        state.withLock { $0 = next }
    }

    private static func state(_ settings: AuthSettings) -> State {
        // Config digests are 32 bytes by construction (hexDigest, SHA256).
        State(settings: settings, entries: settings.tokens.compactMap { t in Digest(t.digest).map { ($0, t.principal) } })
    }

    /// The principal of the token whose secret this is, or nil.
    func principal(secret: Substring) -> Principal? {
        guard let presented = Digest(Array(SHA256.hash(data: Array(secret.utf8)))) else { return nil }
        let entries = state.withLock { $0.entries }
        var found: Principal?
        for entry in entries where entry.digest.matches(presented) { found = entry.principal }
        return found
    }
}
