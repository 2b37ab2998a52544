import Subprocess
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A long-running child process (the Tansu broker), run by swift-subprocess in a task of
/// its own until `stop` asks it to end: SIGTERM, then SIGKILL after the grace period.
///
/// swift-subprocess spawns with an empty signal mask and default dispositions
/// (posix_spawnattr_setsigmask/setsigdefault), so the child sees SIGTERM even though it is
/// spawned from a Swift pool thread, whose blocked mask would otherwise survive exec.
struct LongRunningChild: Sendable {
    let pid: Int32
    private let control: Control
    private let task: Task<Void, Never>

    /// Starts `executable` with stdin from /dev/null and stdout and stderr to `outputFD`,
    /// which it closes. Returns once the child is spawned.
    static func start(
        executable: String, arguments: [String], outputFD: Int32
    ) async throws -> LongRunningChild {
        let control = Control()
        var task: Task<Void, Never>?
        // Not cancellable: once spawned, the child is returned, for the caller to stop.
        let pid = try await withCheckedThrowingContinuation { (spawned: CheckedContinuation<Int32, any Error>) in
            // Unstructured, so that the child outlives `start` and a caller's cancellation;
            // `stop` ends it.
            task = Task {
                do {
                    let result = try await Subprocess.run(
                        .path(.init(executable)), arguments: .init(arguments),
                        input: .none,
                        output: .fileDescriptor(.init(rawValue: outputFD), closeAfterSpawningProcess: true),
                        error: .combinedWithOutput
                    ) { execution in
                        let pid = execution.processIdentifier.value
                        control.recordSpawn()
                        spawned.resume(returning: pid)
                        // `run` returns only once the child has exited: wait here for `stop`
                        // (or for the child to exit by itself, e.g. losing its port race).
                        guard let gracePeriod = await control.stopRequestedOrExited(pid: pid) else { return }
                        await execution.teardown(using: [
                            .send(signal: .terminate, allowedDurationToNextStep: gracePeriod)
                        ])  // then SIGKILL, if it is still running
                    }
                    control.record(result.terminationStatus)
                } catch {
                    // Spawning failed, or (rarely) monitoring the spawned child did.
                    if !control.recordFailure() { spawned.resume(throwing: error) }
                }
            }
        }
        return LongRunningChild(pid: pid, control: control, task: task!)
    }

    /// How the child ended, once it has (and has been reaped).
    var termination: TerminationStatus? { control.termination }

    /// SIGTERM, then SIGKILL if it is still running after `gracePeriod`; returns once it
    /// has exited, and whether this call stopped it (false if it had ended already or
    /// another call is stopping it). Completes even in a cancelled task (awaiting an
    /// unstructured task's value ignores the caller's cancellation).
    @discardableResult
    func stop(gracePeriod: Duration) async -> Bool {
        let first = control.requestStop(gracePeriod: gracePeriod)
        await task.value
        return first
    }

    /// State shared by the task running the child and its callers.
    private final class Control: Sendable {
        private struct State {
            var spawned = false
            var ended = false
            var stopGracePeriod: Duration?
            var termination: TerminationStatus?  // nil if it ended unobserved
        }

        private let state = Mutex(State())

        var termination: TerminationStatus? { state.withLock { $0.termination } }

        func recordSpawn() { state.withLock { $0.spawned = true } }

        func record(_ status: TerminationStatus) {
            state.withLock { ($0.termination, $0.ended) = (status, true) }
        }

        /// Whether the child had been spawned.
        func recordFailure() -> Bool {
            state.withLock { state in
                state.ended = true
                return state.spawned
            }
        }

        /// Whether this is the first request to stop a child that is still running.
        func requestStop(gracePeriod: Duration) -> Bool {
            state.withLock { state in
                guard state.stopGracePeriod == nil, !state.ended else { return false }
                state.stopGracePeriod = gracePeriod
                return true
            }
        }

        /// The requested grace period once `stop` is called, or nil once the child has
        /// exited by itself. swift-subprocess has no public "has it exited" while the body
        /// runs, so this polls: `waitid(WNOWAIT)` leaves the zombie for `run` to reap, and
        /// the pid cannot be reused before `run` reaps it, which is after this returns.
        func stopRequestedOrExited(pid: Int32) async -> Duration? {
            while true {
                if let gracePeriod = state.withLock({ $0.stopGracePeriod }) { return gracePeriod }
                if Self.hasExited(pid: pid) { return nil }
                // This task is never cancelled, so the sleep always sleeps.
                try? await Task.sleep(for: .milliseconds(50))
            }
        }

        private static func hasExited(pid: Int32) -> Bool {
            var info = siginfo_t()
            guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else {
                return errno == ECHILD  // not our child any more: nothing left to wait for
            }
            return info.si_signo == SIGCHLD  // left zeroed while the child is still running
        }
    }
}

extension TerminationStatus {
    /// The exit code, or the signal number that ended the process (as Foundation.Process
    /// reports `terminationStatus`).
    var code: Int32 {
        switch self {
        case .exited(let code), .signaled(let code): code
        }
    }
}
