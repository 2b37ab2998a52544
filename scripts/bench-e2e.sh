#!/usr/bin/env bash
# End-to-end numbers of the release binary against a real broker, on loopback only:
#
#   1. consume throughput: ingestd vs kcat on the same 6-partition topic in the same run
#      (N events = the dev corpus repeated; target ingestd >= 0.9 x kcat);
#   2. produce-to-visible latency p50/p99 under a steady 50,000 events/s (scripts/latency_probe.py).
#
# Tansu (in-memory storage) listens on 127.0.0.1:P1 and advertises 127.0.0.1:P2, where
# `ingestd kafka-compat-proxy` forwards to it (Debian's librdkafka 2.0.2, used by ingestd and
# kcat alike, cannot read Tansu's ApiVersions v3). Every process started here is stopped on exit;
# a watchdog ends the run after BENCH_TIMEOUT seconds whatever happens.
#
# Usage: bash scripts/bench-e2e.sh        (also the second half of `make bench`)
# Environment: BENCH_INGESTD_BIN (default .build/release/ingestd, built first unless SKIP_BUILD=1),
#   BENCH_CORPUS (the dev corpus events.jsonl.gz), BENCH_EVENTS (1000000), BENCH_ROUNDS (3 rounds
#   of kcat then ingestd over the same topic), BENCH_RATE (50000),
#   BENCH_DURATION (20 s of latency load), BENCH_TIMEOUT (900 s), BENCH_KEEP=1 keeps the work dir,
#   BENCH_DAEMON_ENV: extra NAME=VALUE words for both daemons, e.g.
#   BENCH_DAEMON_ENV=INGESTD_KAFKA_PROPERTY_FETCH_WAIT_MAX_MS=10 (latency vs librdkafka's 500 ms default).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N=${BENCH_EVENTS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-50000}
DURATION=${BENCH_DURATION:-20}
TIMEOUT=${BENCH_TIMEOUT:-900}
PARTITIONS=6

find_corpus() {
  local c
  for c in "${BENCH_CORPUS:-}" "$ROOT/../shared/data/cost-anomaly-dev/events.jsonl.gz" \
           "$ROOT/../../shared/data/cost-anomaly-dev/events.jsonl.gz" /work/shared/data/cost-anomaly-dev/events.jsonl.gz; do
    if [ -n "$c" ] && [ -r "$c" ]; then echo "$c"; return 0; fi
  done
  echo "bench-e2e: dev corpus not found; set BENCH_CORPUS to events.jsonl.gz" >&2
  return 1
}
CORPUS=$(find_corpus)

for tool in tansu kcat python3 gzip awk; do
  command -v "$tool" >/dev/null || { echo "bench-e2e: $tool not found (run make setup)" >&2; exit 1; }
done
python3 -c 'import confluent_kafka' 2>/dev/null || { echo "bench-e2e: python confluent-kafka missing (run make setup)" >&2; exit 1; }

if [ -z "${BENCH_INGESTD_BIN:-}" ]; then
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== swift build -c release --product ingestd"
    swift build -c release --product ingestd 2>&1 | tail -n 3
  fi
  BENCH_INGESTD_BIN="$ROOT/.build/release/ingestd"
fi
[ -x "$BENCH_INGESTD_BIN" ] || { echo "bench-e2e: $BENCH_INGESTD_BIN is not built" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-bench-e2e.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Stop what this script started, newest first, each by its own pid.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "bench-e2e: failed (status $status); logs in $WORK:" >&2
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  elif [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Watchdog: the whole run is bounded.
( sleep "$TIMEOUT" & s=$!
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  wait "$s"
  echo "bench-e2e: watchdog: still running after ${TIMEOUT}s, stopping" >&2
  kill -TERM $$ ) &
WATCHDOG=$!
PIDS+=("$WATCHDOG")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # port seconds what
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "bench-e2e: $3 did not listen on 127.0.0.1:$1 within $2 s" >&2; return 1; }
    sleep 0.1
  done
}
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

P1=$(free_port); P2=$(free_port); H2=$(free_port)
BOOT="127.0.0.1:$P2"
T_TP="bench-throughput"
T_LAT="bench-latency"
LOAD_START=$(load)

echo "== tansu broker on 127.0.0.1:$P1, compat proxy on $BOOT (work dir $WORK)"
tansu broker --listener-url "tcp://127.0.0.1:$P1" --advertised-listener-url "tcp://$BOOT" >"$WORK/tansu.log" 2>&1 &
PIDS+=($!)
wait_port "$P1" 30 tansu
"$BENCH_INGESTD_BIN" kafka-compat-proxy --listen "$BOOT" --upstream "127.0.0.1:$P1" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
wait_port "$P2" 30 "compat proxy"
for t in "$T_TP" "$T_LAT"; do
  timeout 60 tansu topic create "$t" --broker "tcp://127.0.0.1:$P1" --partitions "$PARTITIONS" >>"$WORK/tansu.log" 2>&1
done

# --- 1. consume throughput -------------------------------------------------------------------
echo "== $N events: the dev corpus ($CORPUS) repeated"
lines=$(gzip -dc "$CORPUS" | wc -l)
reps=$(( (N + lines - 1) / lines ))
{ for _ in $(seq 1 "$reps"); do gzip -dc "$CORPUS"; done; } | head -n "$N" >"$WORK/events.jsonl" || true
have=$(wc -l <"$WORK/events.jsonl")
[ "$have" -eq "$N" ] || { echo "bench-e2e: built $have events, wanted $N" >&2; exit 1; }

CMD_PRODUCE="ingestd produce events.jsonl --topic $T_TP --brokers $BOOT"
echo "== $CMD_PRODUCE"
PRODUCE_OUT=$(timeout 300 "$BENCH_INGESTD_BIN" produce "$WORK/events.jsonl" --topic "$T_TP" --brokers "$BOOT" 2>"$WORK/produce.log")
echo "$PRODUCE_OUT"
rm -f "$WORK/events.jsonl"

CMD_KCAT="kcat -C -b $BOOT -t $T_TP -e -o beginning -q | wc -l"
kcat_run() { # -> "count seconds"
  local t0 t1 count
  t0=$(now)
  count=$(timeout 300 kcat -C -b "$BOOT" -t "$T_TP" -e -o beginning -q 2>>"$WORK/kcat.log" | wc -l)
  t1=$(now)
  echo "$count $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

# The daemon, configured by environment only.
start_daemon() { # name http-port topic group extra-env...
  local name=$1 port=$2 topic=$3 group=$4
  shift 4
  mkdir -p "$WORK/$name"
  env INGESTD_KAFKA_BROKERS="$BOOT" \
      INGESTD_KAFKA_TOPICS="[{name: $topic, format: coststream}]" \
      INGESTD_KAFKA_GROUP_ID="$group" \
      INGESTD_HTTP_LISTEN="127.0.0.1:$port" \
      INGESTD_DATA_DIR="$WORK/$name" \
      INGESTD_KAFKA_PROPERTY_SESSION_TIMEOUT_MS=6000 \
      "$@" ${BENCH_DAEMON_ENV:-} "$BENCH_INGESTD_BIN" run >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  DAEMON_PID=$!
  wait_port "$port" 60 "ingestd $name"
}
stop_daemon() { # pid
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# One ingestd consume of the whole topic from the beginning (a fresh group each time). Polls
# /metrics every 10 ms: the clock starts at the first scrape that shows events counted (those
# events are left out of the numerator), so the group join (~3 s) is not measured. 1h x 72d keeps
# the corpus' 70 days, so the 2nd..7th copies of it are counted too and the counter reaches N.
ingestd_run() { # round -> one JSON line on stdout
  local port started
  port=$(free_port)
  started=$(now)
  start_daemon "throughput-$1" "$port" "$T_TP" "bench-throughput-$$-$1" \
    INGESTD_STORE_RESOLUTIONS='[{step: 1m, retention: 48h}, {step: 1h, retention: 72d}]'
  python3 - "$port" "$N" "$started" <<'PY' || true
import http.client, json, re, sys, time
port, n, started = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
events = re.compile(rb'^ingestd_events_total\{source="kafka"\} (\S+)', re.M)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
def scrape():
    global conn
    try:
        conn.request("GET", "/metrics"); body = conn.getresponse().read()
    except Exception:
        conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5); return None
    e = events.search(body)
    return int(float(e.group(1))) if e else 0
first = None; last = 0; deadline = time.time() + 300
while time.time() < deadline:
    c = scrape(); t = time.time()
    if c:
        last = c
        if first is None: first = (t, c)
        if c >= n: break
    time.sleep(0.01)
if first is None or last < n:
    print(json.dumps({"error": f"counter at {last} of {n}"})); sys.exit(1)
seconds = t - first[0]
out = {"join_s": round(first[0] - started, 2), "first_count": first[1], "seconds": round(seconds, 3),
       "rate": round((n - first[1]) / seconds) if seconds > 0 else None, "final": last}
print(json.dumps(out))
PY
  stop_daemon "$DAEMON_PID"
}

CMD_INGESTD="INGESTD_KAFKA_BROKERS=$BOOT INGESTD_KAFKA_TOPICS='[{name: $T_TP, format: coststream}]' INGESTD_HTTP_LISTEN=127.0.0.1:PORT INGESTD_DATA_DIR=\$(mktemp -d) INGESTD_KAFKA_PROPERTY_SESSION_TIMEOUT_MS=6000 INGESTD_STORE_RESOLUTIONS='[{step: 1m, retention: 48h}, {step: 1h, retention: 72d}]' [INGESTD_KAFKA_GROUP_ID=fresh] ingestd run"
# Rounds alternate kcat and ingestd on the same topic, so that a burst of load from elsewhere on
# this 2-core machine does not land on one side only.
KCAT_RESULTS=()
INGESTD_RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: $CMD_KCAT"
  read -r count secs < <(kcat_run)
  echo "kcat: $count messages in $secs s"
  [ "$count" -eq "$N" ] || { echo "bench-e2e: kcat read $count of $N" >&2; exit 1; }
  KCAT_RESULTS+=("$secs")
  echo "== round $round: $CMD_INGESTD"
  ingestd_run "$round" >"$WORK/ingestd-$round.json"  # not in a subshell: the daemon's pid stays in PIDS
  result=$(cat "$WORK/ingestd-$round.json")
  echo "ingestd: $result"
  case "$result" in *'"rate"'*) ;; *) echo "bench-e2e: ingestd did not count $N events: $result" >&2; exit 1 ;; esac
  INGESTD_RESULTS+=("$result")
done

# --- 2. produce-to-visible latency -----------------------------------------------------------
CMD_LAT="python3 scripts/latency_probe.py --brokers $BOOT --topic $T_LAT --http 127.0.0.1:$H2 --corpus CORPUS --rate $RATE --duration $DURATION"
echo "== ingestd run on $T_LAT (INGESTD_STORE_MAX_SERIES=200000), then $CMD_LAT"
start_daemon latency "$H2" "$T_LAT" "bench-latency-$$" INGESTD_STORE_MAX_SERIES=200000
LAT_PID=$DAEMON_PID
LOAD_LAT_BEFORE=$(load)
LAT_OUT=$(timeout $((DURATION + 120)) python3 "$ROOT/scripts/latency_probe.py" --brokers "$BOOT" --topic "$T_LAT" \
  --http "127.0.0.1:$H2" --corpus "$CORPUS" --rate "$RATE" --duration "$DURATION" 2>"$WORK/latency_probe.log") || {
  echo "$LAT_OUT"; echo "bench-e2e: latency_probe failed" >&2; exit 1; }
LOAD_LAT_AFTER=$(load)
echo "$LAT_OUT" | grep -v '^RESULT '
stop_daemon "$LAT_PID"
LOAD_END=$(load)

# --- summary ---------------------------------------------------------------------------------
python3 - "$N" "$(IFS=,; echo "${KCAT_RESULTS[*]}")" "$(printf '%s\n' "${INGESTD_RESULTS[@]}")" \
  "$(echo "$LAT_OUT" | sed -n 's/^RESULT //p')" "$RATE" \
  "$PRODUCE_OUT" "$LOAD_START" "$LOAD_LAT_BEFORE" "$LOAD_LAT_AFTER" "$LOAD_END" \
  "$CMD_PRODUCE" "$CMD_KCAT" "$CMD_INGESTD" "$CMD_LAT" <<'PY'
import json, os, sys
(n, kcat, ing, lat, rate, produce, l0, l1, l2, l3, c_prod, c_kcat, c_ing, c_lat) = sys.argv[1:15]
n = int(n)
kcat = [n / float(s) for s in kcat.split(",")]
ing = [json.loads(line) for line in ing.splitlines() if line.strip()]
lat = json.loads(lat)
rows = [("events produced", f"{n:,} ({produce.strip()})")]
for i, (k, r) in enumerate(zip(kcat, ing), 1):
    rows.append((f"round {i}: kcat consume", f"{k:,.0f} events/s ({n / k:.2f} s, process start to end of topic)"))
    rows.append((f"round {i}: ingestd consume", f"{r['rate']:,.0f} events/s ({r['seconds']:.2f} s for {n - r['first_count']:,} events after "
                                               f"the first scrape showing {r['first_count']:,}; join + first batch {r['join_s']:.1f} s, excluded)"))
def verdict(x):
    return "met" if x >= 0.9 else "MISSED by %.0f%%" % ((0.9 - x) / 0.9 * 100)
def median(v):
    v = sorted(v); m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2
med_k = median(kcat); med_i = median([r["rate"] for r in ing])
best_k = max(kcat); best_i = max(r["rate"] for r in ing)
rows.append(("ingestd / kcat", f"{med_i / med_k:.2f} median vs median ({med_i:,.0f} vs {med_k:,.0f} events/s; best vs best {best_i / best_k:.2f}) "
                               f"(target >= 0.90: {verdict(med_i / med_k)})"))
rows += [
    ("latency load produced", f"{lat['rate']:,.0f} events/s for {lat['seconds']:.1f} s (target {float(rate):,.0f}/s)"),
    ("produce-to-visible latency", f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms "
                                   f"({lat['seen']} of {lat['probes']} probes seen, {lat['missing']} missing)"),
    ("extra daemon environment", os.environ.get("BENCH_DAEMON_ENV") or "(none: librdkafka defaults, fetch.wait.max.ms 500)"),
    ("load average (1/5/15 min)", f"start {l0}; before latency {l1}; after latency {l2}; end {l3}"),
]
print()
print("=" * 100)
print("ingestd end-to-end benchmark (loopback, Tansu memory storage behind the compat proxy)")
print("=" * 100)
w = max(len(r[0]) for r in rows)
for k, v in rows:
    print(f"{k:<{w}}  {v}")
print()
print("commands:")
for c in (c_prod, c_kcat, c_ing, c_lat):
    print("  " + c)
PY
