import ArgumentParser
import DevTools

@main
struct IngestdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingestd",
        abstract: "Watches cloud spend as it happens: cost events in, rolling windows, alerts out.",
        version: IngestdVersion.string,
        subcommands: [
            RunCommand.self,
            ReplayCommand.self,
            BacktestCommand.self,
            RulesCommand.self,
            ProduceCommand.self,
            KafkaCompatProxyCommand.self,
            EmbeddedBrokerCommand.self,
            VersionCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )
}

enum IngestdVersion {
    static let string = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")
    func run() { print("ingestd \(IngestdVersion.string)") }
}
