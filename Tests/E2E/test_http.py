"""The HTTP API of a running daemon (Kafka disabled): ingest, errors, queries, limits,
metrics, durability of accepted events and SIGTERM."""
import json
import signal

from conftest import Daemon, wait_for


def event(account="111", service="AmazonEC2", region="us-east-1", cost=1.0, ts="2026-11-26T10:00:00Z", **extra):
    e = {"accountId": account, "service": service, "region": region, "resourceId": "i-1",
         "cost": cost, "currency": "USD", "timestamp": ts, "metadata": {"team": "web"}}
    e.update(extra)
    return e


def ndjson(events):
    return b"\n".join(json.dumps(e).encode() if isinstance(e, dict) else e for e in events) + b"\n"


def test_post_events_reports_per_event_errors_by_index(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    body = ndjson([event(cost=2.5), b"{not json", event(cost=-1), event(currency="EUR"), event(cost="3.25")])
    status, raw = d.post("/v1/events", body)
    report = json.loads(raw)
    assert status == 200, raw
    assert report["accepted"] == 2 and report["rejected"] == 3
    assert [(e["index"], e["reason"]) for e in report["errors"]] == [
        (1, "invalid_json"), (2, "negative_cost"), (3, "unknown_currency")]
    # A JSON array works the same way.
    status, raw = d.post("/v1/events", json.dumps([event(cost=4), {"service": "x"}]).encode(), "application/json")
    assert status == 200 and json.loads(raw)["accepted"] == 1
    assert json.loads(raw)["errors"][0]["reason"] == "missing_field"
    # Everything rejected: 422. Not a batch at all: 400.
    status, raw = d.post("/v1/events", b"[1, 2")
    assert status == 400, raw
    status, raw = d.post("/v1/events", ndjson([b"garbage"]))
    assert status == 422, raw

    # The accepted 2.5 + 3.25 + 4 are in the windows.
    answer = d.series(match='{account="111"}', window="1h", at="2026-11-26T10:30:00Z", by="account")
    assert answer["series"] == [{"labels": {"account": "111", "currency": "USD"}, "value": 9.75, "sum": 9.75, "count": 3}]

    # The bad ones are in the quarantine with their position and reason.
    with d.db() as db:
        rows = db.execute("SELECT source, position, reason FROM quarantine ORDER BY id").fetchall()
    assert ("http", "request 1 index 1", "invalid_json") in rows
    assert ("http", "request 1 index 2", "negative_cost") in rows
    assert ("http", "request 2 index 1", "missing_field") in rows
    assert len(rows) == 5

    metrics = d.metrics()
    assert 'ingestd_events_total{source="http"} 3' in metrics
    assert 'ingestd_events_bad_total{reason="invalid_json",source="http"} 2' in metrics or \
           'ingestd_events_bad_total{source="http",reason="invalid_json"} 2' in metrics, metrics


def test_oversized_body_is_refused_with_413(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_HTTP_MAX_BODY_BYTES": "1KiB", "INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    status, raw = d.post("/v1/events", ndjson([event()] * 20))
    assert status == 413, raw
    assert "max_body_bytes" in json.loads(raw)["error"]
    status, _ = d.post("/v1/events", ndjson([event()]))
    assert status == 200  # the daemon keeps serving


def test_oversized_event_is_quarantined(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_INGEST_MAX_EVENT_BYTES": "512", "INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    big = event(metadata={"blob": "x" * 2000})
    status, raw = d.post("/v1/events", ndjson([big, event()]))
    assert status == 200
    assert json.loads(raw)["errors"][0]["reason"] == "oversized"
    with d.db() as db:
        (reason, stored, original), = db.execute("SELECT reason, length(payload), payload_bytes FROM quarantine").fetchall()
    assert reason == "oversized" and original > 2000 and stored <= original


def test_series_queries_offsets_grouping_and_errors(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d", "INGESTD_STORE_LABELS": "[team]"})
    daemons.append(d.start())
    d.post("/v1/events", ndjson([
        event(account="1", cost=10, ts="2026-11-26T10:05:00Z"),
        event(account="1", service="AmazonS3", cost=1, ts="2026-11-26T10:06:00Z"),
        event(account="2", cost=5, ts="2026-11-26T10:07:00Z"),
        event(account="1", cost=7, ts="2026-11-19T10:05:00Z"),  # the same hour a week earlier
    ]))
    at = "2026-11-26T10:30:00Z"
    now = d.series(window="1h", at=at, by="account")
    assert [(r["labels"]["account"], r["value"]) for r in now["series"]] == [("1", 11), ("2", 5)]
    week = d.series(match='{account="1",service="AmazonEC2"}', window="1h", offset="7d", at=at, by="")
    assert week["series"][0]["value"] == 7
    assert week["resolution"] == "1h"  # 7 days back is beyond the 48h minute ring
    team = d.series(match='{team="web",service=~"Amazon(EC2|S3)"}', window="1h", at=at, by="team")
    assert team["series"] == [{"labels": {"team": "web", "currency": "USD"}, "value": 16, "sum": 16, "count": 3}]
    mtd = d.series(window="mtd", at=at, by="")
    assert mtd["series"][0]["value"] == 23 and mtd["start"] == "2026-11-01T00:00:00Z"
    for bad in ["window=1h&match={account", "window=90s", "window=1h&agg=median", "match=x", "window=1h&by=nolabel"]:
        status, raw = d.get("/v1/series?" + bad + "&at=" + at)
        assert status == 400, (bad, raw)
        assert json.loads(raw)["error"]


def test_accepted_events_survive_kill_9_and_sigterm_exits_0(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d", "INGESTD_SNAPSHOT_INTERVAL": "1h"})
    daemons.append(d.start())
    for i in range(5):
        status, _ = d.post("/v1/events", ndjson([event(cost=1.0 + i)]))
        assert status == 200
    d.kill9()  # no snapshot was taken (1h interval): the journal alone must bring them back
    d.start()
    total = lambda: d.series(window="1h", at="2026-11-26T10:30:00Z", by="")["series"][0]["value"]
    assert total() == 15
    d.post("/v1/events", ndjson([event(cost=100)]))
    d.signal(signal.SIGTERM)
    assert d.proc.wait(30) == 0, d.log_tail()
    d.start()  # from the shutdown snapshot (journal truncated by it): still counted once
    assert total() == 115
    with d.db() as db:
        assert db.execute("SELECT count(*) FROM http_journal").fetchone()[0] == 0
    assert d.stop() == 0


def test_bad_config_is_an_error_naming_the_position(workdir, tmp_path):
    import subprocess
    from conftest import ingestd_bin
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("store:\n  max_seris: 10\n  resolutions:\n    - step: 1m\n      retention: 5x\nhttp:\n  listen: nowhere\n")
    run = subprocess.run([ingestd_bin(), "run", "--config", str(cfg)], capture_output=True, timeout=30)
    assert run.returncode == 78
    err = run.stderr.decode()
    assert f"{cfg}:2:3: unknown key \"store.max_seris\" (did you mean \"max_series\"?)" in err, err
    assert f"{cfg}:5:18:" in err and "invalid duration" in err, err
    assert f"{cfg}:7:11: http.listen must be HOST:PORT" in err, err
    run = subprocess.run([ingestd_bin(), "run"], capture_output=True, timeout=30, env={"INGESTD_STORE_MAX_SERIES": "-3", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 78 and "environment variable INGESTD_STORE_MAX_SERIES" in run.stderr.decode()


def test_post_events_in_focus_and_cur_shapes(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d"})
    daemons.append(d.start())
    focus = {"SubAccountId": "333", "ServiceName": "Amazon EC2", "RegionId": "eu-west-1", "ResourceId": "i-9",
             "BilledCost": "12.5", "BillingCurrency": "USD", "ChargePeriodStart": "2026-11-26T10:00:00Z",
             "ChargeCategory": "Usage"}
    credit = dict(focus, BilledCost=-2.5, ChargeCategory="Credit")
    status, raw = d.post("/v1/events?format=focus", ndjson([focus, credit]))
    assert status == 200 and json.loads(raw)["accepted"] == 2, raw
    cur = {"lineItem/UsageAccountId": "444", "lineItem/ProductCode": "AmazonS3", "product/region": "us-east-1",
           "lineItem/UnblendedCost": 3.0, "lineItem/UsageStartDate": "2026-11-26T10:01:00Z"}
    status, raw = d.post("/v1/events?format=cur", ndjson([cur]))
    assert status == 200 and json.loads(raw)["accepted"] == 1, raw
    status, raw = d.post("/v1/events?format=avro", ndjson([cur]))
    assert status == 400 and "unknown format" in json.loads(raw)["error"], raw
    rows = d.series(window="1h", at="2026-11-26T10:30:00Z", by="account,service")["series"]
    assert [(r["labels"]["account"], r["labels"]["service"], r["value"]) for r in rows] == [
        ("333", "Amazon EC2", 10.0), ("444", "AmazonS3", 3.0)]
