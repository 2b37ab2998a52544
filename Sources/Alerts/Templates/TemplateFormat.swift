import Foundation

/// How annotation templates print numbers (README: Templates): plain (`1234.5`), money
/// (`$1,234.56`, `1,234.56 EUR`) and percent (`52.3%`).
public enum TemplateFormat {
    /// Two decimals with thousands separators; `$` before USD amounts, the ISO code after any other.
    public static func money(_ amount: Double, currency: String) -> String {
        guard amount.isFinite else { return String(amount) }
        let (negative, digits) = grouped(amount, decimals: 2)
        let sign = negative ? "-" : ""
        return currency == "USD" ? "\(sign)$\(digits)" : "\(sign)\(digits) \(currency)"
    }

    /// A percentage already in percent (52.3 → `52.3%`): one decimal, thousands separators.
    public static func percent(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        let (negative, digits) = grouped(value, decimals: 1)
        return (negative ? "-" : "") + digits + "%"
    }

    /// At most two decimals, trailing zeros dropped, no separators: `250`, `1234.5`.
    public static func plain(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// The magnitude rounded to `decimals` with `,` every three integer digits, and whether a
    /// minus sign belongs in front (not for a value that rounds to zero: no `-$0.00`).
    private static func grouped(_ value: Double, decimals: Int) -> (negative: Bool, digits: String) {
        let text = String(format: "%.\(decimals)f", abs(value))
        let parts = text.split(separator: ".", maxSplits: 1)
        let integer = Array(parts[0])
        var out = ""
        for (i, ch) in integer.enumerated() {
            if i > 0, (integer.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        if parts.count > 1 { out += "." + parts[1] }
        let negative = value < 0 && text.contains(where: { $0 != "0" && $0 != "." })
        return (negative, out)
    }
}
