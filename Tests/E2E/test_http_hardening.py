"""Issue 12, the HTTP side: numbers out of range are 400s (never a trap), totals that overflow
are refused (never `{}`), past instants read the ring that still holds them, gzip bodies are
decoded within the size limit, and an Idempotency-Key makes a retried POST count once."""
import gzip
import json
import signal
import subprocess
import threading
import time
import urllib.parse

from conftest import Daemon, http, ingestd_bin


def event(account="111", cost=1.0, ts="2026-11-26T10:00:00Z", service="AmazonEC2"):
    return {"accountId": account, "service": service, "region": "us-east-1", "resourceId": "i-1",
            "cost": cost, "currency": "USD", "timestamp": ts}


def ndjson(events):
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + "Z"


def alive(d):
    assert d.proc.poll() is None, f"ingestd died: {d.log_tail()}"
    assert d.get("/healthz")[0] == 200


# Defect 1 ---------------------------------------------------------------------------------------

def test_extreme_query_numbers_are_400_naming_the_range(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    assert d.post("/v1/events", ndjson([event()]))[0] == 200
    cases = {
        "window=1h&offset=10000000000000000s": "offset",
        "window=1h&offset=99999999999999999999s": "offset",
        "window=10000000000000000s": "window",
        "window=1h&step=10000000000000000s": "step",
        "window=1h&at=9223372036854775807": "at",
        "window=1h&at=-9223372036854775808": "at",
        "window=1h&at=99999999999999999999999": "at",
        "window=1h&at=-1": "at",
        "window=1h&at=0000-01-01T00:00:00Z": "at",
        "window=mtd&offset=36501d": "offset",
        "window=0s": "window",
    }
    for query, name in cases.items():
        status, raw = d.get("/v1/series?" + query)
        assert status == 400, (query, status, raw)
        error = json.loads(raw)["error"]
        assert error.startswith(name), (query, error)
        assert "100 years" in error or "9999-12-31" in error, (query, error)
        alive(d)
    # The edges themselves are fine.
    for query in ["window=1h&at=0", "window=1h&at=253402300799999", "window=36500d&step=1h", "window=1h&offset=36500d"]:
        status, raw = d.get("/v1/series?" + query)
        assert status in (200, 400), (query, raw)  # 400 only for "no resolution holds it"
        alive(d)
    status, raw = d.get("/v1/series?window=1h&at=253402300799999&by=")
    assert status == 200 and json.loads(raw)["at"] == "9999-12-31T23:59:59Z", raw


def test_config_numbers_out_of_range_are_errors_with_their_position(tmp_path):
    cfg = tmp_path / "big.yaml"
    cfg.write_text(
        "http:\n  max_body_bytes: 9999999999999999GiB\n"
        "store:\n  max_future_skew: 100000000000000000s\n"
        "  resolutions:\n    - step: 1m\n      retention: 10000000000000000s\n"
        "    - step: 1s\n      retention: 30d\n"
        "snapshot:\n  interval: 10000000000000000s\n"
        "shutdown:\n  grace: 9999999999999s\n")
    run = subprocess.run([ingestd_bin(), "run", "--config", str(cfg)], capture_output=True, timeout=30)
    err = run.stderr.decode()
    assert run.returncode == 78, (run.returncode, err)
    assert f"{cfg}:2:19: http.max_body_bytes must be at most 1GiB" in err, err
    assert f"{cfg}:4:20: store.max_future_skew must be at most" in err, err
    assert f"{cfg}:7:18: store.resolutions[].retention must be at most 36500d" in err, err
    assert f"{cfg}:8:7: a resolution needs step ≤ 366d, retention ≤ 36500d and at most 100000 buckets" in err, err
    assert f"{cfg}:11:13: snapshot.interval must be at most 1d" in err, err
    assert f"{cfg}:13:10: shutdown.grace must be at most 1d" in err, err


# Defect 2 ---------------------------------------------------------------------------------------

def test_a_total_beyond_double_range_is_422_not_an_empty_200(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    status, raw = d.post("/v1/events", ndjson([event(account="1", cost=1e308), event(account="2", cost=1e308)]))
    assert status == 200 and json.loads(raw)["accepted"] == 2, raw
    at = "2026-11-26T10:30:00Z"
    # Each series is finite on its own ...
    rows = d.series(window="1h", at=at, by="account")["series"]
    assert [r["sum"] for r in rows] == [1e308, 1e308]
    # ... their total is not: a 422 that says so, never 200 with {}.
    for extra in ["", "&agg=max&points=true", "&agg=avg"]:
        status, raw = d.get(f"/v1/series?window=1h&by=&at={at}{extra}")
        assert status == 422, (extra, status, raw)
        assert "1.8e308" in json.loads(raw)["error"], raw
    alive(d)


# Defect 5 ---------------------------------------------------------------------------------------

def test_a_past_instant_reads_the_ring_that_still_holds_it(workdir, daemons):
    now = int(time.time() * 1000)
    old = now - 72 * 3600 * 1000
    d = Daemon(workdir)
    daemons.append(d.start())
    assert d.post("/v1/events", ndjson([event(cost=5, ts=iso(old))]))[0] == 200
    assert d.post("/v1/events", ndjson([event(cost=1, ts=iso(now))]))[0] == 200
    # The minute ring's head is now: 72 h ago is gone from it, the hour ring still has it.
    at = old // 1000 * 1000
    answer = d.series(window="1h", at=str(at), by="")
    assert answer["resolution"] == "1h", answer
    assert answer["series"][0]["sum"] == 5, answer
    assert d.series(window="1h", at=str(at), by="", step="1h")["series"][0]["sum"] == 5


def test_a_ring_whose_head_is_old_still_answers_at_its_resolution(workdir, daemons):
    now = int(time.time() * 1000)
    old = now - 72 * 3600 * 1000 - 30 * 60 * 1000
    d = Daemon(workdir)
    daemons.append(d.start())
    assert d.post("/v1/events", ndjson([event(cost=5, ts=iso(old))]))[0] == 200
    # Nothing newer arrived: the minute ring still holds 72 h ago, even though `at` is now.
    answer = d.series(window="1h", offset="72h", by="")
    assert answer["resolution"] == "1m", answer
    assert answer["series"][0]["sum"] == 5, answer


# Defect 8 ---------------------------------------------------------------------------------------

def post(d, body, headers):
    return http("POST", d.url + "/v1/events", body, {"Content-Type": "application/x-ndjson", **headers})


def total(d):
    answer = d.series(window="1h", at="2026-11-26T10:30:00Z", by="")
    return answer["series"][0]["sum"] if answer["series"] else 0


def test_gzip_bodies_are_decoded_within_the_size_limit(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d", "INGESTD_HTTP_MAX_BODY_BYTES": "64KiB"})
    daemons.append(d.start())
    body = ndjson([event(cost=2), event(cost=3)])
    status, raw = post(d, gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(raw)["accepted"] == 2, raw
    status, raw = post(d, body, {"Content-Encoding": "identity"})
    assert status == 200 and json.loads(raw)["accepted"] == 2, raw
    # Two gzip members are one gzip body (as `gzip -d` reads them).
    status, raw = post(d, gzip.compress(ndjson([event(cost=4)])) + gzip.compress(ndjson([event(cost=5)])), {"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(raw)["accepted"] == 2, raw
    assert total(d) == 2 + 3 + 2 + 3 + 4 + 5

    # Claims gzip but is not, is cut short, or has bytes after its end: 400, nothing counted.
    for bad in [body, gzip.compress(body)[:-6], gzip.compress(body) + b"junk", b""]:
        status, raw = post(d, bad, {"Content-Encoding": "gzip"})
        assert status == 400, (bad[:20], status, raw)
        assert "Content-Encoding" in json.loads(raw)["error"]
    # Other encodings: 415.
    for enc in ["br", "deflate", "gzip, zstd"]:
        status, raw = post(d, body, {"Content-Encoding": enc})
        assert status == 415, (enc, raw)
        assert "gzip" in json.loads(raw)["error"]
    # A zip bomb: 4 MiB of zeros in a few KiB, over the 64 KiB limit once inflated.
    bomb = gzip.compress(b"0" * (4 << 20), 9)
    assert len(bomb) < 64 << 10
    status, raw = post(d, bomb, {"Content-Encoding": "gzip"})
    assert status == 413 and "max_body_bytes" in json.loads(raw)["error"], raw
    assert total(d) == 19
    alive(d)


# Defect 11 --------------------------------------------------------------------------------------

def events_total(d):
    for line in d.metrics().splitlines():
        if line.startswith('ingestd_events_total{source="http"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_retried_post_with_an_idempotency_key_counts_once_across_restarts(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d", "INGESTD_SNAPSHOT_INTERVAL": "1h"})
    daemons.append(d.start())
    body = ndjson([event(cost=2), event(cost=-1), event(cost=3)])
    status, first = post(d, body, {"Idempotency-Key": "batch-1"})
    assert status == 200 and json.loads(first)["accepted"] == 2, first
    # The response was "lost": the client retries, then the daemon is killed and retried again.
    assert post(d, body, {"Idempotency-Key": "batch-1"}) == (200, first)
    d.kill9()
    d.start()
    assert post(d, body, {"Idempotency-Key": "batch-1"}) == (200, first)
    assert total(d) == 5
    assert events_total(d) == 0  # a fresh process: the repeat counted nothing
    # A clean stop snapshots and truncates the journal; the key outlives that.
    d.stop()
    d.start()
    assert post(d, body, {"Idempotency-Key": "batch-1"}) == (200, first)
    assert total(d) == 5 and events_total(d) == 0
    with d.db() as db:
        assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM http_idempotency_keys").fetchone()[0] == 1

    # The same key for another body: 422, nothing counted. A batch whose every event was
    # rejected is answered again with its 422 and quarantines nothing more.
    status, raw = post(d, ndjson([event(cost=7)]), {"Idempotency-Key": "batch-1"})
    assert status == 422 and "different body" in json.loads(raw)["error"], raw
    bad = ndjson([event(cost=-5)])
    status, rejected = post(d, bad, {"Idempotency-Key": "batch-2"})
    assert status == 422
    assert post(d, bad, {"Idempotency-Key": "batch-2"}) == (422, rejected)
    with d.db() as db:
        assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 2
    # Without a key, a resend counts again (the documented default).
    assert post(d, body, {})[0] == 200
    assert total(d) == 10

    # Malformed keys: 400.
    for key in ["", "x" * 256, "caf\u00e9".encode().decode("latin-1")]:
        status, raw = post(d, body, {"Idempotency-Key": key})
        assert status == 400, (key, raw)
        assert "Idempotency-Key" in json.loads(raw)["error"]
    assert total(d) == 10


def test_concurrent_requests_with_one_key_apply_once(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    body = ndjson([event(cost=1)] * 50)
    results = []
    def send():
        results.append(post(d, body, {"Idempotency-Key": "same"}))
    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1 and results[0][0] == 200, results
    assert total(d) == 50
    assert events_total(d) == 50
