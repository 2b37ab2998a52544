#!/usr/bin/env bash
# `make demo`: an alert from a spike to a webhook in under a minute, on this machine alone.
#
# Starts scripts/webhook-receiver.py on 127.0.0.1:9095, the daemon with the embedded broker and
# the rules rules/*.yaml + rules/demo/*.yaml (the spike rule and the route to that receiver), in
# a throw-away data dir; then streams scripts/demo-events.py's six hours of spend (ending in a
# spike) with `ingestd produce --shift-to-now`, and shows what the receiver gets. Ctrl-C stops
# everything and deletes the data dir (DEMO_KEEP=1 keeps it).
#
# Environment: DEMO_BIN (default .build/release/ingestd, which `make demo` builds),
# INGESTD_HTTP_LISTEN (127.0.0.1:9466), INGESTD_KAFKA_EMBEDDED_PORT (19092),
# DEMO_WEBHOOK_SECRET (default: a random one), DEMO_RULES_FILES (a YAML list of globs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BIN=${DEMO_BIN:-$ROOT/.build/release/ingestd}
HTTP_LISTEN=${INGESTD_HTTP_LISTEN:-127.0.0.1:9466}
BROKER_PORT=${INGESTD_KAFKA_EMBEDDED_PORT:-19092}
RECEIVER_PORT=9095  # the url in rules/demo/notify.yaml
RULES=${DEMO_RULES_FILES:-'["rules/*.yaml", "rules/demo/*.yaml"]'}
API="http://$HTTP_LISTEN"

if [[ ! -x $BIN ]]; then
    echo "demo: $BIN not found: run \`make demo\` (it builds it) or set DEMO_BIN" >&2
    exit 1
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$RECEIVER_PORT" "${HTTP_LISTEN##*:}" "$BROKER_PORT"; do
    if listening "$port"; then
        echo "demo: 127.0.0.1:$port is in use (is \`make run\` or another demo running?): stop it first" >&2
        exit 1
    fi
done

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-demo.XXXXXX")
export DEMO_WEBHOOK_SECRET=${DEMO_WEBHOOK_SECRET:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}
RECEIVER_PID= DAEMON_PID= TAIL_PID=

cleanup() {
    local status=$?
    trap '' INT TERM
    echo
    echo "demo: stopping"
    [[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null || true
    if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 1 250); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    [[ -n $RECEIVER_PID ]] && kill "$RECEIVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    if [[ ${DEMO_KEEP:-0} == 1 ]]; then
        echo "demo: kept $DEMO_DIR"
    else
        rm -rf "$DEMO_DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: data, logs and events in $DEMO_DIR"

# Children run in their own sessions (setsid): Ctrl-C reaches only this script, whose trap stops
# the daemon with SIGTERM so that it shuts its broker down in order.
setsid python3 -u scripts/webhook-receiver.py --port "$RECEIVER_PORT" >"$DEMO_DIR/receiver.log" 2>&1 &
RECEIVER_PID=$!

INGESTD_DATA_DIR="$DEMO_DIR/data" \
INGESTD_RULES_FILES="$RULES" \
INGESTD_HTTP_LISTEN="$HTTP_LISTEN" \
INGESTD_KAFKA_EMBEDDED_BROKER=true \
INGESTD_KAFKA_EMBEDDED_PORT="$BROKER_PORT" \
    setsid "$BIN" run --config etc/ingestd.yaml >"$DEMO_DIR/ingestd.log" 2>&1 &
DAEMON_PID=$!

echo "demo: waiting for the daemon and its embedded broker to be ready (/readyz)"
for i in $(seq 1 180); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
        echo "demo: ingestd exited; the end of its log:" >&2
        tail -n 20 "$DEMO_DIR/ingestd.log" >&2
        exit 1
    fi
    if ! kill -0 "$RECEIVER_PID" 2>/dev/null; then
        echo "demo: the webhook receiver exited:" >&2
        cat "$DEMO_DIR/receiver.log" >&2
        exit 1
    fi
    if curl -fsS -o /dev/null "$API/readyz" 2>/dev/null; then break; fi
    if (( i == 180 )); then
        echo "demo: not ready after 90 s; the end of the log:" >&2
        tail -n 20 "$DEMO_DIR/ingestd.log" >&2
        exit 1
    fi
    sleep 0.5
done

python3 scripts/demo-events.py >"$DEMO_DIR/events.ndjson"
"$BIN" produce "$DEMO_DIR/events.ndjson" --topic cost-events --brokers "127.0.0.1:$BROKER_PORT" --shift-to-now

cat <<EOF

demo: the spike is in; rules/demo/spike.yaml is evaluated every 5 s and the route waits 5 s
      (group_wait) before the first notification. Meanwhile:
        curl $API/v1/alerts              # the alert (firing)
        curl $API/v1/notifications       # its delivery receipt
        curl '$API/v1/series?window=5m&by=account'
        daemon log: $DEMO_DIR/ingestd.log
      In a few minutes the spike leaves the 5-minute window: a RESOLVED notification follows.
      Ctrl-C stops everything.

--- what the webhook receiver on 127.0.0.1:$RECEIVER_PORT gets ---
EOF

tail -n +1 -f "$DEMO_DIR/receiver.log" &
TAIL_PID=$!
while kill -0 "$DAEMON_PID" 2>/dev/null; do sleep 1; done
echo "demo: ingestd exited unexpectedly; the end of its log:" >&2
tail -n 20 "$DEMO_DIR/ingestd.log" >&2
exit 1
