import Subprocess

/// Runs a short-lived command (`tansu topic create`, `python3 -c ...`) to completion with
/// swift-subprocess and captures its output (stdout and stderr together).
enum ShortCommand {
    struct Result: Sendable {
        var status: Int32
        var output: String
    }

    /// More than any of these commands prints; past it the command fails rather than
    /// growing memory.
    static let outputLimit = 1 << 20

    /// Killed (SIGKILL) and reported as `TansuBrokerError.launchFailed` if it is still
    /// running after `timeout`.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    .path(.init(executable)), arguments: .init(arguments),
                    input: .none, output: .string(limit: outputLimit), error: .combinedWithOutput)
                return Result(status: result.terminationStatus.code, output: result.standardOutput)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            // Cancelling `run` kills the child and reaps it before the group returns.
            group.cancelAll()
            guard let first else {
                throw TansuBrokerError.launchFailed(
                    binary: executable, reason: "`\(arguments.joined(separator: " "))` did not finish within \(timeout)")
            }
            return first
        }
    }
}
