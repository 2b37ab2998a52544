import ArgumentParser
import Stream

/// What the offline commands (replay, backtest, rules check/test) read from the config, said
/// once: a broken file prints every error and exits with the command's status.
extension IngestdConfig {
    static func loadForCommand(path: String?, exitStatus: Int32) throws -> IngestdConfig {
        do { return try IngestdConfig.load(path: path) } catch {
            FileHandleOutput.standardError("ingestd: invalid configuration\n\(error)\n")
            throw ExitCode(exitStatus)
        }
    }

    /// `--format`: a built-in shape or a mapping name from the config.
    func eventFormat(named name: String) throws -> EventFormat {
        guard let format = namedFormats[name] else {
            throw ValidationError("unknown format \"\(name)\": use coststream, focus, cur or a mapping name from the config")
        }
        return format
    }
}
