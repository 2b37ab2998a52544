/// The pause before the next attempt after `failures` failed ones: doubling from `initial` to
/// `maximum`, drawn uniformly from [d/2, d] so that receivers recovering from an outage are not
/// hit by every sender at the same instant.
public enum Backoff {
    public static func delayMillis(failures: Int, initial: Int64, maximum: Int64,
                            random: (ClosedRange<Int64>) -> Int64 = { Int64.random(in: $0) }) -> Int64 {
        let cap = max(1, maximum, initial)
        var d = max(1, initial)
        // Doubling stops at the cap, so this never overflows, whatever `failures` is.
        var n = 1
        while n < failures, d < cap {
            d = d > cap / 2 ? cap : d * 2
            n += 1
        }
        d = min(d, cap)
        return random(max(1, d / 2)...d)
    }
}
