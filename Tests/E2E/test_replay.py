"""`ingestd replay`: the dev corpus through the real parser and store reproduces series.csv."""
import csv
import io
import subprocess

from conftest import CORPUS, assert_hourly_equal, expected_hourly, ingestd_bin


def test_replay_dump_hourly_reproduces_series_csv():
    # Default config (1h × 35d) on a 70-day corpus: hours leave the ring as the replay moves on
    # and are dumped as they are evicted, so every hour of every series still appears once.
    run = subprocess.run([ingestd_bin(), "replay", str(CORPUS / "events.jsonl.gz"), "--dump-hourly"],
                         capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()
    summary = run.stderr.decode()
    assert "replayed 151058 events: 151058 counted, 0 bad" in summary, summary
    assert "36 series" in summary, summary
    rows = list(csv.DictReader(io.StringIO(run.stdout.decode())))
    actual = {}
    for row in rows:
        key = (row["timestamp"], row["account"], row["service"], row["region"])
        assert key not in actual, f"hour {key} dumped twice"
        actual[key] = float(row["cost"])
    assert_hourly_equal(actual, expected_hourly())


def test_replay_counts_bad_lines_and_keeps_going(tmp_path):
    good = b'{"accountId":"1","service":"S","region":"r","cost":1.5,"currency":"USD","timestamp":"2026-06-01T00:00:00Z"}'
    lines = [good, b"not json", b'{"accountId":"1"}', good.replace(b"1.5", b'"NaN"'), good.replace(b"USD", b"XYZ"), good]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    run = subprocess.run([ingestd_bin(), "replay", str(path)], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    summary = run.stderr.decode()
    assert "replayed 6 events: 2 counted, 4 bad" in summary, summary
    assert "invalid_json=1" in summary and "missing_field=1" in summary
    assert "invalid_cost=1" in summary and "unknown_currency=1" in summary


def test_replay_of_a_missing_file_fails_clearly(tmp_path):
    run = subprocess.run([ingestd_bin(), "replay", str(tmp_path / "nope.ndjson")], capture_output=True, timeout=60)
    assert run.returncode != 0
    assert "cannot open" in run.stderr.decode()
