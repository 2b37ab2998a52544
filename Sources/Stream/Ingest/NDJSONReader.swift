import Foundation

/// Reads an NDJSON file (gzip-compressed when it ends in .gz; standard input, uncompressed, when
/// the path is "-") and hands out whole lines: a plain file is mapped and its lines are slices of
/// the mapping; a pipe is read in large blocks. A replay touches each byte once and allocates
/// per block, not per line.
/// Decompression is `gzip -dc` in a child process. Measured (2M lines, 518 MB, busy 2-core
/// machine): replay from .gz 3.7 s, from the plain file 1.4 s, `gzip -dc` alone 1.96 s; so the
/// decompression, not the pipe, is most of the difference, and in-process zlib on the replay's
/// own thread (compress-nio) would add the same inflate time serially; not tried yet.
public struct NDJSONReader {
    public let path: String
    /// Read size for pipes and standard input (and, with `mapsRegularFiles` false, files).
    public var blockBytes = 4 << 20
    /// Whether a regular file is mapped (`mmap`) instead of read in blocks.
    public var mapsRegularFiles = true

    public init(path: String) { self.path = path }

    public enum ReadError: Error, CustomStringConvertible {
        case cannotOpen(String, String)
        case gzipFailed(String, Int32)

        public var description: String {
            switch self {
            case .cannotOpen(let path, let why): "cannot open \(path): \(why)"
            case .gzipFailed(let path, let status): "gzip -dc \(path) failed with status \(status): is it a gzip file?"
            }
        }
    }

    /// Calls `body` with each line (without its newline, \r stripped) and its 1-based number.
    public func forEachLine(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var process: Process?
        let handle: FileHandle
        if path == "-" {
            handle = .standardInput  // read as it is (not gunzipped) and left open
        } else if path.hasSuffix(".gz") {
            guard FileManager.default.isReadableFile(atPath: path) else { throw ReadError.cannotOpen(path, "not readable") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "exec gzip -dc \"$0\"", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            process = p
            handle = pipe.fileHandleForReading
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else { throw ReadError.cannotOpen(path, "no such file or not readable") }
            handle = h
        }
        defer { if path != "-" { try? handle.close() } }
        let fd = handle.fileDescriptor
        if process == nil && path != "-" && mapsRegularFiles, try forEachMappedLine(fd, body) { return }
        var buffer = [UInt8](repeating: 0, count: blockBytes)
        var filled = 0
        var lineNumber = 0
        while true {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) } // a line longer than a block
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 { if errno == EINTR { continue }; throw ReadError.cannotOpen(path, String(cString: strerror(errno))) }
            let eof = n == 0
            filled += n
            var consumed = 0
            try buffer.withUnsafeBytes { all in
                // memchr finds each newline with vector compares (a byte loop was 16% of a replay).
                let base = all.baseAddress!
                var start = 0
                while start < filled, let nl = memchr(base + start, Int32(UInt8(ascii: "\n")), filled - start) {
                    let i = base.distance(to: UnsafeRawPointer(nl))
                    lineNumber += 1
                    try emit(all, start, i, lineNumber, body)
                    start = i + 1
                }
                if eof && start < filled {
                    lineNumber += 1
                    try emit(all, start, filled, lineNumber, body)
                    start = filled
                }
                consumed = start
            }
            if consumed > 0 {
                buffer.withUnsafeMutableBytes { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + consumed, filled - consumed)
                }
                filled -= consumed
            }
            if eof { break }
        }
        if let process {
            process.waitUntilExit()
            if process.terminationStatus != 0 { throw ReadError.gzipFailed(path, process.terminationStatus) }
        }
    }

    /// A regular file is mapped rather than read: its lines are handed out where the page cache
    /// holds them, with no copy into a buffer (the kernel's read copy was 7% of a replay).
    /// false when `fd` is not a regular file (a FIFO, a device): read it instead.
    private func forEachMappedLine(_ fd: Int32, _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        let size = Int(info.st_size)
        guard size > 0 else { return true }
        // Linux: map every page in the one call rather than one fault per 16 pages while reading
        // (replay 3–7% faster, same run); the pages are in the page cache already or read ahead.
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let map = mmap(nil, size, PROT_READ, flags, fd, 0), map != MAP_FAILED else { return false }
        defer { munmap(map, size) }
        _ = madvise(map, size, MADV_SEQUENTIAL)
        let all = UnsafeRawBufferPointer(start: map, count: size)
        var start = 0
        var lineNumber = 0
        while start < size, let nl = memchr(map + start, Int32(UInt8(ascii: "\n")), size - start) {
            let i = map.distance(to: nl)
            lineNumber += 1
            try emit(all, start, i, lineNumber, body)
            start = i + 1
        }
        if start < size {
            lineNumber += 1
            try emit(all, start, size, lineNumber, body)
        }
        return true
    }

    @inline(__always)
    private func emit(_ all: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ number: Int,
                      _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var e = end
        if e > start && all[e - 1] == UInt8(ascii: "\r") { e -= 1 }
        guard e > start else { return } // blank lines are not events
        try body(UnsafeRawBufferPointer(rebasing: all[start..<e]), number)
    }
}
