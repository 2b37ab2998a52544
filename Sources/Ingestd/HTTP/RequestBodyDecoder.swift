import CZlib
import Foundation

/// Undoes a request's `Content-Encoding` (RFC 9110 §8.4): `gzip` (and its alias `x-gzip`)
/// and `identity`. The decoded size is limited like the raw one, and inflating stops as soon as
/// it passes the limit, so a small body that expands to gigabytes (a "zip bomb") costs one
/// limit's worth of memory and is refused.
///
/// zlib directly rather than compress-nio 1.5.0: that library swallows zlib's "input ended
/// early" status, so a truncated gzip body would decode silently to part of the batch, and its
/// stream loop never ends when bytes follow the end of a gzip member.
struct RequestBodyDecoder {
    enum Failure: Error, Equatable {
        /// 415: an encoding other than gzip or identity.
        case unsupported(String)
        /// 413: the decoded body is larger than the limit.
        case tooLarge(limit: Int)
        /// 400: the body is not what its header says.
        case corrupt(String)
    }

    let maxDecodedBytes: Int

    /// The codings of every Content-Encoding header value, in the order they were applied.
    static func codings(_ headerValues: [String]) -> [String] {
        headerValues.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// Decodes `body`, undoing the codings last-applied first.
    func decode(_ body: [UInt8], codings: [String]) throws(Failure) -> [UInt8] {
        for coding in codings where !["gzip", "x-gzip", "identity"].contains(coding) {
            throw .unsupported(coding)
        }
        var bytes = body
        for coding in codings.reversed() where coding != "identity" {
            bytes = try gunzip(bytes)
        }
        return bytes
    }

    /// One or more concatenated gzip members (RFC 1952 §2.2), as `gzip -d` reads them.
    private func gunzip(_ input: [UInt8]) throws(Failure) -> [UInt8] {
        // zlib keeps a pointer back to its z_stream: the struct must not move between calls.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard czlib_inflate_init_gzip(stream) == Z_OK else { throw .corrupt("zlib could not start (out of memory)") }
        defer { inflateEnd(stream) }

        var out: [UInt8] = []
        out.reserveCapacity(min(maxDecodedBytes, input.count * 4))
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var result: Result<Void, Failure> = .success(())
        input.withUnsafeBufferPointer { (inBuffer: UnsafeBufferPointer<UInt8>) in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.pointee.avail_in = UInt32(inBuffer.count)
            while true {
                var produced = 0
                let rc = chunk.withUnsafeMutableBufferPointer { c -> Int32 in
                    stream.pointee.next_out = c.baseAddress
                    stream.pointee.avail_out = UInt32(c.count)
                    let rc = inflate(stream, Z_NO_FLUSH)
                    produced = c.count - Int(stream.pointee.avail_out)
                    return rc
                }
                guard out.count + produced <= maxDecodedBytes else {
                    result = .failure(.tooLarge(limit: maxDecodedBytes))
                    return
                }
                out.append(contentsOf: chunk[..<produced])
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let left = Int(stream.pointee.avail_in)
                    if left == 0 { return }
                    // Another member may follow; anything else after the end is not gzip.
                    let next = inBuffer.count - left
                    guard left >= 2, inBuffer[next] == 0x1F, inBuffer[next + 1] == 0x8B, inflateReset(stream) == Z_OK else {
                        result = .failure(.corrupt("\(left) bytes follow the end of the gzip data"))
                        return
                    }
                case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    result = .failure(.corrupt("the gzip data ends early (truncated body)"))
                    return
                case Z_BUF_ERROR:
                    continue
                default:
                    let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                    result = .failure(.corrupt("not valid gzip data: \(message)"))
                    return
                }
            }
        }
        try result.get()
        return out
    }
}
