#!/usr/bin/env bash
# The stream's fan-out benchmark, end to end (README: Performance): a release daemon on loopback
# with HTTP ingest only, CLIENTS WebSocket clients subscribed to rule reloads, ROUNDS reloads;
# prints the delivery latency over all clients and the daemon's memory per connected client.
# Stops by itself.   CLIENTS=1000 ROUNDS=50 bash scripts/stream-fanout.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIENTS=${CLIENTS:-1000}
ROUNDS=${ROUNDS:-50}
cd "$ROOT"
[[ ${SKIP_BUILD:-0} == 1 ]] || swift build -c release --product ingestd
(cd Benchmarks && swift build -c release --product StreamFanout)
dir=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
printf 'groups:\n  - name: g\n    rules:\n      - {alert: A, kind: threshold, window: 1h, above: 1}\n' > "$dir/rules.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# One open file per client on each side: raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
INGESTD_DATA_DIR="$dir/data" INGESTD_KAFKA_ENABLED=false INGESTD_HTTP_LISTEN="127.0.0.1:$port" \
INGESTD_RULES_FILES="[\"$dir/rules.yaml\"]" INGESTD_LOG_LEVEL=warning \
  .build/release/ingestd run > "$dir/ingestd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
Benchmarks/.build/release/StreamFanout "http://127.0.0.1:$port" "$CLIENTS" "$ROUNDS" "$pid"
