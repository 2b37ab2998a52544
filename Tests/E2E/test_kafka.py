"""Kafka ingestion against a real broker (Tansu behind the compat proxy) and real daemon
processes: exactly-once windows across kill -9, rebalances and broker outages."""
import json
import random
import re
import signal
import threading
import time

from conftest import (LONG_RETENTION, Daemon, assert_hourly_equal, corpus_lines, daemon_hourly, expected_hourly,
                      wait_for)

TOPIC = "cost-events"


def counted(daemon):
    """Events held in the windows (the store's exact per-bucket counts, summed)."""
    answer = daemon.series(window="70d", step="1h", at="2026-08-09T23:59:59Z", by="")
    return answer["series"][0]["count"] if answer["series"] else 0


def wait_for_count(daemons, expected, timeout=120):
    """Waits until the windows hold exactly `expected` events; more would be a double count."""
    seen = []

    def reached():
        seen.append(sum(counted(d) for d in daemons))
        assert seen[-1] <= expected, f"{seen[-1]} events counted, more than the {expected} produced"
        return seen[-1] == expected
    try:
        wait_for(reached, timeout, f"windows to hold {expected} events")
    except AssertionError as e:
        raise AssertionError(f"{e}; last count {seen[-1] if seen else None!r}") from None


CORPUS_EVENTS = 151058


def metric(daemon, name, **labels):
    pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.e+-]+)$", re.M)
    total = 0.0
    for labelset, value in pattern.findall(daemon.metrics()):
        if all(f'{k}="{v}"' in labelset for k, v in labels.items()):
            total += float(value)
    return total


def test_corpus_through_six_partitions_equals_series_csv(broker, workdir, daemons):
    broker.create_topic(TOPIC, 6)
    broker.produce(TOPIC, corpus_lines())
    d = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC], env=LONG_RETENTION)
    daemons.append(d.start())
    wait_for_count([d], CORPUS_EVENTS)
    assert metric(d, "ingestd_events_total", source="kafka") == CORPUS_EVENTS
    assert_hourly_equal(daemon_hourly(d), expected_hourly())
    assert metric(d, "ingestd_kafka_assigned_partitions") == 6
    assert metric(d, "ingestd_series") == 36
    assert d.stop() == 0, d.log_tail()


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(broker, workdir, daemons):
    broker.create_topic(TOPIC, 6)
    lines = corpus_lines()
    rng = random.Random(20261126)
    # Produce in slices while the daemon consumes and is killed, so the kills land mid-stream.
    produced = []

    def produce_slowly():
        for i in range(0, len(lines), 10000):
            broker.produce(TOPIC, lines[i:i + 10000])
            produced.append(min(i + 10000, len(lines)))
            time.sleep(0.4)
    producer = threading.Thread(target=produce_slowly)
    d = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC], env=LONG_RETENTION)
    daemons.append(d)
    producer.start()
    d.start(wait_ready=False)
    kills = 0
    for _ in range(3):
        wait_for(lambda: metric(d, "ingestd_events_total", source="kafka") > 0, 60, "consumption to start")
        time.sleep(rng.uniform(0.3, 2.0))
        consumed = metric(d, "ingestd_events_total", source="kafka")
        d.kill9()
        kills += 1
        print(f"kill -9 #{kills} after {consumed:.0f} events in this life")
        d.start(wait_ready=False)
    producer.join()
    assert produced and produced[-1] == len(lines), "the producer thread failed"
    wait_for_count([d], CORPUS_EVENTS, timeout=120)
    assert_hourly_equal(daemon_hourly(d), expected_hourly())
    assert kills == 3


def test_two_instances_share_partitions_and_the_survivor_takes_over(broker, workdir, daemons):
    broker.create_topic(TOPIC, 6)
    broker.produce(TOPIC, corpus_lines())
    a = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC], env=LONG_RETENTION, name="a").start(wait_ready=False)
    b = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC], env=LONG_RETENTION, name="b").start(wait_ready=False)
    daemons.extend([a, b])
    # Both hold some partitions, and together exactly the corpus.
    wait_for(lambda: metric(a, "ingestd_kafka_assigned_partitions") + metric(b, "ingestd_kafka_assigned_partitions") == 6
             and metric(a, "ingestd_kafka_assigned_partitions") > 0 and metric(b, "ingestd_kafka_assigned_partitions") > 0,
             60, "the group to split the 6 partitions")
    wait_for_count([a, b], CORPUS_EVENTS, timeout=120)
    accounts_a = {r["labels"]["account"] for r in a.series(window="70d", step="1h", at="2026-08-09T23:59:59Z", by="account")["series"]}
    accounts_b = {r["labels"]["account"] for r in b.series(window="70d", step="1h", at="2026-08-09T23:59:59Z", by="account")["series"]}
    assert accounts_a and accounts_b and not (accounts_a & accounts_b), "partitions are keyed by account"
    a.kill9()
    # The survivor gets a's partitions once a's session expires, rebuilds them from the broker.
    wait_for(lambda: metric(b, "ingestd_kafka_assigned_partitions") == 6, 60, "the survivor to own all partitions")
    wait_for_count([b], CORPUS_EVENTS, timeout=120)
    assert_hourly_equal(daemon_hourly(b), expected_hourly())


def test_malformed_and_oversized_messages_are_quarantined_with_offsets(broker, workdir, daemons):
    broker.create_topic(TOPIC, 3)
    good = corpus_lines()[:3000]
    bad = [b"not json at all", b'{"accountId":"1","service":"S"}', b'{"accountId":"1","service":"S","cost":"abc","timestamp":"2026-06-01T00:00:00Z"}',
           b'{"accountId":"1","service":"S","cost":1,"currency":"USD","timestamp":"2026-13-45T00:00:00Z"}',
           b'{"accountId":"1","service":"S","cost":1,"currency":"USD","timestamp":"2026-06-01T00:00:00Z","metadata":{"x":"' + b"y" * 70000 + b'"}}']
    mixed = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 300 == 0:
            mixed.append(bad[(i // 300) % len(bad)])
    broker.produce(TOPIC, mixed)
    n_bad = len(mixed) - len(good)
    broker.create_topic("cost-dead-letters", 1)
    d = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC],
               env={**LONG_RETENTION, "INGESTD_KAFKA_DEAD_LETTER_TOPIC": "cost-dead-letters"})
    daemons.append(d.start())
    wait_for(lambda: metric(d, "ingestd_events_total", source="kafka") == len(good), 60, "every good event counted")
    wait_for(lambda: metric(d, "ingestd_events_bad_total", source="kafka") == n_bad, 30, "every bad event counted")
    with d.db() as db:
        rows = db.execute("SELECT topic, partition, offset, reason FROM quarantine WHERE source='kafka'").fetchall()
    assert len(rows) == n_bad
    assert all(t == TOPIC and p is not None and o is not None for t, p, o, _ in rows)
    assert len({(p, o) for _, p, o, _ in rows}) == n_bad
    reasons = {r for *_, r in rows}
    assert reasons == {"invalid_json", "missing_field", "invalid_cost", "invalid_timestamp", "oversized"}, reasons
    # The dead-letter topic has each bad message once, keyed by where it came from and why,
    # with its original bytes.
    dead = broker.consume_all("cost-dead-letters", expected=n_bad)
    assert sorted(key.decode() for key, _ in dead) == sorted(f"{t}/{p}@{o} {r}" for t, p, o, r in rows)
    assert sorted(value for _, value in dead) == sorted(bad[(i // 300) % len(bad)] for i in range(0, len(good), 300))
    # Restarting re-reads nothing into the quarantine twice.
    assert d.stop() == 0
    d.start()
    with d.db() as db:
        assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == n_bad


def test_broker_outage_reports_not_ready_and_recovers_without_restart(broker, workdir, daemons):
    broker.create_topic(TOPIC, 6)
    lines = corpus_lines()
    half = len(lines) // 2
    broker.produce(TOPIC, lines[:half])
    d = Daemon(workdir, brokers=broker.bootstrap, topics=[TOPIC], env=LONG_RETENTION)
    daemons.append(d.start())
    wait_for(lambda: metric(d, "ingestd_events_total", source="kafka") == half, 60, "the first half consumed")
    pid = d.proc.pid
    broker.stop_proxy()
    wait_for(lambda: d.get("/readyz")[0] == 503, 30, "/readyz to report the outage")
    status, body = d.get("/readyz")
    assert b"broker" in body, body
    assert d.get("/healthz")[0] == 200  # still serving its API
    assert metric(d, "ingestd_kafka_brokers_up") == 0
    time.sleep(20)
    assert d.get("/readyz")[0] == 503
    broker.start_proxy()
    broker.produce(TOPIC, lines[half:])
    wait_for(lambda: d.get("/readyz")[0] == 200, 60, "/readyz to recover")
    wait_for_count([d], CORPUS_EVENTS, timeout=120)
    assert_hourly_equal(daemon_hourly(d), expected_hourly())
    assert d.proc.pid == pid and d.proc.poll() is None
