// parse+apply over an NDJSON file, on one thread, without the benchmark runner: for counting
// instructions under valgrind (deterministic, where wall time on this machine swings by 2×).
//   swift build -c release --product IngestInstructions
//   strip --strip-debug -o /tmp/ii .build/release/IngestInstructions   (valgrind 3.19 cannot read Swift's DWARF)
//   valgrind --tool=callgrind /tmp/ii events.ndjson [passes] [scan,general]
// scan: parse only, no apply; general: every event scanned in full (no JSONSkeleton). Subtract a
// run with 0 passes (loading and splitting the file) before dividing by the events.
import Foundation
import Stream

let args = CommandLine.arguments
guard args.count >= 2, let data = FileManager.default.contents(atPath: args[1]) else {
    FileHandle.standardError.write(Data("usage: IngestInstructions FILE.ndjson [passes] [scan,general]\n".utf8))
    exit(2)
}
let passes = args.count >= 3 ? Int(args[2]) ?? 1 : 1
let modes = args.count >= 4 ? args[3].split(separator: ",").map(String.init) : []
let scanOnly = modes.contains("scan")
var options = EventParserOptions()
options.reusesShapes = !modes.contains("general")
let bytes = [UInt8](data)
var bounds: [Range<Int>] = []
var start = 0
for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
    bounds.append(start..<i)
    start = i + 1
}
let parser = EventParser(options: options)
let store = WindowStore(configuration: StoreConfiguration())
let shard = store.shard("replay")
var counted = 0
bytes.withUnsafeBytes { buffer in
    shard.write { writer in
        for _ in 0..<passes {
            for r in bounds {
                let line = UnsafeRawBufferPointer(rebasing: buffer[r])
                if parser.parse(line) == nil {
                    if scanOnly { counted &+= 1; continue }
                    if writer.apply(parser, timestampMillis: parser.timestampMillis, cost: parser.cost) == nil { counted &+= 1 }
                }
            }
        }
    }
}
print("\(counted) of \(bounds.count * passes) counted")
