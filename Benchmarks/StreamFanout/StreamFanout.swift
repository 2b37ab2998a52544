// One event fanned out to N /v1/stream clients of a running daemon: N WebSocket clients in this
// process subscribe to rule reloads; each round POSTs /v1/reload and every client notes, on this
// process's monotonic clock, when the reload event reached it. Prints p50/p99/max over all
// (client, round) pairs, and the daemon's RSS growth per connected client (/proc/PID/status).
//
//   StreamFanout URL CLIENTS ROUNDS PID   (a daemon without auth, as scripts/stream-fanout.sh starts it)
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import Synchronization

@main
enum StreamFanout {
    static func nowNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func rssKiB(_ pid: Int) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    final class Tally: Sendable {
        struct State { var subscribed = 0; var received: [[UInt64]] = [] }
        let state: Mutex<State>
        init(rounds: Int) { state = Mutex(State(received: Array(repeating: [], count: rounds))) }
    }

    static func post(_ base: String, _ path: String) async throws {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = "POST"
        _ = try await URLSession.shared.data(for: request)
    }


    nonisolated static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 5, let clients = Int(args[2]), let rounds = Int(args[3]), let pid = Int(args[4]) else {
            print("usage: StreamFanout http://127.0.0.1:PORT CLIENTS ROUNDS DAEMON_PID")
            Foundation.exit(2)
        }
        let base = args[1]

        let tally = Tally(rounds: rounds)
        let logger = { var l = Logger(label: "fanout"); l.logLevel = .error; return l }()
        let url = base.replacingOccurrences(of: "http://", with: "ws://") + "/v1/stream"

        let rssBefore = rssKiB(pid)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                        try await outbound.write(.text(#"{"type":"subscribe","id":"r","kinds":["reload"]}"#))
                        var round = 0
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .text(let text) = message else { continue }
                            if text.contains(#""type":"subscribed""#) {
                                tally.state.withLock { $0.subscribed += 1 }
                            } else if text.contains(#""type":"event""#) {
                                let at = nowNanos()
                                tally.state.withLock { $0.received[round].append(at) }
                                round += 1
                                if round == rounds { break }
                            }
                        }
                    }
                }
            }
            while tally.state.withLock({ $0.subscribed }) < clients { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(500))
            let rssConnected = rssKiB(pid)
            var latencies: [Double] = []
            for r in 0..<rounds {
                let start = nowNanos()
                try await post(base, "/v1/reload")
                while tally.state.withLock({ $0.received[r].count }) < clients { try await Task.sleep(for: .milliseconds(1)) }
                latencies += tally.state.withLock { $0.received[r] }.map { Double($0 &- start) / 1e6 }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await group.waitForAll()
            latencies.sort()
            func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((p / 100 * Double(latencies.count - 1)).rounded()))] }
            print(String(format: "stream fan-out: %d clients × %d events (POST /v1/reload → reload event read by each client): p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                         clients, rounds, pct(50), pct(99), latencies.last ?? 0))
            print(String(format: "daemon RSS: %d KiB before, %d KiB with %d clients connected: %.1f KiB per client",
                         rssBefore, rssConnected, clients, Double(rssConnected - rssBefore) / Double(clients)))
        }

    }
}
