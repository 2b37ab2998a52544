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
        for path in RuleFileGlob.expand(patterns).matched.sorted() {
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

/// glob(3) over the configured patterns (relative to the working directory).
public enum RuleFileGlob {
    /// Matched paths (no duplicates, in pattern order) and the patterns that matched nothing.
    public static func expand(_ patterns: [String]) -> (matched: [String], unmatched: [String]) {
        var matched: [String] = []
        var seen = Set<String>()
        var unmatched: [String] = []
        for pattern in patterns {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(pattern, 0, nil, &g) == 0 else {
                unmatched.append(pattern)
                continue
            }
            for i in 0..<Int(g.gl_pathc) {
                guard let p = g.gl_pathv[i], case let path = String(cString: p), seen.insert(path).inserted else { continue }
                matched.append(path)
            }
        }
        return (matched, unmatched)
    }
}
