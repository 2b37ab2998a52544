import Foundation

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ingestd-aws-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` in place (same inode when it exists) and returns the full path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        guard let handle = FileHandle(forWritingAtPath: file) else {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            return file
        }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
        return file
    }

    /// Replaces `name` by writing a new file and renaming it over (a new inode), as rotation tools do.
    func replace(_ name: String, _ text: String) throws {
        let temporary = path + "/." + name + ".new"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path + "/" + name) == 0 else { throw POSIXError(.EIO) }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
