"""`ingestd replay --dump-hourly` across a series' silence longer than the 1h ring (35 days by
default): each hour is dumped once, at its own timestamp. (The ring reused a slot several ring
lengths later and used to report the hour one ring length before the new one: a phantom hour.)"""
import subprocess

from conftest import ingestd_bin


def event(ts, cost):
    return ('{"accountId":"1","service":"S","region":"r","cost":%s,"currency":"USD","timestamp":"%s"}' % (cost, ts)).encode()


def test_dump_hourly_after_a_gap_longer_than_the_ring(tmp_path):
    path = tmp_path / "events.ndjson"
    # 2026-01-01 and 40 days later, then 100 days later: two gaps longer than 840 hours.
    path.write_bytes(b"\n".join([event("2026-01-01T05:10:00Z", 1.5), event("2026-02-10T07:00:00Z", 2),
                                 event("2026-05-21T09:30:00Z", 4)]) + b"\n")
    run = subprocess.run([ingestd_bin(), "replay", str(path), "--dump-hourly"], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    assert "replayed 3 events: 3 counted, 0 bad" in run.stderr.decode()
    rows = run.stdout.decode().strip().splitlines()
    assert rows[0] == "timestamp,account,service,region,currency,cost"
    assert rows[1:] == [
        "2026-01-01T05:00:00Z,1,S,r,USD,1.5",
        "2026-02-10T07:00:00Z,1,S,r,USD,2.0",
        "2026-05-21T09:00:00Z,1,S,r,USD,4.0",
    ]
