"""What the windows count, through the real binary (Kafka disabled, POST /v1/events): currencies
are never added together, a first event older than every ring is too old, and no bucket ever
becomes infinite (issue 12, defects 2, 3 and 4)."""
import json
import time

from conftest import Daemon


def iso(epoch_seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def event(account="111", cost=10, ts=None, **extra):
    e = {"accountId": account, "service": "AmazonEC2", "region": "us-east-1", "cost": cost,
         "timestamp": ts or iso(time.time() - 60)}
    e.update(extra)
    return e


def ndjson(events):
    return b"\n".join(json.dumps(e).encode() for e in events) + b"\n"


def post(d, events):
    status, raw = d.post("/v1/events", ndjson(events))
    assert status in (200, 422), raw
    return json.loads(raw)


def metric(d, line_prefix):
    for line in d.metrics().splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_usd_and_eur_are_never_summed(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_INGEST_CURRENCIES": "[USD, EUR]"})
    daemons.append(d.start())
    report = post(d, [event(currency="USD"), event(currency="EUR"), event(currency="eur"), event(),
                      event(currency=""), event(currency="GBP")])
    assert report["accepted"] == 4, report
    assert [(e["index"], e["reason"]) for e in report["errors"]] == [(4, "unknown_currency"), (5, "unknown_currency")]

    total = d.series(window="1h", by="")["series"]
    assert [(r["labels"], r["sum"], r["count"]) for r in total] == [
        ({"currency": "EUR"}, 20, 2), ({"currency": "USD"}, 20, 2)], total
    by_account = d.series(window="1h", by="account")["series"]
    assert [r["labels"] for r in by_account] == [{"account": "111", "currency": "EUR"},
                                                 {"account": "111", "currency": "USD"}]
    eur = d.series(window="1h", by="", match='{currency="EUR"}')["series"]
    assert [r["value"] for r in eur] == [20]
    per_series = d.series(window="1h")["series"]
    assert sorted(r["labels"]["currency"] for r in per_series) == ["EUR", "USD"]


def test_conversion_rates_count_in_the_first_currency(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_INGEST_CURRENCIES": "[USD, EUR]",
                             "INGESTD_INGEST_CONVERSION_RATES": "{EUR: 1.5}"})
    daemons.append(d.start())
    assert post(d, [event(currency="USD"), event(currency="EUR")])["accepted"] == 2
    total = d.series(window="1h", by="")["series"]
    assert [(r["labels"], r["sum"]) for r in total] == [({"currency": "USD"}, 25)], total


def test_a_1970_event_for_a_new_account_is_too_old_and_uses_no_series(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_SERIES": "2"})
    daemons.append(d.start())
    assert post(d, [event(account="current")])["accepted"] == 1
    report = post(d, [event(account="ancient", ts="1970-01-01T00:00:00Z"),
                      event(account="ancient2", ts="1970-01-02T00:00:00Z")])
    assert report["accepted"] == 0 and [e["reason"] for e in report["errors"]] == ["too_old", "too_old"], report
    assert metric(d, "ingestd_series ") == 1
    # max_series is 2 and one is still free: a current event for another new account is counted.
    assert post(d, [event(account="next")])["accepted"] == 1
    assert metric(d, "ingestd_series ") == 2
    rows = d.series(window="1h", by="account")["series"]
    assert [r["labels"]["account"] for r in rows] == ["current", "next"]
    with d.db() as db:
        assert db.execute("SELECT count(*) FROM quarantine WHERE reason = 'too_old'").fetchone()[0] == 2


def test_two_huge_costs_never_make_a_bucket_infinite(workdir, daemons):
    d = Daemon(workdir)
    daemons.append(d.start())
    ts = iso(time.time() - 60)
    report = post(d, [event(cost=1e308, ts=ts), event(cost=1e308, ts=ts)])
    assert report["accepted"] == 1 and report["errors"][0]["reason"] == "cost_overflow", report
    status, raw = d.get("/v1/series?window=1h&by=")
    assert status == 200, raw
    assert [r["sum"] for r in json.loads(raw)["series"]] == [1e308], raw
    assert 'reason="cost_overflow"' in d.metrics()
