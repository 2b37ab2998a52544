#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// "Now" for the daemon's decisions (which events are from the future, what a window's end is,
/// when a rule evaluates): the wall clock when live, the event-time watermark in replay and
/// backtest, so that history evaluates exactly as it would have live.
public protocol IngestClock: Sendable {
    func nowMillis() -> Int64
}

/// Wall-clock milliseconds since the epoch.
public struct WallClock: IngestClock {
    public init() {}

    public func nowMillis() -> Int64 { Self.nowMillis() }

    @Sendable public static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// The newest event time the store has applied (Int64.min before the first event).
public struct WatermarkClock: IngestClock {
    public let store: WindowStore

    public init(store: WindowStore) { self.store = store }

    public func nowMillis() -> Int64 { store.watermarkMillis ?? .min }
}
