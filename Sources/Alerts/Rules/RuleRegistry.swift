import Stream
import Synchronization

/// The rule groups in force and how the last reload went. A reload replaces every group at once
/// or nothing: one invalid file leaves the previous rules running, and the error is kept for
/// `/v1/rules`, the metrics and the log.
public final class RuleRegistry: Sendable {
    /// Reads and validates every rule file; all errors at once.
    public typealias Loader = @Sendable () throws(ConfigErrors) -> RuleFiles

    public struct ReloadStatus: Sendable, Equatable {
        public var successful: Bool
        public var atMillis: Int64
        /// `file:line:column: message`, one per problem (empty after a successful reload).
        public var errors: [String]
    }

    private struct State {
        var files: RuleFiles
        var status: ReloadStatus
        var stamp: RuleFileStamp
    }

    private let loader: Loader
    private let patterns: [String]
    private let state: Mutex<State>

    /// Loads the rules for the first time; throws when they are invalid (the daemon does not
    /// start on a broken rule file, as on a broken config: `ingestd rules check` first).
    public init(patterns: [String], nowMillis: Int64, loader: @escaping Loader) throws(ConfigErrors) {
        self.loader = loader
        self.patterns = patterns
        let stamp = RuleFileStamp(patterns: patterns)
        let files = try loader()
        state = Mutex(State(files: files, status: ReloadStatus(successful: true, atMillis: nowMillis, errors: []), stamp: stamp))
    }

    public var groups: [RuleGroup] { state.withLock { $0.files.groups } }
    /// Receivers, routes and inhibit rules: replaced with the rules, all or nothing.
    public var notifications: NotificationConfig { state.withLock { $0.files.notifications } }
    public var status: ReloadStatus { state.withLock { $0.status } }

    /// Every rule's key (`group/alertname`).
    public var ruleKeys: Set<String> {
        Set(groups.flatMap { g in g.rules.map { RuleEvaluator.ruleKey(group: g.name, rule: $0.name) } })
    }

    /// Whether a rule file was added, removed or changed since the last reload attempt.
    public var filesChanged: Bool {
        let now = RuleFileStamp(patterns: patterns)
        return state.withLock { $0.stamp != now }
    }

    /// Loads the files again; on success the new groups replace the old ones.
    @discardableResult
    public func reload(nowMillis: Int64) -> ReloadStatus {
        // The stamp is taken before reading, so a save during the read is seen as a change next time.
        let stamp = RuleFileStamp(patterns: patterns)
        do {
            let files = try loader()
            let status = ReloadStatus(successful: true, atMillis: nowMillis, errors: [])
            state.withLock { $0 = State(files: files, status: status, stamp: stamp) }
            return status
        } catch {
            let status = ReloadStatus(successful: false, atMillis: nowMillis, errors: error.errors.map(\.description))
            state.withLock {
                $0.status = status
                $0.stamp = stamp
            }
            return status
        }
    }
}
