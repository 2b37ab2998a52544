#!/usr/bin/env bash
# The stream's fan-out benchmark, end to end (README: Performance): a release daemon on loopback
# with HTTP ingest only, CLIENTS WebSocket clients subscribed to rule reloads, ROUNDS reloads;
# prints the delivery latency over all clients (POST → receipt, and the event's `at` → receipt),
# the CPU both sides spent, and the daemon's memory per connected client. PROCS > 1 splits the
# clients over that many client processes (one drives the reloads); the at → receipt line then
# covers every process. DAEMON_BIN (with SKIP_BUILD=1) runs another build of the daemon, for
# before/after comparisons. Stops by itself.   CLIENTS=1000 ROUNDS=50 [PROCS=2] bash scripts/stream-fanout.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIENTS=${CLIENTS:-1000}
ROUNDS=${ROUNDS:-50}
PROCS=${PROCS:-1}
cd "$ROOT"
[[ ${SKIP_BUILD:-0} == 1 ]] || swift build -c release --product ingestd
[[ ${SKIP_BUILD:-0} == 1 ]] || (cd Benchmarks && swift build -c release --product StreamFanout)
dir=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
printf 'groups:\n  - name: g\n    rules:\n      - {alert: A, kind: threshold, window: 1h, above: 1}\n' > "$dir/rules.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# One open file per client on each side: raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
INGESTD_DATA_DIR="$dir/data" INGESTD_KAFKA_ENABLED=false INGESTD_HTTP_LISTEN="127.0.0.1:$port" \
INGESTD_RULES_FILES="[\"$dir/rules.yaml\"]" INGESTD_LOG_LEVEL=warning \
  "${DAEMON_BIN:-.build/release/ingestd}" run > "$dir/ingestd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the daemon did not get ready:" >&2; cat "$dir/ingestd.log" >&2; exit 1; }
tool=Benchmarks/.build/release/StreamFanout
if [[ $PROCS -le 1 ]]; then
  "$tool" "http://127.0.0.1:$port" "$CLIENTS" "$ROUNDS" "$pid"
  exit
fi
per=$((CLIENTS / PROCS))
: > "$dir/raw"
listeners=()
mkdir "$dir/ready"
for i in $(seq 2 "$PROCS"); do
  : > "$dir/raw.$i"
  FANOUT_ROLE=listen FANOUT_READY="$dir/ready" FANOUT_RAW="$dir/raw.$i" "$tool" "http://127.0.0.1:$port" "$per" "$ROUNDS" "$pid" &
  listeners+=($!)
done
FANOUT_TOTAL=$((per * PROCS)) FANOUT_READY="$dir/ready" FANOUT_LISTENERS=$((PROCS - 1)) FANOUT_RAW="$dir/raw" "$tool" "http://127.0.0.1:$port" "$per" "$ROUNDS" "$pid"
for l in "${listeners[@]}"; do wait "$l"; done
cat "$dir"/raw.* >> "$dir/raw"
python3 - "$dir/raw" "$PROCS" <<'PY'
import sys
v = sorted(float(x) for x in open(sys.argv[1]))
p = lambda q: v[min(len(v) - 1, round(q / 100 * (len(v) - 1)))]
print(f"  event's at → receipt (CLOCK_REALTIME), all {sys.argv[2]} processes, {len(v)} receipts: "
      f"p50 {p(50):.2f} ms, p99 {p(99):.2f} ms, max {v[-1]:.2f} ms")
PY
