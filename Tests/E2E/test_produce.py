"""`ingestd produce` against a real broker (Tansu behind the compat proxy), read back with
confluent-kafka: every line arrives once, keyed by its account, and --shift-to-now moves a corpus
so that it ends now, keeping its spacing and its time formats."""
import calendar
import gzip
import json
import re
import subprocess
import time
from collections import Counter, defaultdict
from datetime import datetime

import pytest

from conftest import ingestd_bin

ACCOUNTS = ["acct-a", "acct-b", "acct-c"]
HOUR = 3600
START = calendar.timegm((2026, 6, 1, 0, 0, 0))  # the corpus's first hour


def iso(seconds, fraction=""):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + fraction + "Z"


def event(i, account, when):
    return json.dumps({"eventId": f"e{i}", "accountId": account, "timestamp": when, "cost": round(0.5 + i, 2)},
                      separators=(",", ":"))


def corpus():
    """30 events over 3 accounts and 70 days, not in time order: the latest is not the last line."""
    lines = []
    for i in range(30):
        seconds = START + (i * 7919 % 30) * 56 * HOUR  # a permutation of 0..29, 56 h apart
        lines.append(event(i, ACCOUNTS[i % 3], iso(seconds)))
    return lines


def event_seconds(value):
    """An event time as float seconds (ISO 8601 with Z, or epoch seconds/millis as number or string)."""
    if isinstance(value, str) and "T" in value:
        return datetime.fromisoformat(value).timestamp()
    number = float(value)
    return number if abs(number) < 1e11 else number / 1000


def consume(broker, topic, expected, timeout=60):
    """Like Broker.consume_all, but with each message's partition: (partition, key, value)."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"produce-reader-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    try:
        deadline = time.time() + timeout
        while len(out) < expected and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                out.append((m.partition(), m.key(), m.value()))
        end = time.time() + 2  # a little longer: more than expected would be a duplicate
        while time.time() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append((m.partition(), m.key(), m.value()))
    finally:
        c.close()
    return out


def produce(broker, path, topic, *args, stdin=None):
    result = subprocess.run([ingestd_bin(), "produce", str(path), "--topic", topic, "--brokers", broker.bootstrap, *args],
                            input=stdin, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    summary = result.stdout.decode().strip().splitlines()[-1]
    assert re.fullmatch(r"produced \d+ events in [0-9.]+ s \(\d+ events/s\)", summary), summary
    return summary, result.stderr.decode()


def write_input(workdir, lines, kind):
    text = ("\n".join(lines) + "\n").encode()
    if kind == "gz":
        path = workdir / "events.jsonl.gz"
        path.write_bytes(gzip.compress(text))
    else:
        path = workdir / "events.jsonl"
        path.write_bytes(text)
    return path, text


def assert_keyed_once(received, lines):
    """Every line once, keyed by its account; an account's events all on one partition."""
    assert Counter(value for _, _, value in received) == Counter(line.encode() for line in lines)
    partitions = defaultdict(set)
    for partition, key, value in received:
        assert key == json.loads(value)["accountId"].encode(), (key, value)
        partitions[key].add(partition)
    assert set(partitions) == {a.encode() for a in ACCOUNTS}
    assert all(len(p) == 1 for p in partitions.values()), f"an account spans partitions: {dict(partitions)}"


@pytest.mark.parametrize("kind", ["plain", "gz", "stdin"])
def test_every_line_arrives_once_keyed_by_account(broker, workdir, kind):
    broker.create_topic("produced", 3)
    lines = corpus()
    lines.insert(10, "")  # blank lines are not events
    path, text = write_input(workdir, lines, kind)
    lines = [line for line in lines if line]
    if kind == "stdin":
        summary, _ = produce(broker, "-", "produced", stdin=text)
    else:
        summary, _ = produce(broker, path, "produced")
    assert summary.startswith(f"produced {len(lines)} events in ")
    assert_keyed_once(consume(broker, "produced", len(lines)), lines)


def test_a_line_without_key_is_sent_unkeyed_with_a_note(broker, workdir):
    broker.create_topic("unkeyed", 1)
    lines = corpus()[:3] + ['{"eventId":"x","timestamp":"2026-06-01T00:00:00Z"}', "not json"]
    path, _ = write_input(workdir, lines, "plain")
    _, stderr = produce(broker, path, "unkeyed")
    assert "2 lines had no top-level \"accountId\"" in stderr, stderr
    received = consume(broker, "unkeyed", len(lines))
    assert sorted(v for _, _, v in received) == sorted(line.encode() for line in lines)
    assert {v: k for _, k, v in received}[b"not json"] is None


@pytest.mark.parametrize("kind", ["plain", "gz"])
def test_shift_to_now_ends_the_corpus_now_keeping_spacing_and_format(broker, workdir, kind):
    broker.create_topic("shifted", 3)
    lines = corpus()
    # Other spellings of the time: a fraction and an offset, epoch seconds and millis, as
    # numbers and as strings. The latest event is among the ISO ones, in the middle of the file.
    latest = max(event_seconds(json.loads(line)["timestamp"]) for line in lines)
    lines += [
        event(100, "acct-a", "2026-06-02T01:02:03.250Z"),
        event(101, "acct-b", "2026-06-02T03:02:03.5+02:00"),  # 01:02:03.5 UTC
        event(102, "acct-c", START + 3 * HOUR),
        event(103, "acct-a", (START + 4 * HOUR) * 1000 + 125),
        event(104, "acct-b", str(START + 5 * HOUR) + ".75"),
        event(105, "acct-c", str((START + 6 * HOUR) * 1000)),
    ]
    original = {json.loads(line)["eventId"]: json.loads(line)["timestamp"] for line in lines}
    path, _ = write_input(workdir, lines, kind)

    before = time.time()
    produce(broker, path, "shifted", "--shift-to-now")
    after = time.time()

    received = consume(broker, "shifted", len(lines))
    assert len(received) == len(lines)
    shifted = {}
    for partition, key, value in received:
        doc = json.loads(value)
        assert key == doc["accountId"].encode()
        shifted[doc["eventId"]] = doc["timestamp"]
    assert set(shifted) == set(original)

    # One shift for all: the latest event lands in the second before the run, the rest keep
    # their distance to it.
    delta = {e: event_seconds(shifted[e]) - event_seconds(original[e]) for e in original}
    moved = delta["e0"]
    assert all(abs(d - moved) < 1e-6 for d in delta.values()), delta
    assert moved == int(moved), "shifted by whole seconds"
    new_latest = latest + moved
    assert before - 2 <= new_latest <= after, (before, new_latest, after)

    # Formats: ISO with Z keeps its fraction digits; epoch numbers stay numbers in their unit,
    # strings stay strings.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shifted["e0"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.250Z", shifted["e100"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.5Z", shifted["e101"])
    assert isinstance(shifted["e102"], int) and shifted["e102"] < 1e11
    assert isinstance(shifted["e103"], int) and shifted["e103"] > 1e11 and shifted["e103"] % 1000 == 125
    assert isinstance(shifted["e104"], str) and shifted["e104"].endswith(".75")
    assert isinstance(shifted["e105"], str) and float(shifted["e105"]) > 1e11
    # Nothing but the time changed.
    for line in lines:
        doc = json.loads(line)
        doc["timestamp"] = shifted[doc["eventId"]]
        assert json.dumps(doc, separators=(",", ":")).encode() in {v for _, _, v in received}


def test_shift_to_now_refuses_standard_input(workdir):
    result = subprocess.run([ingestd_bin(), "produce", "-", "--topic", "t", "--brokers", "127.0.0.1:1", "--shift-to-now"],
                            input=b"", capture_output=True, timeout=30)
    assert result.returncode != 0
    assert b"needs a file" in result.stderr
