import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// The listener's certificate chain and key, swapped whole by a reload. Every TLS handshake
/// picks up the pair in force at that moment (through the context callback); connections already
/// open keep theirs.
final class TLSCertificates: Sendable {
    struct Pair: @unchecked Sendable {
        // NIOSSLCertificate and NIOSSLPrivateKey are immutable references to BoringSSL objects.
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    private let pair: Mutex<Pair>

    init(_ settings: TLSSettings) throws(LoadError) { pair = Mutex(try Self.load(settings)) }

    var current: Pair { pair.withLock { $0 } }

    func replace(_ new: Pair) { pair.withLock { $0 = new } }

    /// Reads and checks both PEM files; a server context is built from them so that a key that
    /// does not fit the certificate is refused here, not at the first handshake.
    static func load(_ settings: TLSSettings) throws(LoadError) -> Pair {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(settings.certificate) } catch {
            throw LoadError(description: "http.tls.certificate \(settings.certificate): not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw LoadError(description: "http.tls.certificate \(settings.certificate) holds no certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: settings.key, format: .pem) } catch {
            throw LoadError(description: "http.tls.key \(settings.key): not a readable, unencrypted PEM private key (\(error))")
        }
        do {
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw LoadError(description: "http.tls.key \(settings.key) does not fit http.tls.certificate \(settings.certificate) (\(error))")
        }
        return Pair(chain: chain, key: key)
    }

    /// The server configuration: starts with the current pair and asks for the current pair
    /// again at every client hello.
    func serverConfiguration() -> TLSConfiguration {
        let start = current
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: start.chain.map { .certificate($0) }, privateKey: .privateKey(start.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let now = current
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = now.chain.map { .certificate($0) }
            override.privateKey = .privateKey(now.key)
            promise.succeed(override)
        }
        return configuration
    }
}
