// swift-tools-version: 6.1
// The benchmarks live in their own package so that `swift build` and `make test` in the main
// package never build the benchmark tool or its dependencies. Run: `make bench`, or
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
import PackageDescription

let package = Package(
    name: "IngestdBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ingestd", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // End to end, against a running daemon (scripts/stream-fanout.sh): one event fanned out
        // to many /v1/stream clients, latency per client and the daemon's memory per client.
        .executableTarget(
            name: "StreamFanout",
            dependencies: ["CEpoll"],
            path: "StreamFanout"
        ),
        .target(name: "CEpoll", path: "CEpoll"),
        // parse+apply on one thread without the runner, for instruction counts under valgrind.
        .executableTarget(
            name: "IngestInstructions",
            dependencies: [.product(name: "Stream", package: "ingestd")],
            path: "IngestInstructions"
        ),
        .executableTarget(
            name: "IngestdBenchmarks",
            dependencies: [
                .product(name: "Stream", package: "ingestd"),
                .product(name: "Alerts", package: "ingestd"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Benchmark", package: "benchmark"),
                // The in-process loopback receiver of the notification delivery benchmarks.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "IngestdBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
