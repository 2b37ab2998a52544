#!/usr/bin/env bash
# `ingestd replay` of plain NDJSON against CPython's json.loads over the same lines, as a ratio
# measured in the same run (absolute rates swing 2x between runs on a busy machine; a ratio of
# two programs timed in alternating rounds does not). Target: replay >= 10x CPython.
#
#   baseline: python3 -c 'for line in f: json.loads(line)["cost"]'   (f opened as text)
#   measured: ingestd replay FILE                                      (release build)
#
# Both are timed from outside, process start to exit, ROUNDS times each, alternating; the
# medians are compared. The input is the dev corpus repeated up to N lines, each repetition
# moved one year later (2026 -> 2027 -> ...), so that every event is counted: repeated as it is,
# the copies would be older than the rings' retention and take the cheaper too_old path.
#
# Usage: bash scripts/replay-ratio.sh      (also part of `make bench`)
# Environment: BENCH_INGESTD_BIN (default .build/release/ingestd, built first unless SKIP_BUILD=1),
#   BENCH_CORPUS (events.jsonl.gz), REPLAY_LINES (2000000), REPLAY_ROUNDS (3),
#   REPLAY_FILE (reuse this NDJSON file instead of building one), REPLAY_TARGET (10).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=${REPLAY_LINES:-2000000}
ROUNDS=${REPLAY_ROUNDS:-3}
TARGET=${REPLAY_TARGET:-10}

find_corpus() {
  local c
  for c in "${BENCH_CORPUS:-}" "$ROOT/../shared/data/cost-anomaly-dev/events.jsonl.gz" \
           "$ROOT/../../shared/data/cost-anomaly-dev/events.jsonl.gz" /work/shared/data/cost-anomaly-dev/events.jsonl.gz; do
    if [ -n "$c" ] && [ -r "$c" ]; then echo "$c"; return 0; fi
  done
  echo "replay-ratio: dev corpus not found; set BENCH_CORPUS to events.jsonl.gz" >&2
  return 1
}

if [ -z "${BENCH_INGESTD_BIN:-}" ]; then
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== swift build -c release --product ingestd"
    swift build -c release --product ingestd 2>&1 | tail -n 3
  fi
  BENCH_INGESTD_BIN="$ROOT/.build/release/ingestd"
fi
[ -x "$BENCH_INGESTD_BIN" ] || { echo "replay-ratio: $BENCH_INGESTD_BIN is not built" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-replay-ratio.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

FILE=${REPLAY_FILE:-}
if [ -z "$FILE" ]; then
  CORPUS=$(find_corpus)
  FILE="$WORK/events.ndjson"
  echo "== $N lines: $CORPUS repeated, one year later per repetition -> $FILE"
  gzip -dc "$CORPUS" > "$WORK/corpus.ndjson"
  PER=$(wc -l < "$WORK/corpus.ndjson")
  REPEATS=$(( (N + PER - 1) / PER ))
  for ((k = 0; k < REPEATS; k++)); do
    sed "s/\"timestamp\":\"2026-/\"timestamp\":\"$((2026 + k))-/" "$WORK/corpus.ndjson"
  done | { head -n "$N" > "$FILE"; cat > /dev/null; }  # drain: no SIGPIPE under pipefail
  rm -f "$WORK/corpus.ndjson"
fi

python3 - "$BENCH_INGESTD_BIN" "$FILE" "$ROUNDS" "$TARGET" <<'EOF'
import statistics, subprocess, sys, time

binary, path, rounds, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
baseline = 'import json, sys\nwith open(sys.argv[1], encoding="utf-8") as f:\n    for line in f: json.loads(line)["cost"]\n'
commands = {
    "cpython": [sys.executable, "-c", baseline, path],
    "ingestd": [binary, "replay", path],
}
with open(path, "rb") as f:
    lines = sum(1 for _ in f)  # also brings the file into the page cache for both
times = {name: [] for name in commands}
for r in range(1, rounds + 1):
    for name, command in commands.items():
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"replay-ratio: {' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        times[name].append(elapsed)
        summary = done.stderr.strip().splitlines()[-1] if name == "ingestd" and done.stderr.strip() else ""
        print(f"round {r}: {name:8s} {elapsed:7.3f} s  {lines / elapsed / 1e6:6.2f} M lines/s  {summary}")
        if name == "ingestd" and f"replayed {lines} events: {lines} counted" not in summary:
            sys.exit(f"replay-ratio: expected every one of the {lines} events counted: {summary}")
med = {name: statistics.median(t) for name, t in times.items()}
ratio = med["cpython"] / med["ingestd"]
verdict = "met" if ratio >= target else "MISSED"
print(f"replay-ratio: {lines} lines; median ingestd replay {med['ingestd']:.3f} s ({lines / med['ingestd'] / 1e6:.2f} M/s), "
      f"CPython json.loads {med['cpython']:.3f} s ({lines / med['cpython'] / 1e6:.2f} M/s); "
      f"ratio {ratio:.1f}x (target >= {target:g}x {verdict}; {rounds} alternating rounds)")
EOF
