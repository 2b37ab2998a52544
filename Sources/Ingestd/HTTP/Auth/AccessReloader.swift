import Foundation
import Logging
import Metrics
import Synchronization

/// Reloads the tokens and the TLS certificate (SIGHUP, POST /v1/reload): the config file is read
/// again (with the environment, token files and token variables) and its `auth` and `http.tls`
/// take effect; anything invalid keeps what is in force and says why. Other keys need a restart.
struct AccessReloader: Sendable {
    let configPath: String?
    /// The listener as started: TLS cannot be switched on or off, nor the address changed.
    let started: IngestdConfig
    let tokens: TokenStore
    let certificates: TLSCertificates?
    let logger: Logger

    struct Outcome: Sendable {
        var successful: Bool
        var errors: [String]
    }

    @discardableResult
    func reload(reason: String) -> Outcome {
        let outcome = attempt()
        if outcome.successful {
            let settings = tokens.current
            logger.info("auth reloaded", metadata: [
                "reason": "\(reason)", "tokens": "\(settings.tokens.map(\.name).joined(separator: ", "))",
                "tls": "\(certificates == nil ? "off" : "certificate reloaded")"])
        } else {
            logger.error("auth reload failed; the previous tokens and certificate stay in force", metadata: [
                "reason": "\(reason)", "errors": "\(outcome.errors.joined(separator: "; "))"])
        }
        Counter(label: "ingestd_auth_reloads_total", dimensions: [("result", outcome.successful ? "success" : "failure")]).increment()
        Gauge(label: "ingestd_auth_last_reload_successful").record(outcome.successful ? 1 : 0)
        return outcome
    }

    private func attempt() -> Outcome {
        let config: IngestdConfig
        do {
            config = try IngestdConfig.load(path: configPath)
        } catch {
            return Outcome(successful: false, errors: error.errors.map(\.description))
        }
        var checked = config
        checked.http.host = started.http.host
        checked.http.port = started.http.port
        do { try checked.validateListenerAuth() } catch {
            return Outcome(successful: false, errors: error.errors.map(\.message))
        }
        var pair: TLSCertificates.Pair?
        switch (certificates, config.http.tls) {
        case (nil, nil): break
        case (nil, .some):
            return Outcome(successful: false, errors: ["http.tls was added: TLS is switched on by a restart, not a reload"])
        case (.some, nil):
            return Outcome(successful: false, errors: ["http.tls was removed: TLS is switched off by a restart, not a reload"])
        case (.some, .some(let settings)):
            do { pair = try TLSCertificates.load(settings) } catch {
                return Outcome(successful: false, errors: [error.description])
            }
        }
        // Both or neither.
        tokens.replace(config.auth)
        if let pair { certificates?.replace(pair) }
        return Outcome(successful: true, errors: [])
    }
}
