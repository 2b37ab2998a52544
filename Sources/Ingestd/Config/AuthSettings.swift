import Crypto
import Foundation
import Stream

/// `auth:` (README: Auth and TLS). Tokens are kept only as SHA-256 digests: a `sha256:` from the
/// file, or the digest of a `token_file`'s or `token_env`'s secret, taken at load (start and
/// every reload) and the secret dropped.
struct AuthSettings: Sendable {
    struct Token: Sendable, Equatable {
        var name: String
        /// SHA-256 of the secret, 32 bytes.
        var digest: [UInt8]
        var role: Principal.Role
        /// nil: every account.
        var accounts: Set<String>?

        var principal: Principal { Principal(name: name, role: role, accounts: accounts) }
    }

    var tokens: [Token] = []
    /// /metrics without a token (Prometheus scrapers usually have none).
    var metricsOpen = true
    /// Without tokens, listen on a non-loopback address anyway.
    var allowUnauthenticated = false

    var enabled: Bool { !tokens.isEmpty }

    /// Longest secret accepted from a file, the environment or a request.
    static let maxSecretBytes = 4096
    /// Shortest secret accepted from a file or the environment.
    static let minSecretBytes = 16

    static func decode(_ node: ConfigNode?, _ r: ConfigReader, environment: [String: String]) -> AuthSettings {
        var a = AuthSettings()
        guard let m = r.mapping(node, "auth", allowed: ["tokens", "metrics_open", "allow_unauthenticated"]) else { return a }
        if let v = r.bool(m["metrics_open"], "auth.metrics_open") { a.metricsOpen = v }
        if let v = r.bool(m["allow_unauthenticated"], "auth.allow_unauthenticated") { a.allowUnauthenticated = v }
        guard let items = r.sequence(m["tokens"], "auth.tokens") else { return a }
        for item in items {
            if let token = decodeToken(item, r, environment: environment) {
                if a.tokens.contains(where: { $0.name == token.name }) {
                    r.fail(item.origin, "auth.tokens: two tokens are named \"\(token.name)\": names identify tokens in logs, make them unique")
                } else if let other = a.tokens.first(where: { $0.digest == token.digest }) {
                    r.fail(item.origin, "auth.tokens: token \"\(token.name)\" has the same secret as \"\(other.name)\": give each its own secret")
                } else {
                    a.tokens.append(token)
                }
            }
        }
        return a
    }

    private static func decodeToken(_ item: ConfigNode, _ r: ConfigReader, environment: [String: String]) -> Token? {
        guard let t = r.mapping(item, "auth.tokens[]", allowed: ["name", "sha256", "token_file", "token_env", "role", "accounts"]) else { return nil }
        guard let name = r.string(t["name"], "auth.tokens[].name") else {
            r.fail(item.origin, "a token needs a name (it is what the logs show; the secret never is)")
            return nil
        }
        let path = "auth.tokens[\(name)]"
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            r.fail(t["name"]!.origin, "\(path).name must be 1 to 64 printable ASCII characters without spaces")
            return nil
        }
        guard let roleText = r.oneOf(t["role"], "\(path).role", Principal.Role.allCases.map(\.rawValue)),
              let role = Principal.Role(rawValue: roleText) else {
            if t["role"] == nil { r.fail(item.origin, "\(path) needs a role: read, write or admin") }
            return nil
        }
        var accounts: Set<String>?
        if let list = r.sequence(t["accounts"], "\(path).accounts") {
            let names = list.compactMap { r.string($0, "\(path).accounts[]") }
            guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else {
                r.fail(t["accounts"]!.origin, "\(path).accounts must list at least one non-empty account; leave accounts out for a token that sees every account")
                return nil
            }
            do {
                _ = try AccessScope(accounts: Set(names)).seriesMatcher()
            } catch {
                r.fail(t["accounts"]!.origin, "\(path).accounts: too many accounts for one token (\(error)): split them over several tokens")
                return nil
            }
            accounts = Set(names)
        }
        let sources = ["sha256", "token_file", "token_env"].filter { t[$0] != nil }
        guard sources.count == 1 else {
            r.fail(item.origin, "\(path) needs exactly one of sha256 (printf %s TOKEN | sha256sum), token_file or token_env, got \(sources.isEmpty ? "none" : sources.joined(separator: " and "))")
            return nil
        }
        var digest: [UInt8]?
        if let hex = r.string(t["sha256"], "\(path).sha256") {
            digest = Self.hexDigest(hex)
            if digest == nil {
                r.fail(t["sha256"]!.origin, "\(path).sha256 must be 64 hex digits, the first field of `printf %s TOKEN | sha256sum`")
            }
        } else if let file = r.string(t["token_file"], "\(path).token_file") {
            let origin = t["token_file"]!.origin
            guard let data = FileManager.default.contents(atPath: file) else {
                r.fail(origin, "\(path).token_file \(file) cannot be read: check the path and that the daemon's user may read it")
                return nil
            }
            digest = secretDigest(String(decoding: data.prefix(maxSecretBytes + 2), as: UTF8.self), bytes: data.count, path: "\(path).token_file \(file)", origin, r)
        } else if let variable = r.string(t["token_env"], "\(path).token_env") {
            let origin = t["token_env"]!.origin
            guard !variable.hasPrefix("INGESTD_") else {
                r.fail(origin, "\(path).token_env: INGESTD_* variables are config overrides; name the secret's variable otherwise, e.g. DASHBOARD_TOKEN")
                return nil
            }
            guard let value = environment[variable] else {
                r.fail(origin, "\(path).token_env: the environment variable \(variable) is not set")
                return nil
            }
            digest = secretDigest(value, bytes: value.utf8.count, path: "\(path).token_env \(variable)", origin, r)
        }
        guard let digest else { return nil }
        return Token(name: name, digest: digest, role: role, accounts: accounts)
    }

    /// A secret from a file or the environment: surrounding whitespace (a trailing newline) is
    /// not part of it.
    private static func secretDigest(_ text: String, bytes: Int, path: String, _ origin: ConfigOrigin, _ r: ConfigReader) -> [UInt8]? {
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard bytes <= maxSecretBytes + 2, (minSecretBytes...maxSecretBytes).contains(secret.utf8.count) else {
            r.fail(origin, "\(path): the secret must be \(minSecretBytes) to \(maxSecretBytes) bytes (e.g. `openssl rand -hex 32`)")
            return nil
        }
        guard secret.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            r.fail(origin, "\(path): the secret must be printable ASCII without spaces (it travels in an HTTP header)")
            return nil
        }
        return Array(SHA256.hash(data: Array(secret.utf8)))
    }

    static func hexDigest(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let hi = nibble(bytes[i]), let lo = nibble(bytes[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// `http.tls`: PEM files, read at start and on every reload.
struct TLSSettings: Sendable, Equatable {
    var certificate: String
    var key: String

    static func decode(_ node: ConfigNode?, _ r: ConfigReader) -> TLSSettings? {
        guard let m = r.mapping(node, "http.tls", allowed: ["certificate", "key"]) else { return nil }
        let certificate = r.string(m["certificate"], "http.tls.certificate") ?? ""
        let key = r.string(m["key"], "http.tls.key") ?? ""
        if certificate.isEmpty && key.isEmpty { return nil }
        guard !certificate.isEmpty, !key.isEmpty else {
            r.fail(node!.origin, "http.tls needs both certificate and key (PEM files), or neither for plain HTTP")
            return nil
        }
        return TLSSettings(certificate: certificate, key: key)
    }
}

extension IngestdConfig {
    /// Without tokens the API is open to whoever can reach it: only loopback, unless the
    /// operator says otherwise.
    func validateListenerAuth() throws(ConfigErrors) {
        guard !auth.enabled, !auth.allowUnauthenticated, !Self.isLoopback(http.host) else { return }
        throw ConfigErrors(errors: [ConfigError(origin: .defaults, message:
            "http.listen is \(http.host):\(http.port) but auth.tokens is empty: anyone who reaches that address could read and post everything. "
            + "Configure auth.tokens (README: Auth and TLS), listen on 127.0.0.1, or set auth.allow_unauthenticated: true")])
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if h == "localhost" || h == "::1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
