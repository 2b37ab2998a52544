import CRdKafka

/// Builds librdkafka configuration objects and clients from string properties, so that any
/// librdkafka property (security.protocol, sasl.*, ssl.*, …) passes through from the config.
enum KafkaConfiguration {
    /// A new `rd_kafka_conf_t`: `defaults` (where the caller gave no value), then `properties`,
    /// then `forced` (which win). The caller owns the result until `makeClient` takes it.
    static func make(
        _ properties: [String: String], defaults: [String: String] = [:], forced: [String: String] = [:]
    ) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError.state("rd_kafka_conf_new failed", remedy: "the process is out of memory")
        }
        do throws(KafkaError) {
            for (name, value) in defaults.sorted(by: { $0.key < $1.key }) where properties[name] == nil {
                try set(conf, name, value)
            }
            for (name, value) in properties.sorted(by: { $0.key < $1.key }) where forced[name] == nil {
                try set(conf, name, value)
            }
            for (name, value) in forced.sorted(by: { $0.key < $1.key }) {
                try set(conf, name, value)
            }
        } catch {
            rd_kafka_conf_destroy(conf)
            throw error
        }
        return conf
    }

    /// Creates the client. librdkafka takes `conf` on success; on failure it is destroyed here.
    static func makeClient(_ type: rd_kafka_type_t, conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
        var errstr = [CChar](repeating: 0, count: 512)
        if let rk = rd_kafka_new(type, conf, &errstr, errstr.count) { return rk }
        rd_kafka_conf_destroy(conf)
        let reason = String(decoding: errstr.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw KafkaError(
            code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, name: "_INVALID_ARG",
            message: "creating the Kafka client failed: \(reason)",
            remedy: "fix the Kafka properties named in the message (security.protocol, sasl.*, ssl.* need a matching librdkafka build)")
    }

    private static func set(_ conf: OpaquePointer, _ name: String, _ value: String) throws(KafkaError) {
        var errstr = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK else { return }
        let reason = String(decoding: errstr.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw KafkaError.configuration(property: name, reason: reason)
    }
}
