import HTTPTypes

/// Which role each route needs (README: Auth and TLS has the table). Decided from the method
/// and the path's segments, the way the router splits them; a path this table does not know
/// needs a read token (GET) or an admin token (anything else), so a new route is never open by
/// accident.
enum AccessPolicy {
    enum Requirement: Equatable {
        /// No token needed (health, the static page).
        case open
        /// At least this role; `unscoped`: a token limited to some accounts is refused (the
        /// answer spans every account: rule definitions, metrics, a reload).
        case role(Principal.Role, unscoped: Bool)
    }

    static func requirement(method: HTTPRequest.Method, path: String, metricsOpen: Bool) -> Requirement {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let reads = method == .get || method == .head
        // Anything unusual in the path is never open.
        let plain = !path.contains("%") && !segments.contains { $0 == "." || $0 == ".." }
        switch segments.first {
        case nil where reads && plain: return .open // GET /: the live page
        case "ui" where reads && plain: return .open // its static assets
        case "healthz" where reads && plain && segments.count == 1, "readyz" where reads && plain && segments.count == 1:
            return .open
        case "metrics" where reads && segments.count == 1:
            return metricsOpen && plain ? .open : .role(.read, unscoped: true)
        case "v1":
            let rest = segments.dropFirst()
            switch rest.first {
            case "events" where method == .post: return .role(.write, unscoped: false)
            // An operator's verdict on an anomaly: scoped to the alert's account by the handler.
            case "alerts" where method == .post && rest.count == 3 && rest.last == "feedback": return .role(.write, unscoped: false)
            case "reload": return .role(.admin, unscoped: true)
            case "rules": return .role(reads ? .read : .admin, unscoped: true)
            case "silences" where !reads: return .role(.admin, unscoped: false)
            default: return .role(reads ? .read : .admin, unscoped: false)
            }
        default:
            return .role(reads ? .read : .admin, unscoped: false)
        }
    }
}
