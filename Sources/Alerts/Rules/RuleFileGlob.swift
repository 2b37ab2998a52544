#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Stream

/// The files `rules.files` names: glob(3) patterns relative to the working directory.
public enum RuleFileGlob {
    /// Matching files in pattern order (each once, sorted within a pattern), and an error for
    /// each pattern that matches nothing: a rule file that silently stopped loading would
    /// silently stop alerting.
    public static func expand(_ patterns: [String], origin: ConfigOrigin = .defaults) -> (files: [String], errors: [ConfigError]) {
        var files: [String] = []
        var seen = Set<String>()
        var errors: [ConfigError] = []
        for pattern in patterns {
            var g = glob_t()
            defer { globfree(&g) }
            let status = glob(pattern, 0, nil, &g)
            guard status == 0 else {
                let why = status == GLOB_NOMATCH ? "matches no file" : "cannot be read (glob error \(status))"
                errors.append(ConfigError(origin: origin, message: "rules.files: \"\(pattern)\" \(why)"))
                continue
            }
            for i in 0..<Int(g.gl_pathc) {
                guard let p = g.gl_pathv[i], case let path = String(cString: p), seen.insert(path).inserted else { continue }
                files.append(path)
            }
        }
        return (files, errors)
    }
}
