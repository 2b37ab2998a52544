/// One set of AWS credentials as resolved by `AWSCredentialProvider`. `origin` says where they
/// came from so logs and /readyz can point at the file to fix; it never holds a secret, and
/// neither does `description` (a struct printed by mistake must not leak the key).
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Where they came from, for logs and /readyz: "environment", "profile prod in /path/credentials" (never a secret).
    public var origin: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, origin: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.origin = origin
    }

    /// The key id (not secret: it appears in every Authorization header) and the origin only.
    public var description: String {
        "AWS credentials \(accessKeyID) from \(origin)" + (sessionToken == nil ? "" : " (with a session token)")
    }
}
