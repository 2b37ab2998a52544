import Foundation
import Stream

/// Wakes a waiting worker thread: `signal` before or during `wait` ends the wait (a signal is
/// remembered until consumed, so one sent between the worker's check and its wait is not lost).
final class WakeSignal: @unchecked Sendable {
    // @unchecked: `pending` is only read or written while `condition` is locked.
    private let condition = NSCondition()
    private var pending = false

    func signal() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    /// Returns at the first signal, or at `deadlineMillis` (wall clock), whichever comes first.
    func wait(untilMillis deadlineMillis: Int64) {
        condition.lock()
        defer { condition.unlock() }
        while !pending {
            let remaining = deadlineMillis &- WallClock.nowMillis()
            if remaining <= 0 { return }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(min(remaining, 3_600_000)) / 1000))
        }
        pending = false
    }
}
