import Crypto
import Foundation
import Stream
import Testing
@testable import Ingestd

/// Token configuration, the role table and the header parsing: the parts of auth whose every
/// case is cheaper to pin here than through the binary (tests/E2E/test_auth.py drives the rest).
@Suite struct AuthSettingsTests {
    private func load(_ yaml: String, env: [String: String] = [:]) throws(ConfigErrors) -> IngestdConfig {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-auth-\(UUID().uuidString).yaml").path
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try IngestdConfig.load(path: path, environment: env)
    }

    private func errors(_ yaml: String, env: [String: String] = [:]) -> [String] {
        do { _ = try load(yaml, env: env); return [] } catch { return error.errors.map(\.message) }
    }

    private func digest(_ s: String) -> [UInt8] { Array(SHA256.hash(data: Array(s.utf8))) }

    @Test func aTokenFileIsHashedWithoutItsTrailingNewlineAndTheSecretIsNotKept() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)").path
        try "0123456789abcdef0123\n".write(toFile: file, atomically: true, encoding: .utf8)
        let config = try load("""
            auth:
              tokens:
                - {name: ops, token_file: \(file), role: admin}
                - {name: dash, token_env: DASH_TOKEN, role: read, accounts: ["1", "2"]}
                - {name: ci, sha256: \(String(repeating: "AB", count: 32)), role: write}
            """, env: ["DASH_TOKEN": "fedcba9876543210fedc"])
        #expect(config.auth.tokens.map(\.name) == ["ops", "dash", "ci"])
        #expect(config.auth.tokens[0].digest == digest("0123456789abcdef0123"))
        #expect(config.auth.tokens[1].digest == digest("fedcba9876543210fedc") && config.auth.tokens[1].accounts == ["1", "2"])
        #expect(config.auth.tokens[2].digest == [UInt8](repeating: 0xAB, count: 32) && config.auth.tokens[2].role == .write)
    }

    @Test func badTokensAreRefusedWithWhatToDo() {
        #expect(errors("auth: {tokens: [{name: a, role: read}]}").contains { $0.contains("exactly one of sha256") })
        #expect(errors("auth: {tokens: [{name: a, role: read, sha256: \"abc  -\"}]}").contains { $0.contains("64 hex digits") })
        #expect(errors("auth: {tokens: [{name: a, role: root, sha256: \(String(repeating: "0", count: 64))}]}").contains { $0.contains("role") })
        #expect(errors("auth: {tokens: [{name: a, role: read, token_env: INGESTD_X}]}").contains { $0.contains("INGESTD_*") })
        #expect(errors("auth: {tokens: [{name: a, role: read, token_env: NOPE_X}]}").contains { $0.contains("not set") })
        #expect(errors("auth: {tokens: [{name: a, role: read, token_env: SHORT}]}", env: ["SHORT": "abc"]).contains { $0.contains("16 to 4096") })
        #expect(errors("auth: {tokens: [{name: a, role: read, token_file: /nonexistent/x}]}").contains { $0.contains("cannot be read") })
        #expect(errors("auth: {tokens: [{name: a, role: read, accounts: [], sha256: \(String(repeating: "0", count: 64))}]}").contains { $0.contains("at least one") })
        let twice = "auth: {tokens: [{name: a, role: read, sha256: \(String(repeating: "0", count: 64))}, {name: a, role: read, sha256: \(String(repeating: "1", count: 64))}]}"
        #expect(errors(twice).contains { $0.contains("unique") })
        let same = "auth: {tokens: [{name: a, role: read, sha256: \(String(repeating: "0", count: 64))}, {name: b, role: read, sha256: \(String(repeating: "0", count: 64))}]}"
        #expect(errors(same).contains { $0.contains("same secret") })
        #expect(errors("http: {tls: {certificate: /x.pem}}").contains { $0.contains("both certificate and key") })
    }

    @Test func withoutTokensOnlyLoopbackListensUnlessAllowed() throws {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] { #expect(IngestdConfig.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "", "10.0.0.1", "127.0.0.1.example.com", "::"] { #expect(!IngestdConfig.isLoopback(host), "\(host)") }
        var config = try load("kafka: {enabled: false}\nhttp: {listen: \"0.0.0.0:9466\"}")
        #expect(throws: ConfigErrors.self) { try config.validateForRun() }
        config.auth.allowUnauthenticated = true
        try config.validateForRun()
    }

    @Test func theRoleTable() {
        typealias P = AccessPolicy
        #expect(P.requirement(method: .get, path: "/healthz", metricsOpen: true) == .open)
        #expect(P.requirement(method: .get, path: "/readyz", metricsOpen: false) == .open)
        #expect(P.requirement(method: .get, path: "/", metricsOpen: true) == .open)
        #expect(P.requirement(method: .get, path: "/ui/app.js", metricsOpen: true) == .open)
        #expect(P.requirement(method: .get, path: "/ui/../v1/series", metricsOpen: true) == .role(.read, unscoped: false))
        #expect(P.requirement(method: .get, path: "/%68ealthz", metricsOpen: true) == .role(.read, unscoped: false))
        #expect(P.requirement(method: .post, path: "/healthz", metricsOpen: true) == .role(.admin, unscoped: false))
        #expect(P.requirement(method: .get, path: "/metrics", metricsOpen: true) == .open)
        #expect(P.requirement(method: .get, path: "/metrics", metricsOpen: false) == .role(.read, unscoped: true))
        #expect(P.requirement(method: .post, path: "/v1/events", metricsOpen: true) == .role(.write, unscoped: false))
        #expect(P.requirement(method: .post, path: "//v1//events/", metricsOpen: true) == .role(.write, unscoped: false))
        #expect(P.requirement(method: .get, path: "/v1/series", metricsOpen: true) == .role(.read, unscoped: false))
        #expect(P.requirement(method: .get, path: "/v1/stream", metricsOpen: true) == .role(.read, unscoped: false))
        #expect(P.requirement(method: .post, path: "/v1/silences", metricsOpen: true) == .role(.admin, unscoped: false))
        #expect(P.requirement(method: .delete, path: "/v1/silences/x", metricsOpen: true) == .role(.admin, unscoped: false))
        #expect(P.requirement(method: .get, path: "/v1/rules", metricsOpen: true) == .role(.read, unscoped: true))
        #expect(P.requirement(method: .post, path: "/v1/reload", metricsOpen: true) == .role(.admin, unscoped: true))
        #expect(P.requirement(method: .put, path: "/v1/whatever", metricsOpen: true) == .role(.admin, unscoped: false))
    }

    @Test func bearerHeaders() {
        #expect(AuthMiddleware.bearer("Bearer abc") == .token("abc"))
        #expect(AuthMiddleware.bearer("bearer   abc") == .token("abc"))
        if case .malformed = AuthMiddleware.bearer("Basic abc") {} else { Issue.record("Basic accepted") }
        if case .malformed = AuthMiddleware.bearer("Bearer") {} else { Issue.record("empty accepted") }
        if case .malformed = AuthMiddleware.bearer("Bearer a b") {} else { Issue.record("a space accepted") }
        if case .malformed = AuthMiddleware.bearer("Bearer " + String(repeating: "x", count: 4097)) {} else { Issue.record("4097 bytes accepted") }
    }

    @Test func tokensCompareOnTheirDigest() {
        let store = TokenStore(AuthSettings(tokens: [
            .init(name: "a", digest: digest("secret-a-0123456789"), role: .read, accounts: ["1"]),
            .init(name: "b", digest: digest("secret-b-0123456789"), role: .admin, accounts: nil),
        ]))
        #expect(store.principal(secret: "secret-a-0123456789") == Principal(name: "a", role: .read, accounts: ["1"]))
        #expect(store.principal(secret: "secret-b-0123456789")?.name == "b")
        #expect(store.principal(secret: "secret-c-0123456789") == nil)
        #expect(store.principal(secret: Substring(digest("secret-a-0123456789").map { String(format: "%02x", $0) }.joined())) == nil)
    }

    @Test func aScopedSeriesMatcherMatchesItsAccountsLiterally() throws {
        let scope = AccessScope(accounts: ["a.b", "c|d", "e"])
        let m = try #require(try scope.seriesMatcher())
        let compiled = LabelMatcher.Compiled(m, labelNames: ["account"])
        for yes in ["a.b", "c|d", "e"] { #expect(compiled.matches(value: yes), "\(yes)") }
        for no in ["axb", "c", "d", "e|x", "", "a.be"] { #expect(!compiled.matches(value: no), "\(no)") }
        #expect(try AccessScope(accounts: ["x"]).seriesMatcher() == LabelMatcher("account", .equal, "x"))
        #expect(try AccessScope.unrestricted.seriesMatcher() == nil)
    }
}
