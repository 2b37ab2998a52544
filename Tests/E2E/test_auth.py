"""Auth and TLS end to end: the real binary with bearer tokens from its config file, scoped
tokens against every endpoint that shows account data, token rotation by SIGHUP, the
no-token listener rule, and TLS with a CA and certificates made by `openssl` in the test."""
import hashlib
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Daemon, event, free_port, http, ingestd_bin, wait_for
from receivers import WebhookReceiver

SIGNING = "e2e-signing-secret"

RULES = """
groups:
  - name: spend
    interval: 1s
    rules:
      - alert: AccountSpendHigh
        kind: threshold
        by: [account]
        window: 1h
        above: 100
        severity: warning
"""


def sha(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


class Tokens:
    """One secret per name; the config gets their SHA-256 only."""

    def __init__(self):
        self.secret = {name: secrets.token_hex(20) for name in
                       ("admin", "reader", "writer", "reader_a", "writer_a", "admin_a")}

    def yaml(self, metrics_open=True, **extra_lines):
        spec = {
            "admin": ("admin", None), "reader": ("read", None), "writer": ("write", None),
            "reader_a": ("read", ["A"]), "writer_a": ("write", ["A"]), "admin_a": ("admin", ["A"]),
        }
        out = f"auth:\n  metrics_open: {'true' if metrics_open else 'false'}\n  tokens:\n"
        for name, (role, accounts) in spec.items():
            out += f"    - name: {name}\n      sha256: {sha(self.secret[name])}\n      role: {role}\n"
            if accounts:
                out += f"      accounts: {json.dumps(accounts)}\n"
        return out


def call(d, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    return http(method, d.url + path, body, h)


def answer(d, method, path, token, body=None, expect=200):
    status, raw = call(d, method, path, token, body)
    assert status == expect, (method, path, status, raw)
    return json.loads(raw)


def start(workdir, daemons, config_text, env=None, rules=None, name="ingestd"):
    cfg = workdir / f"{name}.yaml"
    cfg.write_text(config_text)
    files = []
    if rules:
        (workdir / "rules.yaml").write_text(rules)
        files.append(str(workdir / "rules.yaml"))
    full_env = {"INGESTD_RULES_FILES": json.dumps(files), "WEBHOOK_SECRET": SIGNING}
    full_env.update(env or {})
    d = Daemon(workdir, env=full_env, name=name)
    d.args = ["-c", str(cfg)]
    daemons.append(d.start())
    return d, cfg


def metric(d, token, name, **labels):
    """The sample of `name` whose labels include `labels` (in any order), 0 when absent."""
    status, raw = call(d, "GET", "/metrics", token)
    assert status == 200, raw
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in raw.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---------------------------------------------------------------------------------------------
# Scope: a token for account A sees nothing of account B anywhere.


def test_a_token_scoped_to_account_a_sees_and_writes_nothing_of_account_b(workdir, daemons):
    t = Tokens()
    with WebhookReceiver("team", secret=SIGNING) as receiver:
        notify = f"""
receivers:
  - name: team
    webhook:
      url: {receiver.url}
      secret_env: WEBHOOK_SECRET
route:
  receiver: team
  group_by: [account]
  group_wait: 0s
"""
        d, _ = start(workdir, daemons, t.yaml(), rules=RULES + notify)
        admin, reader_a, writer_a, admin_a = t.secret["admin"], t.secret["reader_a"], t.secret["writer_a"], t.secret["admin_a"]

        # Both accounts' spend, posted with an unscoped token; both fire and are notified.
        posted = answer(d, "POST", "/v1/events", admin, (event("A", 150) + "\n" + event("B", 200)).encode())
        assert posted["accepted"] == 2, posted
        wait_for(lambda: {a["labels"]["account"] for a in answer(d, "GET", "/v1/alerts", admin)["alerts"]
                          if a["state"] == "firing"} == {"A", "B"}, 20, "both accounts firing")
        receiver.wait_for_count(2, timeout=30)
        key_account = {r.idempotency_key: {a["labels"]["account"] for a in r.alerts} for r in receiver.deliveries}
        assert sorted(map(sorted, key_account.values())) == [["A"], ["B"]], key_account
        wait_for(lambda: len([n for n in answer(d, "GET", "/v1/notifications", admin)["notifications"]
                              if n["state"] == "delivered"]) == 2, 20, "both receipts delivered")
        silence_b = answer(d, "POST", "/v1/silences", admin, json.dumps(
            {"matchers": '{account="B"}', "duration": "1h", "createdBy": "e2e", "comment": "b"}).encode(), expect=201)
        silence_a = answer(d, "POST", "/v1/silences", admin, json.dumps(
            {"matchers": '{account="A",alertname="AccountSpendHigh"}', "duration": "1h", "createdBy": "e2e", "comment": "a"}).encode(),
            expect=201)
        silence_all = answer(d, "POST", "/v1/silences", admin, json.dumps(
            {"matchers": '{alertname="Nothing"}', "duration": "1h", "createdBy": "e2e", "comment": "all"}).encode(), expect=201)

        # The unscoped view has both accounts (so the scoped checks below are not vacuous).
        everything = answer(d, "GET", "/v1/series?window=1h&by=account", admin)
        assert {r["labels"]["account"]: r["value"] for r in everything["series"]} == {"A": 150, "B": 200}

        # /v1/series: only A, whatever the query asks for.
        by_account = answer(d, "GET", "/v1/series?window=1h&by=account", reader_a)
        assert {r["labels"]["account"]: r["value"] for r in by_account["series"]} == {"A": 150}
        asked_for_b = answer(d, "GET", "/v1/series?" + urllib.parse.urlencode({"window": "1h", "match": '{account="B"}'}), reader_a)
        assert asked_for_b["series"] == [], asked_for_b
        regex_b = answer(d, "GET", "/v1/series?" + urllib.parse.urlencode({"window": "1h", "match": '{account=~".*"}', "by": ""}), reader_a)
        assert [r["value"] for r in regex_b["series"]] == [150], regex_b
        per_series = answer(d, "GET", "/v1/series?window=1h", reader_a)
        assert {r["labels"]["account"] for r in per_series["series"]} == {"A"}

        # /v1/alerts and /v1/alerts/history: A's only, and there are some.
        active = answer(d, "GET", "/v1/alerts", reader_a)["alerts"]
        assert active and {a["labels"]["account"] for a in active} == {"A"}, active
        history = answer(d, "GET", "/v1/alerts/history?since=0", reader_a)["transitions"]
        assert history and {h["labels"]["account"] for h in history} == {"A"}, history
        assert len(answer(d, "GET", "/v1/alerts/history?since=0", admin)["transitions"]) > len(history)

        # /v1/notifications: the receipt of A's notification only.
        receipts = answer(d, "GET", "/v1/notifications", reader_a)["notifications"]
        assert [key_account[r["idempotencyKey"]] for r in receipts] == [{"A"}], receipts

        # /v1/silences: A's (account pinned to A) only; B's is "not found" by id, for reading and expiring.
        listed = {s["id"] for s in answer(d, "GET", "/v1/silences", reader_a)["silences"]}
        assert listed == {silence_a["id"]}, listed
        assert call(d, "GET", f"/v1/silences/{silence_b['id']}", reader_a)[0] == 404
        assert call(d, "GET", f"/v1/silences/{silence_all['id']}", reader_a)[0] == 404
        assert call(d, "GET", f"/v1/silences/{silence_a['id']}", reader_a)[0] == 200
        assert call(d, "DELETE", f"/v1/silences/{silence_b['id']}", admin_a)[0] == 404
        assert answer(d, "GET", f"/v1/silences/{silence_b['id']}", admin)["state"] == "active"
        # A scoped admin creates silences for its own account only.
        for matchers in ('{account="B"}', '{alertname="AccountSpendHigh"}', '{account=~"A|B"}'):
            status, raw = call(d, "POST", "/v1/silences", admin_a, json.dumps(
                {"matchers": matchers, "duration": "1h", "createdBy": "e2e", "comment": "c"}).encode())
            assert status == 403 and "account=" in json.loads(raw)["error"], (matchers, status, raw)
        answer(d, "POST", "/v1/silences", admin_a, json.dumps(
            {"matchers": '{account="A"}', "duration": "1h", "createdBy": "e2e", "comment": "c"}).encode(), expect=201)
        assert call(d, "DELETE", f"/v1/silences/{silence_a['id']}", admin_a)[0] == 200

        # POST /v1/events: B's event is refused per event, counted, and not stored anywhere.
        quarantined_before = d.db().execute("SELECT count(*) FROM quarantine").fetchone()[0]
        mixed = answer(d, "POST", "/v1/events", writer_a, (event("A", 5) + "\n" + event("B", 1000)).encode())
        assert mixed["accepted"] == 1 and mixed["rejected"] == 1, mixed
        assert [(e["index"], e["reason"]) for e in mixed["errors"]] == [(1, "forbidden_account")], mixed
        assert '"B"' in mixed["errors"][0]["message"]
        only_b = call(d, "POST", "/v1/events", writer_a, event("B", 1000).encode())
        assert only_b[0] == 422 and json.loads(only_b[1])["errors"][0]["reason"] == "forbidden_account", only_b
        after = answer(d, "GET", "/v1/series?window=1h&by=account", admin)
        assert {r["labels"]["account"]: r["value"] for r in after["series"]} == {"A": 155, "B": 200}
        assert metric(d, admin, "ingestd_events_bad_total", reason="forbidden_account", source="http") == 2
        assert d.db().execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined_before
        # The same body with an unscoped writer is accepted: the refusal was the scope's.
        assert answer(d, "POST", "/v1/events", t.secret["writer"], event("B", 1).encode())["accepted"] == 1


# ---------------------------------------------------------------------------------------------
# Refusals: no header, a bad token, the wrong role, each with a JSON message saying what to do.


def test_missing_bad_and_wrong_role_tokens_are_refused_with_a_clear_json_error(workdir, daemons):
    t = Tokens()
    d, _ = start(workdir, daemons, t.yaml())

    status, raw = call(d, "GET", "/v1/series?window=1h")
    assert status == 401 and "Authorization: Bearer" in json.loads(raw)["error"], raw
    req = urllib.request.Request(d.url + "/v1/alerts")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("GET /v1/alerts without a token was answered")
    except urllib.error.HTTPError as e:
        assert e.code == 401 and e.headers["WWW-Authenticate"].startswith("Bearer"), e.headers

    status, raw = call(d, "GET", "/v1/alerts", "not-a-configured-token")
    assert status == 401 and "not valid" in json.loads(raw)["error"], raw
    status, raw = call(d, "GET", "/v1/alerts", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert status == 401 and "Bearer <token>" in json.loads(raw)["error"], raw
    status, raw = call(d, "GET", "/v1/alerts", headers={"Authorization": "Bearer " + "x" * 5000})
    assert status == 401 and "printable ASCII" in json.loads(raw)["error"], raw
    # The hash itself is not a token.
    assert call(d, "GET", "/v1/alerts", sha(t.secret["admin"]))[0] == 401

    # Wrong role: 403 naming the token, its role and the role needed.
    status, raw = call(d, "POST", "/v1/events", t.secret["reader"], event("A", 1).encode())
    message = json.loads(raw)["error"]
    assert status == 403 and "reader" in message and "needs write" in message, raw
    status, raw = call(d, "POST", "/v1/reload", t.secret["writer"], b"")
    assert status == 403 and "needs admin" in json.loads(raw)["error"], raw
    status, raw = call(d, "POST", "/v1/silences", t.secret["writer"],
                       json.dumps({"matchers": '{account="A"}', "duration": "1h"}).encode())
    assert status == 403, raw
    # A scoped token cannot read what spans every account.
    status, raw = call(d, "GET", "/v1/rules", t.secret["reader_a"])
    assert status == 403 and "limited to some accounts" in json.loads(raw)["error"], raw
    assert call(d, "POST", "/v1/reload", t.secret["admin_a"], b"")[0] == 403
    # The right roles pass.
    assert call(d, "GET", "/v1/rules", t.secret["reader"])[0] == 200
    assert call(d, "POST", "/v1/events", t.secret["writer"], event("A", 1).encode())[0] == 200
    assert call(d, "POST", "/v1/reload", t.secret["admin"], b"")[0] == 200

    # Open: health, readiness and (by default) metrics.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert call(d, "GET", path)[0] == 200, path
    # An unknown path needs a token too (no route is open by accident).
    assert call(d, "GET", "/v1/nothing-here")[0] == 401
    assert call(d, "GET", "/v1/nothing-here", t.secret["reader"])[0] == 404

    # The WebSocket subprotocol form of the token is taken on /v1/stream only.
    proto = {"Sec-WebSocket-Protocol": f"ingestd.v1, bearer.{t.secret['reader']}"}
    assert call(d, "GET", "/v1/series?window=1h", headers=proto)[0] == 401
    assert stream_auth(d.url, ["ingestd.v1", f"bearer.{t.secret['reader']}"]) == "passed"
    assert stream_auth(d.url, ["ingestd.v1"], headers={"Authorization": f"Bearer {t.secret['reader']}"}) == "passed"
    refused = stream_auth(d.url, ["ingestd.v1", "bearer.wrong-token-value"])
    assert refused[0] == 1008 and refused[1]["status"] == 401 and "not valid" in refused[1]["message"], refused
    refused = stream_auth(d.url, ["ingestd.v1"])
    assert refused[0] == 1008 and "Authorization: Bearer" in refused[1]["message"], refused
    # A plain (non-upgrade) request to the stream gets the ordinary JSON 401.
    assert call(d, "GET", "/v1/stream")[0] == 401

    # Refusals are counted by reason, and no log line carries a secret or its hash.
    assert metric(d, t.secret["admin"], "ingestd_http_auth_refused_total", reason="invalid") >= 3
    log = d.log_path.read_text()
    for secret in t.secret.values():
        assert secret not in log and sha(secret) not in log


def stream_auth(base_url, subprotocols, headers=None, ssl_context=None):
    """Opens /v1/stream with a real WebSocket client. A refusal is (close code, the error
    message) — the socket opens, says why and closes with 1008. "passed": auth let the upgrade
    through: the stream answered (101 and no auth error), or, on a build without the stream,
    the upgrade found no route (a 400 that is not an auth refusal: those are 1008 closes)."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect
    url = base_url.replace("http", "ws", 1) + "/v1/stream"
    try:
        with connect(url, subprotocols=subprotocols, additional_headers=headers or {}, ssl=ssl_context,
                     open_timeout=10, close_timeout=5) as ws:
            assert ws.subprotocol == "ingestd.v1", ws.subprotocol
            try:
                first = json.loads(ws.recv(timeout=5))
            except ConnectionClosed as e:
                return (e.rcvd.code if e.rcvd else None, None)
            if first.get("type") == "error" and first.get("status") in (401, 403):
                try:
                    ws.recv(timeout=5)
                except ConnectionClosed as e:
                    return (e.rcvd.code if e.rcvd else None, first)
                raise AssertionError(f"the refused stream stayed open after {first}")
            return "passed"
    except InvalidStatus as e:
        assert e.response.status_code == 400, e.response.status_code
        return "passed"


def test_metrics_need_an_unscoped_read_token_when_not_open(workdir, daemons):
    t = Tokens()
    d, _ = start(workdir, daemons, t.yaml(metrics_open=False))
    assert call(d, "GET", "/metrics")[0] == 401
    assert call(d, "GET", "/metrics", t.secret["reader_a"])[0] == 403
    assert call(d, "GET", "/metrics", t.secret["reader"])[0] == 200
    assert call(d, "GET", "/healthz")[0] == 200


# ---------------------------------------------------------------------------------------------
# Rotation: SIGHUP rereads the tokens; a broken file keeps the old ones and says why.


def test_sighup_rotates_tokens_and_a_bad_file_keeps_the_old_ones(workdir, daemons):
    old, new = secrets.token_hex(20), secrets.token_hex(20)
    token_file = workdir / "ops.token"
    token_file.write_text(old + "\n")
    config = f"auth:\n  tokens:\n    - name: ops\n      token_file: {token_file}\n      role: admin\n"
    d, cfg = start(workdir, daemons, config)
    assert call(d, "GET", "/v1/alerts", old)[0] == 200
    assert call(d, "GET", "/v1/alerts", new)[0] == 401

    token_file.write_text(new + "\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: call(d, "GET", "/v1/alerts", new)[0] == 200, 10, "the new token accepted after SIGHUP")
    assert call(d, "GET", "/v1/alerts", old)[0] == 401

    # A token file that is gone: the reload fails, the new token stays in force, the log says why.
    token_file.unlink()
    d.signal(signal.SIGHUP)
    wait_for(lambda: "auth reload failed" in d.log_path.read_text(), 10, "the failed reload logged")
    assert "cannot be read" in d.log_path.read_text()
    assert call(d, "GET", "/v1/alerts", new)[0] == 200
    # POST /v1/reload says the same in its answer (422), and still nothing changes.
    status, raw = call(d, "POST", "/v1/reload", new, b"")
    body = json.loads(raw)
    assert status == 422 and body["access"]["successful"] is False and "cannot be read" in body["access"]["errors"][0], raw
    assert call(d, "GET", "/v1/alerts", new)[0] == 200

    # A hashed token added in the file works after POST /v1/reload.
    third = secrets.token_hex(20)
    token_file.write_text(new)
    cfg.write_text(config + f"    - name: viewer\n      sha256: {sha(third)}\n      role: read\n")
    status, raw = call(d, "POST", "/v1/reload", new, b"")
    assert status == 200 and json.loads(raw)["access"] == {"successful": True, "errors": []}, raw
    assert call(d, "GET", "/v1/alerts", third)[0] == 200
    assert call(d, "POST", "/v1/reload", third, b"")[0] == 403
    log = d.log_path.read_text()
    assert "ops" in log and old not in log and new not in log and third not in log and sha(third) not in log


# ---------------------------------------------------------------------------------------------
# Without tokens: loopback only, unless the operator says otherwise.


def test_without_tokens_a_non_loopback_listener_is_refused_unless_allowed(workdir, daemons):
    port = free_port()
    cfg = workdir / "open.yaml"
    cfg.write_text("kafka:\n  enabled: false\n")
    env = {"INGESTD_HTTP_LISTEN": f"0.0.0.0:{port}", "INGESTD_DATA_DIR": str(workdir / "data"),
           "INGESTD_RULES_FILES": "[]"}
    full = dict(os.environ, **env)
    result = subprocess.run([ingestd_bin(), "run", "-c", str(cfg)], env=full, capture_output=True, timeout=60)
    assert result.returncode == 78, result
    assert b"auth.tokens is empty" in result.stderr and b"auth.allow_unauthenticated" in result.stderr, result.stderr

    cfg.write_text("kafka:\n  enabled: false\nauth:\n  allow_unauthenticated: true\n")
    d = Daemon(workdir, env={"INGESTD_RULES_FILES": "[]"})
    d.env["INGESTD_HTTP_LISTEN"] = f"0.0.0.0:{d.port}"
    d.args = ["-c", str(cfg)]
    daemons.append(d.start())
    assert call(d, "GET", "/v1/alerts")[0] == 200
    assert "the HTTP API is open to anyone" in d.log_path.read_text()


# ---------------------------------------------------------------------------------------------
# TLS: a CA and server certificates from openssl; a client trusting the CA connects, plain
# HTTP is refused, SIGHUP serves a new certificate.


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(dir_):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=ingestd e2e CA", cwd=dir_)


def make_server_cert(dir_, name, serial):
    (dir_ / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=dir_)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", str(serial),
            "-days", "1", "-out", f"{name}.pem", "-extfile", "san.ext", cwd=dir_)


class TLSDaemon(Daemon):
    def __init__(self, *args, ca=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.url = f"https://127.0.0.1:{self.port}"
        self.context = ssl.create_default_context(cafile=str(ca))

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=10, context=self.context) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return (0, b"")

    def peer_serial(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return int(s.getpeercert()["serialNumber"], 16)


def test_tls_serves_clients_that_trust_the_ca_refuses_plain_http_and_reloads_the_certificate(workdir, daemons):
    pki = workdir / "pki"
    pki.mkdir()
    make_ca(pki)
    make_server_cert(pki, "server", 1001)
    reader = secrets.token_hex(20)
    cfg = workdir / "tls.yaml"
    cfg.write_text(f"http:\n  tls:\n    certificate: {pki / 'live.pem'}\n    key: {pki / 'live.key'}\n"
                   f"auth:\n  tokens:\n    - name: reader\n      sha256: {sha(reader)}\n      role: read\n")
    (pki / "live.pem").write_bytes((pki / "server.pem").read_bytes())
    (pki / "live.key").write_bytes((pki / "server.key").read_bytes())
    d = TLSDaemon(workdir, ca=pki / "ca.pem", env={"INGESTD_RULES_FILES": "[]"})
    d.args = ["-c", str(cfg)]
    daemons.append(d.start())

    # A client that trusts the CA: verified handshake, then the API with a token.
    assert d.get("/healthz")[0] == 200
    assert d.peer_serial() == 1001
    req = urllib.request.Request(d.url + "/v1/alerts", headers={"Authorization": f"Bearer {reader}"})
    with urllib.request.urlopen(req, timeout=10, context=d.context) as r:
        assert r.status == 200 and "alerts" in json.loads(r.read())
    # The stream's upgrade goes through TLS and the same token check.
    assert stream_auth(d.url, ["ingestd.v1", f"bearer.{reader}"], ssl_context=d.context) == "passed"
    refused = stream_auth(d.url, ["ingestd.v1", "bearer.not-the-token"], ssl_context=d.context)
    assert refused[0] == 1008 and refused[1]["status"] == 401, refused

    # A client that does not trust the CA fails verification.
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")

    # Plain HTTP on the TLS port gets no HTTP answer: the handshake fails and the connection closes.
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    assert not received.startswith(b"HTTP/"), received
    try:
        http("GET", f"http://127.0.0.1:{d.port}/healthz", timeout=10)
        raise AssertionError("plain HTTP on the TLS port was answered")
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        assert not isinstance(e, urllib.error.HTTPError)

    # SIGHUP: the new certificate is served to new connections.
    make_server_cert(pki, "rotated", 2002)
    (pki / "live.pem").write_bytes((pki / "rotated.pem").read_bytes())
    (pki / "live.key").write_bytes((pki / "rotated.key").read_bytes())
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.peer_serial() == 2002, 10, "the rotated certificate served")

    # A key that does not fit the certificate: the reload fails and the old pair stays.
    make_server_cert(pki, "other", 3003)
    (pki / "live.pem").write_bytes((pki / "server.pem").read_bytes())
    (pki / "live.key").write_bytes((pki / "other.key").read_bytes())
    d.signal(signal.SIGHUP)
    wait_for(lambda: "auth reload failed" in d.log_path.read_text(), 10, "the failed TLS reload logged")
    assert d.peer_serial() == 2002
    assert d.get("/healthz")[0] == 200


def test_an_unusable_certificate_or_key_stops_the_start_with_exit_78(workdir):
    pki = workdir / "pki"
    pki.mkdir()
    make_ca(pki)
    make_server_cert(pki, "server", 1)
    make_server_cert(pki, "other", 2)
    base = dict(os.environ, INGESTD_DATA_DIR=str(workdir / "data"), INGESTD_RULES_FILES="[]",
                INGESTD_KAFKA_ENABLED="false", INGESTD_HTTP_LISTEN=f"127.0.0.1:{free_port()}")
    cases = {
        "missing": (pki / "nope.pem", pki / "server.key", b"not a readable PEM certificate"),
        "mismatched": (pki / "server.pem", pki / "other.key", b"does not fit"),
        "key is a certificate": (pki / "server.pem", pki / "server.pem", b"private key"),
    }
    for what, (cert, key, message) in cases.items():
        env = dict(base, INGESTD_HTTP_TLS_CERTIFICATE=str(cert), INGESTD_HTTP_TLS_KEY=str(key))
        result = subprocess.run([ingestd_bin(), "run"], env=env, capture_output=True, timeout=60)
        assert result.returncode == 78 and message in result.stderr, (what, result.returncode, result.stderr[-2000:])


def test_a_stream_token_for_account_a_gets_nothing_of_account_b(workdir, daemons):
    """The stream applies the token's scope to every event and tick: A's alerts arrive, B's and
    the rule reloads (which name every account's rules) do not, cost sums cover A only."""
    import asyncio
    import websockets
    tokens = Tokens()
    d, _ = start(workdir, daemons, "kafka:\n  enabled: false\n" + tokens.yaml(), rules=RULES)
    url = d.url.replace("http://", "ws://") + "/v1/stream"

    async def run():
        async with websockets.connect(url, subprotocols=["ingestd.v1", "bearer." + tokens.secret["reader_a"]]) as a, \
                websockets.connect(url, additional_headers={"Authorization": "Bearer " + tokens.secret["reader"]}) as everyone:
            for ws in (a, everyone):
                assert json.loads(await ws.recv())["type"] == "hello"
                await ws.send(json.dumps({"type": "subscribe", "id": "all", "kinds": ["alert", "notification", "reload"]}))
                assert json.loads(await ws.recv())["type"] == "subscribed"
            await a.send(json.dumps({"type": "subscribe", "id": "spend", "kinds": ["cost"],
                                     "cost": {"window": "1h", "by": ["service"], "every": "1s"}}))
            assert json.loads(await a.recv())["type"] == "subscribed"
            body = (event("A", 150) + "\n" + event("B", 200) + "\n").encode()
            assert call(d, "POST", "/v1/events", tokens.secret["writer"], body)[0] == 200
            assert call(d, "POST", "/v1/reload", tokens.secret["admin"], b"")[0] == 200
            seen_everyone = []
            while not ({"A", "B"} <= {m["data"]["labels"]["account"] for m in seen_everyone if m.get("kind") == "alert"}
                       and any(m.get("kind") == "reload" for m in seen_everyone)):
                seen_everyone.append(json.loads(await asyncio.wait_for(everyone.recv(), 15)))
            seen_a = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                try:
                    seen_a.append(json.loads(await asyncio.wait_for(a.recv(), 0.5)))
                except asyncio.TimeoutError:
                    pass
            return seen_a

    seen_a = asyncio.run(run())
    events = [m for m in seen_a if m["type"] == "event"]
    assert events and {m["data"]["labels"]["account"] for m in events} == {"A"}, events
    assert all(m["kind"] == "alert" for m in events), "no reload events for a scoped token"
    ticks = [m for m in seen_a if m["type"] == "cost"]
    assert ticks and all(row["value"] == 150 for t in ticks for row in t["series"] if t["series"]), ticks
    assert any(t["series"] for t in ticks), "A's spend shows in the ticks"
