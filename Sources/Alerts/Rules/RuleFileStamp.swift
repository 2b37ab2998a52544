#if canImport(Glibc)
import Glibc
#endif

/// What the rule files look like on disk (which files the globs match, and each one's inode,
/// size and modification time): compared between polls to notice an edit, a new or a removed
/// file without reading any of them.
public struct RuleFileStamp: Sendable, Equatable {
    private var entries: [String]

    public init(patterns: [String]) {
        var entries: [String] = []
        for path in RuleFileGlob.expand(patterns).files.sorted() {
            var st = stat()
            if stat(path, &st) == 0 {
                entries.append("\(path)\t\(st.st_ino)\t\(st.st_size)\t\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
            } else {
                entries.append("\(path)\tmissing")
            }
        }
        self.entries = entries
    }
}
