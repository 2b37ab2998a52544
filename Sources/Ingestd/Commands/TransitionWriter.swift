import Alerts
import Foundation

/// Transitions as NDJSON on stdout, buffered (a backtest prints thousands).
final class TransitionWriter {
    private var buffer = Data()
    private let onlyFiring: Bool
    private let encoder: JSONEncoder

    init(onlyFiring: Bool) {
        self.onlyFiring = onlyFiring
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func write(_ t: AlertTransition) {
        guard !onlyFiring || t.state == .firing else { return }
        // A value that cannot be encoded (never expected: measures are kept finite) is reported, not skipped silently.
        let line = (try? encoder.encode(AlertsEndpoint.HistoryRow(t, seq: nil))) ?? Data(#"{"error":"transition could not be encoded"}"#.utf8)
        buffer.append(line)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count > 1 << 16 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
