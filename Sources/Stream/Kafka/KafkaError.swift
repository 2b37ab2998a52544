import CRdKafka

/// A failure from librdkafka or from the Kafka wrappers, with what to do about it.
///
/// `code` is the raw `rd_kafka_resp_err_t` (negative values are librdkafka's local errors such as
/// `_TRANSPORT`, positive ones are broker error codes), kept as `Int32` so that callers need not
/// import the C module. `message` never contains secret property values.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Raw `rd_kafka_resp_err_t` value.
    public var code: Int32
    /// librdkafka's symbolic name without the `RD_KAFKA_RESP_ERR_` prefix, e.g. `_TRANSPORT`.
    public var name: String
    /// What failed and librdkafka's explanation.
    public var message: String
    /// What an operator or the caller should do.
    public var remedy: String

    public init(code: Int32, name: String, message: String, remedy: String) {
        self.code = code
        self.name = name
        self.message = message
        self.remedy = remedy
    }

    public var description: String { "Kafka error \(name) (\(code)): \(message) — \(remedy)" }

    /// True for failures that go away by themselves or on retry (broker restarts, leader moves,
    /// timeouts); the caller keeps going and retries later.
    public var isRetriable: Bool { Self.retriableCodes.contains(code) }
}

extension KafkaError {
    /// An error from a librdkafka return code; `operation` says what the wrapper was doing.
    init(_ err: rd_kafka_resp_err_t, operation: String, detail: String? = nil) {
        let name = String(cString: rd_kafka_err2name(err))
        let text = String(cString: rd_kafka_err2str(err))
        let message = detail.map { "\(operation): \(text) (\($0))" } ?? "\(operation): \(text)"
        self.init(code: err.rawValue, name: name, message: message, remedy: Self.remedy(for: err))
    }

    /// The error object of a fatal/async failure (`rd_kafka_error_t`), which it destroys.
    init(consuming error: OpaquePointer, operation: String) {
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        self.init(code, operation: operation, detail: text)
    }

    /// A property that librdkafka refused. The value is left out of the message when the name
    /// looks secret (passwords, keys), because these messages end up in logs.
    static func configuration(property: String, reason: String) -> KafkaError {
        let shown = isSecret(property) ? "(value of a secret property, not shown)" : reason
        return KafkaError(
            code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, name: "_INVALID_ARG",
            message: "property \(property): \(shown)",
            remedy: "fix the name or value of \(property) in the Kafka properties of the config "
                + "(see librdkafka's CONFIGURATION.md for the accepted values)")
    }

    /// A misuse of the wrapper itself, e.g. calling it after close().
    static func state(_ message: String, remedy: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__STATE.rawValue, name: "_STATE", message: message, remedy: remedy)
    }

    static func isSecret(_ property: String) -> Bool {
        let lower = property.lowercased()
        return ["password", "secret", "key", "token", "jaas", "credential"].contains { lower.contains($0) }
    }

    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__WAIT_COORD,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    // One sentence per family of errors; the default points at the name for a search.
    private static func remedy(for err: rd_kafka_resp_err_t) -> String {
        switch err {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE,
             RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
            return "check bootstrap.servers, DNS and that the brokers are reachable; the client reconnects by itself"
        case RD_KAFKA_RESP_ERR__SSL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
             RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE,
             RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
            return "check security.protocol, the sasl.* credentials and the ssl.* certificates for this cluster"
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
             RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
            return "grant this principal READ (consumer) or WRITE (producer) on the topic and READ on the group in the broker ACLs"
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
             RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            return "create the topic, or fix the topic name or partition in the config"
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
            return "the producer queue is full: flush more often or raise queue.buffering.max.messages"
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
            return "the message was not delivered within message.timeout.ms: check broker availability and produce it again"
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            return "the message is larger than message.max.bytes or the topic's max.message.bytes: send smaller messages or raise the limit"
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
            return "the broker did not answer in time: retry, or raise the timeout"
        case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
             RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
            return "a rebalance took the partitions away: their offsets are committed by the new owner; keep polling to rejoin"
        case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
            return "the requested offset is no longer on the broker (retention): the partition restarts per auto.offset.reset"
        case RD_KAFKA_RESP_ERR__NO_OFFSET:
            return "nothing to commit"
        case RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR__INVALID_TYPE:
            return "fix the argument or configuration property named in the message"
        case RD_KAFKA_RESP_ERR__FATAL:
            return "the client cannot continue: restart the process (it resumes from its last snapshot)"
        case RD_KAFKA_RESP_ERR__STATE, RD_KAFKA_RESP_ERR__DESTROY:
            return "the client is closed or not in the right state for this call"
        case RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR__WAIT_COORD:
            return "the group coordinator is moving or loading: retry shortly"
        default:
            return "transient errors clear by themselves; otherwise look up \(String(cString: rd_kafka_err2name(err))) in librdkafka's documentation"
        }
    }
}
