"""The test receivers themselves (receivers.py): each fault mode answers as configured and the
signature check accepts the documented algorithm and nothing else, so a notification test cannot
pass because its harness quietly accepted everything. No daemon; fast."""
import http.client
import json
import socket
import threading
import time

import pytest

from receivers import WebhookReceiver, sign, verify_signature

BODY = b'{"version":"4","status":"firing","alerts":[{"labels":{"alertname":"X"}}]}'


@pytest.fixture
def receiver():
    with WebhookReceiver("selftest") as r:
        yield r


def post(receiver, key="k1", body=BODY, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json",
                                                       "Idempotency-Key": key, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw_post(port, key="raw", body=BODY):
    """Sends one request on a raw socket and returns what the server did: ('answer', first line),
    ('reset', None) for a TCP RST, or ('closed', None) for a clean close without an answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Idempotency-Key: " + key.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
                  + b"\r\n\r\n" + body)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            return "reset", None
        return ("answer", data.split(b"\r\n")[0].decode()) if data else ("closed", None)
    finally:
        s.close()


def test_healthy_records_deliveries_with_key_body_and_times(receiver):
    before = time.time()
    assert post(receiver, "a")[0] == 200
    assert post(receiver, "b")[0] == 200
    assert post(receiver, "a")[0] == 200
    deliveries = receiver.wait_for_count(3, timeout=5)
    assert receiver.keys() == ["a", "b", "a"]
    assert receiver.unique_keys() == {"a", "b"}
    assert receiver.duplicates() == {"a": 2}
    first = deliveries[0]
    assert first.json == json.loads(BODY) and first.body == BODY
    assert first.alerts == [{"labels": {"alertname": "X"}}]
    assert first.headers["content-type"] == "application/json"
    assert before <= first.received_wall <= time.time()
    assert first.received_monotonic <= deliveries[1].received_monotonic
    assert first.signature_ok is None  # no secret, no check


def test_fail_for_n_requests_then_healthy(receiver):
    receiver.fail(503, count=2)
    assert [post(receiver, f"k{i}")[0] for i in range(3)] == [503, 503, 200]
    assert [r.status for r in receiver.attempts] == [503, 503, 200]
    assert receiver.keys() == ["k2"]
    assert [r.idempotency_key for r in receiver.failed_attempts] == ["k0", "k1"]


def test_fail_with_retry_after(receiver):
    receiver.fail(503, count=1, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    status, headers, _ = post(receiver)
    assert status == 503 and headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    receiver.fail(500, count=1)
    status, headers, _ = post(receiver)
    assert status == 500 and "Retry-After" not in headers


def test_fail_until_recover(receiver):
    receiver.fail(500)
    assert [post(receiver)[0] for _ in range(4)] == [500] * 4
    assert receiver.deliveries == []
    receiver.recover()
    assert post(receiver)[0] == 200
    assert len(receiver.deliveries) == 1 and len(receiver.attempts) == 5


def test_rate_limit_answers_429_with_retry_after(receiver):
    receiver.rate_limit(7, count=1)
    status, headers, _ = post(receiver)
    assert status == 429 and headers["Retry-After"] == "7"
    assert post(receiver)[0] == 200
    assert [r.status for r in receiver.attempts] == [429, 200]


def test_reset_closes_with_rst_and_counts_an_attempt(receiver):
    receiver.reset(count=2)
    assert raw_post(receiver.port, "r0") == ("reset", None)
    assert raw_post(receiver.port, "r1") == ("reset", None)
    assert raw_post(receiver.port, "r2") == ("answer", "HTTP/1.1 200 OK")
    assert [(r.idempotency_key, r.outcome) for r in receiver.attempts] == [
        ("r0", "reset"), ("r1", "reset"), ("r2", "answered")]
    assert receiver.keys() == ["r2"]


def test_hang_holds_without_answer_until_released(receiver):
    receiver.hang(count=1)
    result = []
    client = threading.Thread(target=lambda: result.append(raw_post(receiver.port, "h0")))
    client.start()
    receiver.wait_for_held(1, timeout=10)
    assert client.is_alive() and result == []  # held: nothing answered yet
    assert receiver.attempts == []  # a held request is recorded once it ends
    receiver.release()
    client.join(10)
    assert result and result[0][0] in ("reset", "closed"), result  # closed without an answer
    assert [(r.idempotency_key, r.outcome, r.status) for r in receiver.attempts] == [("h0", "hang-closed", None)]
    assert receiver.held == 0
    assert post(receiver, "h1")[0] == 200  # count=1: the next one is answered
    assert receiver.keys() == ["h1"]


def test_recover_releases_held_requests(receiver):
    receiver.hang()
    client = threading.Thread(target=lambda: raw_post(receiver.port, "h"))
    client.start()
    receiver.wait_for_held(1, timeout=10)
    receiver.recover()
    client.join(10)
    assert not client.is_alive()
    assert post(receiver)[0] == 200


def test_slow_answers_after_the_delay(receiver):
    receiver.slow(0.3, count=1)
    started = time.monotonic()
    assert post(receiver)[0] == 200
    assert time.monotonic() - started >= 0.3
    assert len(receiver.deliveries) == 1


def test_keep_alive_and_expect_100_continue(receiver):
    # curl sends Expect: 100-continue for larger bodies and waits a second unless answered.
    body = json.dumps({"pad": "x" * 4000}).encode()
    s = socket.create_connection(("127.0.0.1", receiver.port), timeout=10)
    try:
        for key in ("e1", "e2"):  # two requests on one connection
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nIdempotency-Key: " + key.encode()
                      + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 100")
            s.sendall(body)
            answer = b""
            while not answer.endswith(b'{"ok":true}\n'):
                answer += s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200")
        # Headers and body are separate writes: without TCP_NODELAY every keep-alive answer waits
        # ~40 ms for the client's delayed ACK, which would count against the daemon's latency.
        (server_side,) = receiver._connections
        assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        s.close()
    assert receiver.keys() == ["e1", "e2"]


def test_stop_refuses_connections_and_start_listens_on_the_same_port(receiver):
    port = receiver.port
    receiver.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    receiver.start()
    assert receiver.port == port and post(receiver)[0] == 200


def test_wait_for_count_fails_loudly(receiver):
    receiver.fail(500)
    post(receiver, "x")
    with pytest.raises(AssertionError, match=r"1 attempts.*injected|500"):
        receiver.wait_for_count(1, timeout=0.2)


# ---- signatures -----------------------------------------------------------------------------

def test_sign_matches_an_independent_hmac():
    # printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac hush
    assert sign("hush", b'{"a":1}', 1700000000) == \
        "v1=7cfd1df542c33ab7251748ffdc6e7fed278c63b83d4ece95a4534b0ad465571b"


def signed(secret, body, ts=None):
    ts = int(time.time()) if ts is None else ts
    return {"X-Ingestd-Timestamp": str(ts), "X-Ingestd-Signature": sign(secret, body, ts)}


def test_verify_signature_accepts_only_the_documented_algorithm():
    now = 1700000000
    good = signed("hush", BODY, now)
    assert verify_signature("hush", good, BODY, now=now) == (True, "ok")
    assert verify_signature("hush", good, BODY, now=now + 300)[0]  # at the 5 min limit
    assert verify_signature("hush", {**good, "X-Ingestd-Signature": "v1=00," + good["X-Ingestd-Signature"]},
                            BODY, now=now)[0]  # rotation: any v1= may match
    cases = {
        "wrong secret": ("other", good, BODY, now),
        "tampered body": ("hush", good, BODY + b" ", now),
        "older than 5 min": ("hush", good, BODY, now + 301),
        "from the future": ("hush", good, BODY, now - 301),
        "other timestamp": ("hush", {**good, "X-Ingestd-Timestamp": str(now + 1)}, BODY, now),
        "no signature": ("hush", {"X-Ingestd-Timestamp": str(now)}, BODY, now),
        "no timestamp": ("hush", {"X-Ingestd-Signature": good["X-Ingestd-Signature"]}, BODY, now),
        "bare hex": ("hush", {**good, "X-Ingestd-Signature": good["X-Ingestd-Signature"][3:]}, BODY, now),
        "timestamp not seconds": ("hush", {**good, "X-Ingestd-Timestamp": "1.7e9"}, BODY, now),
        "upper-case hex": ("hush", {**good, "X-Ingestd-Signature": good["X-Ingestd-Signature"].upper()}, BODY, now),
    }
    for name, (secret, headers, body, at) in cases.items():
        ok, reason = verify_signature(secret, headers, body, now=at)
        assert not ok, f"{name} was accepted"
        assert reason != "ok"


def test_receiver_with_secret_delivers_signed_and_refuses_unsigned():
    with WebhookReceiver("signed", secret="hush") as r:
        assert post(r, "good", headers=signed("hush", BODY))[0] == 200
        status, _, answer = post(r, "bad", headers=signed("wrong", BODY))
        assert status == 401 and b"signature mismatch" in answer
        assert post(r, "none")[0] == 401
        assert post(r, "stale", headers=signed("hush", BODY, int(time.time()) - 600))[0] == 401
        assert r.keys() == ["good"]
        assert r.deliveries[0].signature_ok is True
        assert [(x.idempotency_key, x.signature_ok) for x in r.signature_failures()] == [
            ("bad", False), ("none", False), ("stale", False)]
