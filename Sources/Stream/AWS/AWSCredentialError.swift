/// Why no AWS credentials could be resolved. Each case names the file, line or setting to fix,
/// and no description ever quotes a value from a credentials file or the environment: the line
/// that failed to parse may be a pasted secret.
public enum AWSCredentialError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Nothing usable anywhere; `searched` lists each place looked at and what was (not) there.
    case notFound(searched: [String])
    /// A credentials or config file that is not INI as the AWS CLI reads it.
    case malformed(path: String, line: Int, message: String)
    /// The profile (or the environment) has one of the key pair but not the other.
    case incomplete(profile: String, path: String, missing: String)
    /// The file exists but could not be read (permissions, a directory, too large).
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let searched):
            return "no AWS credentials found (looked at: \(searched.joined(separator: "; "))); set AWS_ACCESS_KEY_ID and "
                + "AWS_SECRET_ACCESS_KEY, or put aws_access_key_id and aws_secret_access_key under the profile in the shared credentials file"
        case .malformed(let path, let line, let message):
            return "AWS profile file \(path):\(line): \(message)"
        case .incomplete(let profile, let path, let missing):
            if path == "environment" {
                return "AWS credentials in the environment are incomplete: \(missing) is unset or empty; set it, or unset the other one to use the profile files"
            }
            return "AWS profile \(profile) in \(path) is incomplete: \(missing) is missing or empty; add it to that profile"
        case .unreadable(let path, let reason):
            return "AWS profile file \(path) cannot be read: \(reason); fix its permissions, or point "
                + "AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE at a readable file"
        }
    }
}
