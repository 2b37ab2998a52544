// One event fanned out to N /v1/stream clients of a running daemon: N WebSocket clients in this
// process subscribe to rule reloads; each round POSTs /v1/reload and every client notes when the
// reload event reached it. Two latencies per (client, round), labeled apart:
//   - POST → receipt: this process's monotonic clock from before the POST (end to end: the HTTP
//     round trip and the reload itself included);
//   - at → receipt: the wall clock (CLOCK_REALTIME) at receipt minus the event's own `at`, which
//     the daemon stamps when the reload starts: the fan-out plus the reload, without the HTTP
//     request. `at` has millisecond resolution and is truncated, so this overstates by < 1 ms.
// Also the daemon's RSS growth per connected client (/proc/PID/status) and the CPU time both
// processes spent per round (/proc/PID/stat), to see how the 2 cores are shared.
//
//   StreamFanout URL CLIENTS ROUNDS PID   (a daemon without auth, as scripts/stream-fanout.sh starts it)
// Environment (scripts/stream-fanout.sh sets them when PROCS > 1 splits the clients over processes):
//   FANOUT_ROLE=listen   only receive (ROUNDS events per client), no POSTs
//   FANOUT_TOTAL=N       the number of clients over all processes
//   FANOUT_READY=DIR     a listener creates DIR/<pid> once its clients are subscribed; the driver
//                        waits for FANOUT_LISTENERS such files before round 1
//   FANOUT_RAW=FILE      append every at → receipt latency (ms) to FILE, one per line
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import Synchronization

@main
enum StreamFanout {
    static func nowNanos(_ clock: clockid_t = CLOCK_MONOTONIC) -> UInt64 {
        var t = timespec()
        clock_gettime(clock, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func rssKiB(_ pid: Int) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// utime + stime of a process, in milliseconds.
    static func cpuMillis(_ pid: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Milliseconds since the epoch of the `"at":"2026-12-01T08:29:03.123Z"` member of a message.
    static func atMillis(_ text: String) -> Double? {
        guard let r = text.range(of: #""at":""#) else { return nil }
        let s = Array(text[r.upperBound...].utf8.prefix(24))
        guard s.count == 24 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int32 {
            s[from..<from + len].reduce(0) { $0 * 10 + Int32($1 &- 48) }
        }
        var tm = tm()
        tm.tm_year = num(0, 4) - 1900
        tm.tm_mon = num(5, 2) - 1
        tm.tm_mday = num(8, 2)
        tm.tm_hour = num(11, 2)
        tm.tm_min = num(14, 2)
        tm.tm_sec = num(17, 2)
        return Double(timegm(&tm)) * 1000 + Double(num(20, 3))
    }

    struct Receipt { var monotonic: UInt64; var wallMillis: Double; var atMillis: Double }

    final class Tally: Sendable {
        struct State { var subscribed = 0; var received: [[Receipt]] = [] }
        let state: Mutex<State>
        init(rounds: Int) { state = Mutex(State(received: Array(repeating: [], count: rounds))) }
    }

    static func request(_ base: String, _ path: String, method: String) async throws -> String {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        let (data, _) = try await URLSession.shared.data(for: request)
        return String(decoding: data, as: UTF8.self)
    }


    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count - 1)).rounded()))]
    }

    static func summary(_ values: [Double]) -> String {
        let v = values.sorted()
        return String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(v, 50), percentile(v, 99), v.last ?? .nan)
    }

    nonisolated static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 5, let clients = Int(args[2]), let rounds = Int(args[3]), let pid = Int(args[4]) else {
            print("usage: StreamFanout http://127.0.0.1:PORT CLIENTS ROUNDS DAEMON_PID")
            Foundation.exit(2)
        }
        let base = args[1]
        let env = ProcessInfo.processInfo.environment
        let listenOnly = env["FANOUT_ROLE"] == "listen"
        let total = Int(env["FANOUT_TOTAL"] ?? "") ?? clients

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
                            // The clocks first: whatever this client does next is not the daemon's time.
                            let mono = nowNanos()
                            let wall = Double(nowNanos(CLOCK_REALTIME)) / 1e6
                            guard case .text(let text) = message else { continue }
                            if text.contains(#""type":"subscribed""#) {
                                tally.state.withLock { $0.subscribed += 1 }
                            } else if text.contains(#""type":"event""#) {
                                let receipt = Receipt(monotonic: mono, wallMillis: wall, atMillis: atMillis(text) ?? .nan)
                                tally.state.withLock { $0.received[round].append(receipt) }
                                round += 1
                                if round == rounds { break }
                            }
                        }
                    }
                }
            }
            while tally.state.withLock({ $0.subscribed }) < clients { try await Task.sleep(for: .milliseconds(50)) }
            let ready = env["FANOUT_READY"]
            if listenOnly {
                if let ready { FileManager.default.createFile(atPath: "\(ready)/\(getpid())", contents: nil) }
                try await group.waitForAll()
            } else {
                let listeners = Int(env["FANOUT_LISTENERS"] ?? "") ?? 0
                while let ready, ((try? FileManager.default.contentsOfDirectory(atPath: ready))?.count ?? 0) < listeners {
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await Task.sleep(for: .milliseconds(500))
                let rssConnected = rssKiB(pid)
                var endToEnd: [Double] = []
                var spread: [Double] = []
                let daemonCPU = cpuMillis("\(pid)"), ownCPU = cpuMillis("self")
                for r in 0..<rounds {
                    let start = nowNanos()
                    _ = try await request(base, "/v1/reload", method: "POST")
                    while tally.state.withLock({ $0.received[r].count }) < clients { try await Task.sleep(for: .milliseconds(1)) }
                    let times = tally.state.withLock { $0.received[r] }.map(\.monotonic)
                    endToEnd += times.map { Double($0 &- start) / 1e6 }
                    spread.append(Double(times.max()! &- times.min()!) / 1e6)
                    // Lets the other processes' clients finish the round before the next.
                    try await Task.sleep(for: .milliseconds(total > clients ? 300 : 100))
                }
                let daemonPerRound = (cpuMillis("\(pid)") - daemonCPU) / Double(rounds)
                let ownPerRound = (cpuMillis("self") - ownCPU) / Double(rounds)
                try await group.waitForAll()
                let share = total > clients ? " (this process's \(clients) of \(total) clients)" : ""
                print(String(format: "stream fan-out, %d clients × %d events, POST /v1/reload → reload event read by each client%@: %@",
                             total, rounds, share, summary(endToEnd)))
                print(String(format: "  first → last client of a round%@: %@", share, summary(spread)))
                print(String(format: "CPU per round (one event to %d clients, idle wait included): daemon %.1f ms (%.1f µs per client), this client process %.1f ms (%.1f µs per client it runs)",
                             total, daemonPerRound, daemonPerRound * 1000 / Double(total), ownPerRound, ownPerRound * 1000 / Double(clients)))
                print(String(format: "daemon RSS: %d KiB before, %d KiB with %d clients connected: %.1f KiB per client",
                             rssBefore, rssConnected, total, Double(rssConnected - rssBefore) / Double(total)))
            }
            let atLatencies = tally.state.withLock { $0.received.flatMap { $0.map { $0.wallMillis - $0.atMillis } } }
            if let path = env["FANOUT_RAW"] {
                let lines = atLatencies.map { String(format: "%.3f\n", $0) }.joined()
                guard let handle = FileHandle(forWritingAtPath: path) else { fatalError("FANOUT_RAW \(path) must exist") }
                handle.seekToEndOfFile()
                handle.write(Data(lines.utf8))
                try handle.close()
            }
            if !listenOnly && total == clients {
                print("  event's at (the daemon's wall clock as the reload starts) → receipt (CLOCK_REALTIME): \(summary(atLatencies))")
            }
        }
    }
}
