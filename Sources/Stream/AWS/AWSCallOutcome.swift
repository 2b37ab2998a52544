/// What one AWS JSON call came to. An HTTP error status is an answer, not a failure: the poller
/// tells throttling, expired tokens and bad requests apart from its status and `AWSErrorBody`.
public enum AWSCallOutcome: Sendable, Equatable {
    /// Any HTTP answer: status, the whole body (at most the client's `maxResponseBytes`, 32 MiB
    /// by default; a longer one is `.failed`), Retry-After seconds (0 if none).
    case answered(status: Int, body: [UInt8], retryAfterSeconds: Int64)
    /// No answer (network, timeout, body too large, shutdown): libcurl's error text, never the
    /// URL's secrets or credentials.
    case failed(String)
}
