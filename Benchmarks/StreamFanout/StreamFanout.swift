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
// The clients are plain sockets on one epoll thread that speak just the WebSocket this needs
// (RFC 6455: the upgrade, one masked text frame out, unmasked frames in, pong, close). The
// daemon and its clients share the machine's 2 cores, so the clients' own CPU is part of every
// latency measured here: a full WebSocket client stack (HummingbirdWSClient, one task per
// client) took 40–48 µs of CPU per message read, and with 1,000 of them, more CPU than the
// daemon's whole fan-out. A reader of raw frames takes a few µs (printed below).
//
//   StreamFanout URL CLIENTS ROUNDS PID   (a daemon without auth, as scripts/stream-fanout.sh starts it)
// Environment (scripts/stream-fanout.sh sets them when PROCS > 1 splits the clients over processes):
//   FANOUT_ROLE=listen   only receive (ROUNDS events per client), no POSTs
//   FANOUT_TOTAL=N       the number of clients over all processes
//   FANOUT_READY=DIR     a listener creates DIR/<pid> once its clients are subscribed; the driver
//                        waits for FANOUT_LISTENERS such files before round 1
//   FANOUT_RAW=FILE      append every at → receipt latency (ms) to FILE, one per line
import CEpoll
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
    static func atMillis(_ text: UnsafeRawBufferPointer) -> Double? {
        guard let found = find(#""at":""#, in: text) else { return nil }
        let s = UnsafeRawBufferPointer(rebasing: text[(found + 6)...])
        guard s.count >= 24 else { return nil }
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

    /// The offset of `needle` in `haystack`, or nil.
    static func find(_ needle: StaticString, in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, haystack.count > 0,
              let hit = memmem(base, haystack.count, needle.utf8Start, needle.utf8CodeUnitCount) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    struct Receipt { var monotonic: UInt64; var wallMillis: Double; var atMillis: Double }

    final class Tally: Sendable {
        struct State { var subscribed = 0; var closed = 0; var received: [[Receipt]] = [] }
        let state: Mutex<State>
        init(rounds: Int) { state = Mutex(State(received: Array(repeating: [], count: rounds))) }
    }

    enum Failure: Error, CustomStringConvertible {
        case socket(String, Int32)
        case upgrade(String)
        var description: String {
            switch self {
            case .socket(let what, let errno): "\(what): \(String(cString: strerror(errno)))"
            case .upgrade(let answer): "the WebSocket upgrade was refused: \(answer)"
            }
        }
    }

    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket("socket", errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw Failure.socket("connect", e) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.socket("send", errno) }
            sent += n
        }
    }

    /// A client's text frame: masked, as RFC 6455 requires of clients (payload < 126 bytes).
    static func maskedTextFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] }
    }

    /// The upgrade, blocking: what followed the 101 answer's header (frames already sent).
    static func upgrade(_ fd: Int32, port: UInt16) throws -> [UInt8] {
        try sendAll(fd, Array(("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { throw Failure.upgrade(String(decoding: answer, as: UTF8.self)) }
            answer += chunk[..<n]
            if let end = answer.withUnsafeBytes({ find("\r\n\r\n", in: $0) }) {
                guard answer.starts(with: Array("HTTP/1.1 101".utf8)) else { throw Failure.upgrade(String(decoding: answer, as: UTF8.self)) }
                return Array(answer[(end + 4)...])
            }
        }
    }

    /// POST /v1/reload on its own connection; returns when the answer is read.
    static func postReload(port: UInt16) throws {
        let fd = try connect(port: port)
        defer { close(fd) }
        try sendAll(fd, Array("POST /v1/reload HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        var chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeMutableBytes({ recv(fd, $0.baseAddress!, $0.count, 0) }) > 0 {}
    }

    /// One client's connection state on the epoll thread.
    struct Connection {
        var fd: Int32
        var pending: [UInt8]
        var round = 0
    }

    /// Reads every connection until each has seen `rounds` events (or closed); runs on its own thread.
    static func receive(_ connections: inout [Connection], rounds: Int, tally: Tally) {
        let ep = epoll_create1(0)
        precondition(ep >= 0, "epoll_create1")
        for (i, c) in connections.enumerated() {
            _ = fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK)
            var ev = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(i)))
            precondition(epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) == 0, "epoll_ctl")
        }
        var open = connections.count
        var events = [epoll_event](repeating: epoll_event(), count: 1024)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        func finish(_ i: Int) {
            close(connections[i].fd)
            connections[i].fd = -1
            open -= 1
        }
        // What was read with the upgrade answer (hello, perhaps subscribed) first.
        for i in connections.indices where !connections[i].pending.isEmpty {
            let pending = connections[i].pending
            connections[i].pending = []
            if !pending.withUnsafeBytes({ ingest($0, into: &connections[i], rounds: rounds, tally: tally) }) { finish(i) }
        }
        while open > 0 {
            let n = epoll_wait(ep, &events, Int32(events.count), 1000)
            for e in events[..<max(0, Int(n))] {
                let i = Int(e.data.u64)
                guard connections[i].fd >= 0 else { continue }
                let got = recv(connections[i].fd, chunk.baseAddress!, chunk.count, 0)
                if got < 0, errno == EAGAIN || errno == EWOULDBLOCK { continue }
                guard got > 0, ingest(UnsafeRawBufferPointer(rebasing: chunk[..<got]), into: &connections[i], rounds: rounds, tally: tally) else {
                    finish(i)
                    continue
                }
            }
        }
        close(ep)
    }

    /// Bytes just read from a connection: its whole frames handled, a partial one kept (usually
    /// none: the bytes are read in place, without a copy). False when the client is done (all
    /// rounds, or closed).
    static func ingest(_ bytes: UnsafeRawBufferPointer, into c: inout Connection, rounds: Int, tally: Tally) -> Bool {
        guard c.pending.isEmpty else {
            c.pending += bytes
            let pending = c.pending
            c.pending = []
            return pending.withUnsafeBytes { ingestWhole($0, into: &c, rounds: rounds, tally: tally) }
        }
        return ingestWhole(bytes, into: &c, rounds: rounds, tally: tally)
    }

    private static func ingestWhole(_ bytes: UnsafeRawBufferPointer, into c: inout Connection, rounds: Int, tally: Tally) -> Bool {
        // The clocks first: whatever this client does next is not the daemon's time.
        let mono = nowNanos()
        let wall = Double(nowNanos(CLOCK_REALTIME)) / 1e6
        var offset = 0
        while bytes.count - offset >= 2 {
            let opcode = bytes[offset] & 0x0F
            var length = Int(bytes[offset + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard bytes.count - offset >= 4 else { break }
                length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
                header = 4
            } else if length == 127 {
                guard bytes.count - offset >= 10 else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[offset + 2 + $1]) }
                header = 10
            }
            guard bytes.count - offset >= header + length else { break }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + header)..<(offset + header + length)])
            offset += header + length
            switch opcode {
            case 0x1:
                if find(#""type":"event""#, in: payload) != nil {
                    let receipt = Receipt(monotonic: mono, wallMillis: wall, atMillis: atMillis(payload) ?? .nan)
                    let round = c.round
                    tally.state.withLock { $0.received[round].append(receipt) }
                    c.round += 1
                    if c.round == rounds { return false }
                } else if find(#""type":"subscribed""#, in: payload) != nil {
                    tally.state.withLock { $0.subscribed += 1 }
                }
            case 0x8:
                tally.state.withLock { $0.closed += 1 }
                return false
            case 0x9:
                // A ping: the pong carries its payload, masked (RFC 6455 §5.5.3).
                try? sendAll(c.fd, [0x8A, 0x80 | UInt8(length), 0, 0, 0, 0] + Array(payload))
            default:
                break
            }
        }
        if offset < bytes.count { c.pending = Array(bytes[offset...]) }
        return true
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count - 1)).rounded()))]
    }

    static func summary(_ values: [Double]) -> String {
        let v = values.sorted()
        return String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(v, 50), percentile(v, 99), v.last ?? .nan)
    }

    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 5, let port = args[1].split(separator: ":").last.flatMap({ UInt16($0) }),
              let clients = Int(args[2]), let rounds = Int(args[3]), let pid = Int(args[4]) else {
            print("usage: StreamFanout http://127.0.0.1:PORT CLIENTS ROUNDS DAEMON_PID")
            Foundation.exit(2)
        }
        let env = ProcessInfo.processInfo.environment
        let listenOnly = env["FANOUT_ROLE"] == "listen"
        let total = Int(env["FANOUT_TOTAL"] ?? "") ?? clients
        let tally = Tally(rounds: rounds)

        let rssBefore = rssKiB(pid)
        var connections: [Connection] = []
        for _ in 0..<clients {
            let fd = try connect(port: port)
            var pending = try upgrade(fd, port: port)
            try sendAll(fd, maskedTextFrame(#"{"type":"subscribe","id":"r","kinds":["reload"]}"#))
            pending.reserveCapacity(4096)
            connections.append(Connection(fd: fd, pending: pending))
        }
        let receiver = Thread { [connections] in
            var connections = connections
            receive(&connections, rounds: rounds, tally: tally)
        }
        receiver.start()
        func wait(until done: () -> Bool) {
            while !done() { usleep(1000) }
        }
        wait { tally.state.withLock { $0.subscribed + $0.closed } >= clients }
        let closedEarly = tally.state.withLock { $0.closed }
        guard closedEarly == 0 else {
            print("\(closedEarly) of \(clients) clients were closed by the daemon before subscribing (too many clients?)")
            Foundation.exit(1)
        }
        let ready = env["FANOUT_READY"]
        func finished() -> Bool { tally.state.withLock { s in s.received.last!.count + s.closed >= clients } }
        if listenOnly {
            if let ready { FileManager.default.createFile(atPath: "\(ready)/\(getpid())", contents: nil) }
            wait(until: finished)
        } else {
            let listeners = Int(env["FANOUT_LISTENERS"] ?? "") ?? 0
            while let ready, ((try? FileManager.default.contentsOfDirectory(atPath: ready))?.count ?? 0) < listeners {
                usleep(50_000)
            }
            usleep(500_000)
            let rssConnected = rssKiB(pid)
            var endToEnd: [Double] = []
            var spread: [Double] = []
            let daemonCPU = cpuMillis("\(pid)"), ownCPU = cpuMillis("self")
            for r in 0..<rounds {
                let start = nowNanos()
                try postReload(port: port)
                wait { tally.state.withLock { $0.received[r].count + $0.closed } >= clients }
                let times = tally.state.withLock { $0.received[r] }.map(\.monotonic)
                guard times.count == clients else {
                    print("round \(r + 1): \(clients - times.count) clients were closed by the daemon")
                    Foundation.exit(1)
                }
                endToEnd += times.map { Double($0 &- start) / 1e6 }
                spread.append(Double(times.max()! &- times.min()!) / 1e6)
                // Lets the other processes' clients finish the round before the next.
                usleep(total > clients ? 300_000 : 100_000)
            }
            let daemonPerRound = (cpuMillis("\(pid)") - daemonCPU) / Double(rounds)
            let ownPerRound = (cpuMillis("self") - ownCPU) / Double(rounds)
            wait(until: finished)
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
