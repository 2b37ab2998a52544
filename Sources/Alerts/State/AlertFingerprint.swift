/// A stable identity for an alert's label set: FNV-1a 64 over the sorted `name=value` pairs, as
/// 16 hex digits. Stable across processes and versions (Swift's `Hasher` is seeded per process),
/// so restored alerts, history and receivers all name an alert the same way.
public enum AlertFingerprint {
    public static func of(_ labels: [String: String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: String.UTF8View) {
            for b in bytes {
                h ^= UInt64(b)
                h = h &* 0x0000_0100_0000_01b3
            }
        }
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            mix(name.utf8)
            mix("\u{0}".utf8)
            mix(value.utf8)
            mix("\u{1}".utf8)
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
