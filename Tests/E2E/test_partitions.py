"""The partition life cycle from outside: a log that changed under a snapshot (demo broker
restarted, topic recreated), a rebalance gap, a service that fails at start, and a store layout
change over HTTP-ingested history. Real daemons, a real broker, real signals."""
import json
import signal
import socket
import subprocess
import threading
import time

from conftest import Daemon, free_port, ingestd_bin, wait_for
from test_kafka import metric


def now_events(n, cost, account_of=lambda i: f"acct-{i % 7}", minutes_ago=5):
    ts = int(time.time()) - minutes_ago * 60
    return [json.dumps({"accountId": account_of(i), "service": "AmazonEC2", "region": "us-east-1",
                        "cost": cost, "timestamp": ts}).encode() for i in range(n)]


def total(daemon):
    answer = daemon.series(window="1h", by="")
    row = answer["series"][0] if answer["series"] else {"count": 0, "sum": 0}
    return row["count"], row["sum"]


def produce_with_ingestd(bootstrap, topic, lines, path):
    path.write_bytes(b"\n".join(lines) + b"\n")
    subprocess.run([ingestd_bin(), "produce", str(path), "--topic", topic, "--brokers", bootstrap],
                   check=True, capture_output=True, timeout=60)


def test_restarting_the_demo_broker_rebuilds_instead_of_skipping(workdir, daemons):
    """Issue 12 defect 6: the embedded broker's log dies with it; a snapshot's offsets from the
    old log must not make the daemon skip the new log's messages."""
    port = free_port()
    env = {"INGESTD_KAFKA_ENABLED": "true", "INGESTD_KAFKA_EMBEDDED_BROKER": "true",
           "INGESTD_KAFKA_EMBEDDED_PORT": str(port), "INGESTD_KAFKA_PROPERTY_SESSION_TIMEOUT_MS": "6000"}
    d = Daemon(workdir, env=env)
    daemons.append(d)
    d.start(ready_timeout=90)
    bootstrap = f"127.0.0.1:{port}"
    produce_with_ingestd(bootstrap, "cost-events", now_events(1000, 1.0), workdir / "first.ndjson")
    wait_for(lambda: total(d)[0] == 1000, 60, "the first 1000 events")
    assert d.stop() == 0

    d.start(ready_timeout=90)  # a new embedded broker: a new, empty log
    produce_with_ingestd(bootstrap, "cost-events", now_events(500, 2.0), workdir / "second.ndjson")
    wait_for(lambda: metric(d, "ingestd_events_total", source="kafka") == 500, 60,
             "the 500 events of the new log to be counted")
    # The windows describe the log the daemon consumes now: exactly its 500 events.
    wait_for(lambda: total(d) == (500, 1000.0), 30, "the windows to hold the new log's events")
    assert "log changed" in d.log_path.read_text() or "cluster" in d.log_path.read_text()


def test_a_recreated_topic_is_rebuilt_not_resumed_at_the_old_offset(broker, workdir, daemons):
    """Same cluster, topic deleted and recreated with more messages than the snapshot covered:
    only the re-read last message tells the logs apart."""
    broker.create_topic("costs", 1)
    broker.produce("costs", now_events(300, 1.0))
    d = Daemon(workdir, brokers=broker.bootstrap, topics=["costs"])
    daemons.append(d)
    d.start()
    wait_for(lambda: total(d)[0] == 300, 60, "300 events")
    assert d.stop() == 0
    subprocess.run([broker.tansu, "topic", "delete", "costs", "--broker", f"tcp://127.0.0.1:{broker.p1}"],
                   check=True, capture_output=True, timeout=30)
    broker.create_topic("costs", 1)
    broker.produce("costs", now_events(1000, 2.0))
    d.start()
    # Resuming at offset 300 of the new log would give 300×1 + 700×2 = 1700.
    wait_for(lambda: total(d) == (1000, 2000.0), 60, "the windows to hold exactly the new topic's events")
    time.sleep(2)
    assert total(d) == (1000, 2000.0)


def test_a_rebalance_gap_is_not_ready_and_answers_are_partial(broker, workdir, daemons):
    """Defect 9: between revoke and assign the moved partitions' windows are gone; an answer
    then must say it is partial, and /readyz must not say ready."""
    broker.create_topic("costs", 2)
    broker.produce("costs", now_events(400, 1.0, account_of=lambda i: f"acct-{i % 40}"))
    a = Daemon(workdir, brokers=broker.bootstrap, topics=["costs"], name="a")
    daemons.append(a)
    a.start()
    wait_for(lambda: total(a)[0] == 400, 60, "a to hold every event")
    answers, ready = [], []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            status, body = a.get("/v1/series?window=1h&by=")
            if status == 200:
                answers.append(json.loads(body))
            ready.append(a.get("/readyz")[0])
            time.sleep(0.02)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        b = Daemon(workdir, brokers=broker.bootstrap, topics=["costs"], name="b")
        daemons.append(b)
        b.start(wait_ready=False)
        wait_for(lambda: metric(a, "ingestd_kafka_assigned_partitions") == 1
                 and metric(b, "ingestd_kafka_assigned_partitions") == 1, 60, "the group to split the partitions")
        wait_for(lambda: a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200, 60, "both ready")
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
    empty = [x for x in answers if not x["series"]]
    assert empty, "the watcher never saw the gap between revoke and assign"
    assert all(x["partial"] and "kafka" in x["partial_reasons"] for x in empty), \
        "an answer without the moved partitions passed for complete"
    assert 503 in ready
    # Afterwards each instance owns one partition and says so as complete.
    assert answers[-1]["partial"] is False and 0 < answers[-1]["series"][0]["count"] < 400


def test_a_failed_service_stops_the_daemon_with_exit_1(broker, workdir):
    """Defect 7: the HTTP port is taken; the daemon must not live on without its API."""
    broker.create_topic("costs", 1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        d = Daemon(workdir, brokers=broker.bootstrap, topics=["costs"],
                   env={"INGESTD_SHUTDOWN_GRACE": "3s"})
        d.env["INGESTD_HTTP_LISTEN"] = f"127.0.0.1:{taken.getsockname()[1]}"
        log = open(d.log_path, "ab")
        proc = subprocess.Popen([ingestd_bin(), "run"], env=d.env, stdout=log, stderr=log)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"ingestd kept running without its HTTP server: {d.log_tail()}")
    assert code == 1, d.log_tail()


def test_no_brokers_is_a_config_error_not_a_demo_broker(workdir):
    d = Daemon(workdir, env={"INGESTD_KAFKA_ENABLED": "true"})
    out = subprocess.run([ingestd_bin(), "run"], env=d.env, capture_output=True, timeout=30)
    assert out.returncode == 78, out
    assert b"kafka.brokers is empty" in out.stderr and b"embedded_broker" in out.stderr


def post_events(d, lines):
    status, body = d.post("/v1/events", b"\n".join(lines))
    assert status == 200, body


def test_a_store_layout_change_keeps_http_history_or_refuses_to_start(workdir, daemons):
    """Defect 10: HTTP events exist only in the snapshot once it covers them; a layout change
    converts them, and where it cannot, the daemon refuses to start and names the choice."""
    # No periodic snapshot: the events below live in the journal until the kill.
    d = Daemon(workdir, env={"INGESTD_SNAPSHOT_INTERVAL": "1h"})
    daemons.append(d)
    d.start()
    post_events(d, now_events(50, 3.0, minutes_ago=90))
    post_events(d, now_events(30, 1.0, minutes_ago=10))
    before = d.series(window="3h", step="1h", by="account")["series"]
    # Killed: the events are in the journal only, written under the old label layout.
    d.kill9()

    # A new tag label: every series gets "" for it; nothing is lost.
    d.env["INGESTD_STORE_LABELS"] = "[team]"
    d.env["INGESTD_SNAPSHOT_INTERVAL"] = "1s"
    d.start()
    after = d.series(window="3h", step="1h", by="account")["series"]
    assert [(r["labels"], r["sum"], r["count"]) for r in after] == [(r["labels"], r["sum"], r["count"]) for r in before]
    assert {r["labels"]["team"] for r in d.series(window="3h", step="1h", by="team")["series"]} == {""}
    assert d.stop() == 0

    # A longer hourly ring: derived from the old hourly ring.
    d.env["INGESTD_STORE_RESOLUTIONS"] = "[{step: 1m, retention: 48h}, {step: 1h, retention: 72d}]"
    d.start()
    assert d.series(window="3h", step="1h", by="account")["series"] == before or \
        [(r["labels"]["account"], r["sum"]) for r in d.series(window="3h", step="1h", by="account")["series"]] == \
        [(r["labels"]["account"], r["sum"]) for r in before]
    assert d.stop() == 0

    # A 30s ring cannot be derived from 1m buckets: refuse, and say how to choose.
    d.env["INGESTD_STORE_RESOLUTIONS"] = "[{step: 30s, retention: 1h}, {step: 1m, retention: 48h}, {step: 1h, retention: 72d}]"
    out = subprocess.run([ingestd_bin(), "run"], env=d.env, capture_output=True, timeout=60)
    assert out.returncode == 1 and b"--discard-http-history" in out.stderr, out.stderr[-2000:]
    d.args = ["--discard-http-history"]
    d.start()
    assert [(r["labels"]["account"], r["sum"]) for r in d.series(window="3h", step="1h", by="account")["series"]] == \
        [(r["labels"]["account"], r["sum"]) for r in before]
    assert d.series(window="30m", step="30s", by="")["series"] == [] or \
        d.series(window="30m", step="30s", by="")["series"][0]["count"] == 0
