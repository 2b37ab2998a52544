#!/usr/bin/env python3
"""Produce-to-visible latency of a running ingestd, under a steady load (used by bench-e2e.sh).

Produces a steady stream of cost events (default 50,000/s, the dev corpus lines with the
timestamp replaced by the current time) into a topic that an `ingestd run` consumes. Every
~100 ms it also produces one probe event for a fresh account (`probe-<run>-<n>`) with a known
cost, and a poller thread asks the daemon

    GET /v1/series?match={account="probe-<run>-<n>"}&window=1m&by=&at=<probe time in ms>

until the probe's cost is there. latency = first visible answer - just before the produce call.
`at` pins the 1-minute window to the probe's own minute, so a probe sent at hh:mm:59.9 is not
missed when the answer comes in the next minute. Every probe is a new series: the daemon's
store.max_series must leave room for duration / interval of them.

Loopback only: --brokers and --http must be 127.0.0.1 / localhost addresses. Bounded: stops
after --duration seconds plus --drain seconds for the last probes, whatever happens.
Prints one summary block; exit status 1 when no probe was seen at all.
"""
import argparse
import gzip
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from confluent_kafka import Producer


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", required=True, help="bootstrap HOST:PORT (loopback)")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--http", required=True, help="ingestd HTTP address, HOST:PORT (loopback)")
    ap.add_argument("--corpus", required=True, help="NDJSON(.gz) whose lines are the load's templates")
    ap.add_argument("--rate", type=float, default=50_000, help="load events per second (default 50000)")
    ap.add_argument("--duration", type=float, default=20, help="seconds of load (default 20)")
    ap.add_argument("--probe-interval", type=float, default=0.1, help="seconds between probes (default 0.1)")
    ap.add_argument("--drain", type=float, default=10, help="seconds to wait for the last probes (default 10)")
    ap.add_argument("--warmup-timeout", type=float, default=60, help="seconds to wait for the first probe (consumer group join)")
    ap.add_argument("--templates", type=int, default=20_000, help="corpus lines used as templates")
    ap.add_argument("--poll-sleep", type=float, default=0.002, help="seconds between visibility polls")
    return ap.parse_args()


def loopback(hostport):
    host = hostport.rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "[::1]") or host.startswith("127.")


def load_templates(path, limit):
    """(prefix, suffix, key) per line: the line around its "timestamp" value."""
    opener = gzip.open if path.endswith(".gz") else open
    out = []
    with opener(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            event = json.loads(line)
            ts = event["timestamp"].encode()
            at = line.index(b'"timestamp":"' + ts + b'"') + len(b'"timestamp":"')
            out.append((line[:at], line[at + len(ts):], str(event["accountId"]).encode()))
            if len(out) >= limit:
                break
    return out


def iso_now(t):
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Prober:
    """Produces probes and polls ingestd until each one is visible."""

    def __init__(self, producer, topic, http_addr, run_id, poll_sleep):
        self.producer = producer
        self.topic = topic
        host, port = http_addr.rsplit(":", 1)
        self.conn_args = (host, int(port))
        self.run_id = run_id
        self.poll_sleep = poll_sleep
        self.lock = threading.Lock()
        self.pending = {}      # account -> (sent_at, event_ms, cost)
        self.latencies = []    # seconds, in probe order of visibility
        self.sent = 0
        self.polls = 0
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll_loop, daemon=True)

    def send(self, n):
        account = f"probe-{self.run_id}-{n}"
        cost = 1.0 + (n % 97) / 100  # a known, exact-in-binary-enough amount
        now = time.time()
        event_ms = int(now * 1000)
        value = json.dumps({
            "accountId": account, "service": "LatencyProbe", "region": "us-east-1",
            "resourceId": f"probe-{n}", "cost": cost, "currency": "USD", "timestamp": iso_now(now),
        }, separators=(",", ":")).encode()
        with self.lock:
            self.pending[account] = (time.monotonic(), event_ms, cost)
            self.sent += 1
        self.producer.produce(self.topic, value=value, key=account.encode())
        self.producer.poll(0)
        return account

    def _query(self, conn, account, event_ms):
        match = '{account="%s"}' % account
        path = "/v1/series?" + urllib.parse.urlencode({"match": match, "window": "1m", "by": "", "at": str(event_ms)})
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
        rows = json.loads(body).get("series", [])
        return sum(r.get("sum", 0) for r in rows), sum(r.get("count", 0) for r in rows)

    def _poll_loop(self):
        conn = http.client.HTTPConnection(*self.conn_args, timeout=5)
        while not self.stop.is_set():
            with self.lock:
                items = list(self.pending.items())
            if not items:
                time.sleep(self.poll_sleep)
                continue
            for account, (sent_at, event_ms, cost) in items:
                try:
                    total, count = self._query(conn, account, event_ms)
                    self.polls += 1
                except Exception:  # noqa: BLE001 - count, reconnect, go on
                    self.errors += 1
                    conn.close()
                    conn = http.client.HTTPConnection(*self.conn_args, timeout=5)
                    time.sleep(0.05)
                    continue
                if count >= 1 and abs(total - cost) < 1e-6:
                    seen = time.monotonic()
                    with self.lock:
                        self.pending.pop(account, None)
                        self.latencies.append(seen - sent_at)
            time.sleep(self.poll_sleep)
        conn.close()

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join(10)


def pct(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def main():
    args = parse_args()
    sys.setswitchinterval(0.001)  # the poller thread must not wait 5 ms for the GIL
    for addr in (args.brokers, args.http):
        if not loopback(addr):
            sys.exit(f"latency_probe: {addr} is not a loopback address; refusing")
    templates = load_templates(args.corpus, args.templates)
    producer = Producer({
        "bootstrap.servers": args.brokers,
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "compression.type": "none",
    })
    run_id = f"{int(time.time()) % 100000}"
    prober = Prober(producer, args.topic, args.http, run_id, args.poll_sleep)
    prober.start()

    # Warm-up: the daemon must have joined the group and own the partitions before timing.
    t0 = time.monotonic()
    warm = prober.send(0)
    while time.monotonic() - t0 < args.warmup_timeout:
        producer.poll(0.01)
        with prober.lock:
            if warm not in prober.pending:
                break
    with prober.lock:
        if warm in prober.pending:
            prober.finish()
            sys.exit(f"latency_probe: the warm-up probe was not visible within {args.warmup_timeout:.0f}s")
        warm_latency = prober.latencies[-1]
        prober.latencies.clear()
    print(f"warm-up probe visible after {warm_latency:.2f}s (includes the consumer group join)", flush=True)

    # Steady load with probes.
    produced = 0
    probes = 0
    buffer_full = 0
    start = time.monotonic()
    end = start + args.duration
    next_probe = start
    second_ts = None
    second_bytes = b""
    n_templates = len(templates)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_probe:
            probes += 1
            prober.send(probes)
            next_probe += args.probe_interval
        due = int((now - start) * args.rate)
        wall = time.time()
        sec = int(wall)
        if sec != second_ts:
            second_ts = sec
            second_bytes = datetime.fromtimestamp(sec, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        while produced < due:
            prefix, suffix, key = templates[produced % n_templates]
            try:
                producer.produce(args.topic, value=prefix + second_bytes + suffix, key=key)
            except BufferError:
                buffer_full += 1
                producer.poll(0.001)
                continue
            produced += 1
            if produced % 1000 == 0:
                producer.poll(0)
                if time.monotonic() >= next_probe:
                    break  # keep the probe cadence even while catching up
        producer.poll(0)
        time.sleep(0.0005)
    elapsed = time.monotonic() - start
    left = producer.flush(30)

    # Let the last probes arrive.
    drain_end = time.monotonic() + args.drain
    while time.monotonic() < drain_end:
        with prober.lock:
            if not prober.pending:
                break
        time.sleep(0.01)
    prober.finish()
    with prober.lock:
        lat = sorted(prober.latencies)
        missing = len(prober.pending)

    rate = produced / elapsed if elapsed > 0 else 0
    print(f"load: {produced} events in {elapsed:.1f}s = {rate:,.0f} events/s produced (target {args.rate:,.0f}/s); "
          f"{left} not delivered at flush; producer queue full {buffer_full} times")
    print(f"probes: {probes} sent, {len(lat)} seen, {missing} not seen within {args.drain:.0f}s after the load; "
          f"{prober.polls} polls, {prober.errors} poll errors")
    if lat:
        print("produce-to-visible latency: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms, mean %.1f ms"
              % (pct(lat, 50) * 1e3, pct(lat, 90) * 1e3, pct(lat, 99) * 1e3, lat[-1] * 1e3, statistics.mean(lat) * 1e3))
    # One machine-readable line for bench-e2e.sh.
    print("RESULT " + json.dumps({
        "produced": produced, "seconds": round(elapsed, 3), "rate": round(rate),
        "probes": probes, "seen": len(lat), "missing": missing,
        "p50_ms": round(pct(lat, 50) * 1e3, 2) if lat else None,
        "p99_ms": round(pct(lat, 99) * 1e3, 2) if lat else None,
        "max_ms": round(lat[-1] * 1e3, 2) if lat else None,
    }), flush=True)
    return 0 if lat else 1


if __name__ == "__main__":
    sys.exit(main())
