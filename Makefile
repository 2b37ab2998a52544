# The two commands a user needs: `make run` and `make test` (see README).
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= etc/ingestd.yaml

.PHONY: setup build release run demo test test-swift test-e2e bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# Starts the daemon on the default config plus the demo's embedded Tansu broker (opt-in: a
# production config names kafka.brokers); the HTTP API is on 127.0.0.1:9466.
run: release
	INGESTD_KAFKA_EMBEDDED_BROKER=true .build/release/ingestd run --config $(CONFIG)

# A spike becomes an alert and a signed webhook on a local receiver within a minute: the embedded
# broker, the daemon with rules/*.yaml + rules/demo/*.yaml in a temporary data dir, and
# scripts/webhook-receiver.py on 127.0.0.1:9095 (see README, Demo). Ctrl-C stops and removes it all.
demo: release
	bash scripts/demo.sh

# The whole suite: Swift unit/integration tests, then end-to-end tests that drive the real
# binary against a real broker, real SQLite files and real signals.
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	TEST_INGESTD_BIN=$$($(SWIFT) build --show-bin-path)/ingestd python3 -m pytest -q Tests/E2E

# --target: StreamFanout, the other executable in Benchmarks/, is the client tool of
# scripts/stream-fanout.sh, not a benchmark (the plugin would run it without arguments).
bench: setup
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark --target IngestdBenchmarks
	bash scripts/bench-e2e.sh
	bash scripts/replay-ratio.sh

clean:
	rm -rf .build Benchmarks/.build
