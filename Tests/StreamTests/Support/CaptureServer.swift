#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A plain-socket HTTP/1.1 server on 127.0.0.1 that records every request's exact bytes
/// (repeated headers included, which a parsing server would merge) and answers each with the
/// bytes `reply` returns, then closes the connection. One connection at a time on its own thread.
final class CaptureServer: Sendable {
    struct Captured: Sendable {
        let requestLine: String
        /// In arrival order, names as sent.
        let headers: [(name: String, value: String)]
        let body: [UInt8]

        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
        func value(_ name: String) -> String? { values(name).first }
    }

    typealias Reply = @Sendable (Captured) -> [UInt8]

    let port: Int
    private let listener: Int32
    private final class Log: Sendable { let requests = Mutex<[Captured]>([]) }
    private let captured = Log()
    private let done = DispatchSemaphore(value: 0)

    var requests: [Captured] { captured.requests.withLock { $0 } }

    static func answer(status: Int, headers: [String] = [], body: [UInt8]) -> [UInt8] {
        var head = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for line in headers { head += line + "\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    init(reply: @escaping Reply = { _ in CaptureServer.answer(status: 200, body: Array("{}".utf8)) }) throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        let thread = Thread { [captured, done] in
            defer { done.signal() }
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 { if errno == EINTR { continue }; return }
                if let request = Self.readRequest(connection) {
                    captured.requests.withLock { $0.append(request) }
                    let bytes = reply(request)
                    _ = bytes.withUnsafeBytes { raw -> Int in
                        var sent = 0
                        while sent < raw.count {
                            let n = send(connection, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                            if n <= 0 { break }
                            sent += n
                        }
                        return sent
                    }
                }
                close(connection)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        done.wait()
    }

    private static func readRequest(_ connection: Int32) -> Captured? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headEnd: Int?
        var contentLength = 0
        while true {
            if let end = headEnd, data.count >= end + 4 + contentLength { break }
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            data.append(contentsOf: buffer[..<n])
            if headEnd == nil, let end = Self.find(Array("\r\n\r\n".utf8), in: data) {
                headEnd = end
                for line in String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n").dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" {
                        contentLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                }
            }
        }
        let end = headEnd!
        let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Captured(requestLine: lines[0], headers: headers, body: Array(data[(end + 4)..<(end + 4 + contentLength)]))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
