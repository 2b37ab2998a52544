import Foundation
import Stream
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("NDJSONReader")
struct NDJSONReaderTests {
    /// A fresh directory under the system's temporary one, removed by `remove()`.
    struct Directory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-ndjson-\(UUID().uuidString)")

        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }

        func write(_ name: String, _ text: String) throws -> String {
            let path = url.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        func remove() { try? FileManager.default.removeItem(at: url) }
    }

    struct Line: Equatable, CustomStringConvertible {
        var text: String
        var number: Int
        var description: String { "\(number):\(text)" }
    }

    static func lines(_ reader: NDJSONReader) throws -> [Line] {
        var out: [Line] = []
        try reader.forEachLine { line, number in out.append(Line(text: String(decoding: line, as: UTF8.self), number: number)) }
        return out
    }

    /// Numbers are physical line numbers: blank lines are skipped but counted.
    static let text = "{\"a\":1}\r\n\n{\"b\":2}\n\r\n\n{\"c\":3}"
    static let expected = [Line(text: "{\"a\":1}", number: 1), Line(text: "{\"b\":2}", number: 3), Line(text: "{\"c\":3}", number: 6)]

    @Test("a plain file: CRLF stripped, blank lines skipped, a last line without newline kept")
    func plainFile() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.write("events.jsonl", Self.text)
        #expect(try Self.lines(NDJSONReader(path: path)) == Self.expected)
        #expect(try Self.lines(NDJSONReader(path: directory.write("empty.jsonl", ""))) == [])
        #expect(try Self.lines(NDJSONReader(path: directory.write("one.jsonl", "{}\n"))) == [Line(text: "{}", number: 1)])
    }

    @Test("a .gz file is decompressed with gzip")
    func gzipFile() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.write("events.jsonl", Self.text)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", path]
        try gzip.run()
        gzip.waitUntilExit()
        try #require(gzip.terminationStatus == 0, "gzip -k \(path) failed")
        #expect(try Self.lines(NDJSONReader(path: path + ".gz")) == Self.expected)
    }

    @Test("a .gz file that is not gzip fails after its (no) lines")
    func corruptGzipFile() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.write("events.jsonl.gz", "{\"a\":1}\n")
        #expect {
            _ = try Self.lines(NDJSONReader(path: path))
        } throws: { error in
            guard case NDJSONReader.ReadError.gzipFailed(let failed, let status) = error else { return false }
            return failed == path && status != 0
        }
    }

    @Test("a line longer than the block is read whole, at every block size")
    func lineLongerThanTheBlock() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let long = "{\"k\":\"" + String(repeating: "x", count: 1000) + "\"}"
        let path = try directory.write("long.jsonl", "{\"a\":1}\n\(long)\r\n{\"b\":2}\n\(long)")
        let expected = [Line(text: "{\"a\":1}", number: 1), Line(text: long, number: 2),
                        Line(text: "{\"b\":2}", number: 3), Line(text: long, number: 4)]
        for blockBytes in [1, 7, 64, 1009, 1010, 4096] {
            var reader = NDJSONReader(path: path)
            reader.mapsRegularFiles = false  // the block loop that pipes and standard input take
            reader.blockBytes = blockBytes
            #expect(try Self.lines(reader) == expected, "blockBytes \(blockBytes)")
        }
        var small = NDJSONReader(path: try directory.write("crlf.jsonl", Self.text))
        small.mapsRegularFiles = false
        small.blockBytes = 3  // a \r\n split across reads
        #expect(try Self.lines(small) == Self.expected)
    }

    @Test("a missing file is an error that names it")
    func missingFile() throws {
        for path in ["/nonexistent/ingestd/events.jsonl", "/nonexistent/ingestd/events.jsonl.gz"] {
            #expect {
                _ = try Self.lines(NDJSONReader(path: path))
            } throws: { error in
                guard case NDJSONReader.ReadError.cannotOpen(let failed, _) = error else { return false }
                return failed == path && "\(error)".contains(path)
            }
        }
    }

    @Test("\"-\" reads standard input and leaves it open")
    func standardInput() throws {
        let directory = try Directory()
        defer { directory.remove() }
        let path = try directory.write("stdin.jsonl", Self.text)
        let file = open(path, O_RDONLY)
        try #require(file >= 0)
        defer { close(file) }
        let saved = dup(STDIN_FILENO)
        try #require(saved >= 0)
        defer {
            dup2(saved, STDIN_FILENO)
            close(saved)
        }
        try #require(dup2(file, STDIN_FILENO) == STDIN_FILENO)
        #expect(try Self.lines(NDJSONReader(path: "-")) == Self.expected)
        #expect(fcntl(STDIN_FILENO, F_GETFD) != -1, "standard input was closed")
    }
}
