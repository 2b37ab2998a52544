import Logging

/// Logs bad input at a limited rate: at most `perMinute` lines per reason each minute, then one
/// line saying how many more were suppressed. A flood of bad messages must not flood the log.
public struct BadEventLog {
    private let logger: Logger
    private let perMinute: Int
    private var minute = Int64.min
    private var logged = [Int](repeating: 0, count: RejectReason.allCases.count)
    private var suppressed = [Int](repeating: 0, count: RejectReason.allCases.count)

    public init(logger: Logger, perMinute: Int) {
        self.logger = logger
        self.perMinute = perMinute
    }

    public mutating func record(_ rejection: EventRejection, at position: @autoclosure () -> String, nowMillis: Int64) {
        let m = nowMillis / 60_000
        if m != minute { rollOver(to: m) }
        let i = rejection.reason.index
        if logged[i] < perMinute {
            logged[i] += 1
            logger.warning("bad event", metadata: [
                "reason": "\(rejection.reason.rawValue)", "detail": "\(rejection.detail)", "at": "\(position())",
            ])
        } else {
            suppressed[i] += 1
        }
    }

    private mutating func rollOver(to m: Int64) {
        for (i, n) in suppressed.enumerated() where n > 0 {
            logger.warning("bad events not logged (rate limit)", metadata: [
                "reason": "\(RejectReason.allCases[i].rawValue)", "suppressed": "\(n)",
            ])
        }
        minute = m
        logged = logged.map { _ in 0 }
        suppressed = suppressed.map { _ in 0 }
    }
}
