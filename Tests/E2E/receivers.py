"""Real HTTP webhook receivers on loopback for the notification end-to-end tests.

A `WebhookReceiver` is a stdlib `ThreadingHTTPServer` (HTTP/1.1, keep-alive, `Expect:
100-continue` answered) in a thread. Every request it reads is an *attempt*; only requests it
answered 2xx are *deliveries*. Fault modes are switched at runtime, from the test thread, while
the daemon is sending:

    healthy()                        answer 200
    fail(status, count=None, retry_after=None)
                                     answer `status` to the next `count` requests (None: until recover())
    rate_limit(retry_after, count)   answer 429 with `Retry-After: retry_after` to the next `count`
    hang(count=None, max_seconds=60) hold the next `count` requests unanswered until release()/recover()
                                     or max_seconds, then close them without an answer
    reset(count=None)                read the request, then close with SO_LINGER 0 (a TCP RST, no answer)
    slow(seconds, count=None)        answer 200 after `seconds`
    recover()                        back to healthy, releasing any held request

With a `secret`, every request's signature is checked with the documented algorithm
(`verify_signature`): a request that fails it is answered 401 and recorded as an attempt with
`signature_ok=False`, so a daemon that signs wrongly never counts as delivered and the test waiting
for deliveries fails with the reason in its message.

`stop()` closes the listener and every open connection (clients then see "connection refused");
`start()` again listens on the same port: a receiver that is down for a while.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURE_TOLERANCE_SECONDS = 300  # the documented maximum age (and future skew) of X-Ingestd-Timestamp


def sign(secret, body: bytes, timestamp: int) -> str:
    """The X-Ingestd-Signature value for `body` sent at `timestamp` (Unix seconds)."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(secret, headers, body: bytes, now=None, tolerance=SIGNATURE_TOLERANCE_SECONDS):
    """Checks a delivery the way a receiver should: returns (True, "ok") or (False, reason).

    X-Ingestd-Timestamp is Unix seconds, X-Ingestd-Signature is `v1=HEX(HMAC_SHA256(secret,
    TIMESTAMP + "." + BODY))`; several comma-separated `v1=` values are accepted (any may match),
    compared in constant time; a timestamp more than `tolerance` seconds from now is refused
    (a replayed request)."""
    get = headers.get if hasattr(headers, "get") else dict(headers).get
    timestamp = get("X-Ingestd-Timestamp") or get("x-ingestd-timestamp")
    signature = get("X-Ingestd-Signature") or get("x-ingestd-signature")
    if not timestamp:
        return False, "no X-Ingestd-Timestamp header"
    if not signature:
        return False, "no X-Ingestd-Signature header"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False, f"X-Ingestd-Timestamp {timestamp!r} is not Unix seconds"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        return False, f"X-Ingestd-Timestamp {timestamp} is {now - int(timestamp):.0f} s from now (tolerance {tolerance} s)"
    expected = sign(secret, body, int(timestamp)).encode()
    candidates = [part.strip() for part in signature.split(",") if part.strip().startswith("v1=")]
    if not candidates:
        return False, f"X-Ingestd-Signature {signature[:80]!r} has no v1= value"
    # Compare every candidate (no early exit) so timing says nothing about which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected)
    return (True, "ok") if matched else (False, "signature mismatch")


@dataclass
class Request:
    """One request the receiver read (an attempt); `delivered` when it was answered 2xx."""
    received_monotonic: float        # time.monotonic() once the whole body was read
    received_wall: float             # time.time() at the same moment (compare with daemon timestamps)
    method: str
    path: str
    headers: dict                    # header names lower-cased; a repeated header keeps its last value
    body: bytes
    json: object                     # the parsed body, or None when it is not JSON
    idempotency_key: str | None
    signature_ok: bool | None        # None without a secret
    signature_error: str | None
    outcome: str = ""                # "answered", "reset", "hang-closed", "client-gone"
    status: int | None = None        # the status answered, None for reset/hang
    answered_monotonic: float | None = None

    @property
    def delivered(self):
        return self.outcome == "answered" and self.status is not None and 200 <= self.status < 300

    @property
    def alerts(self):
        return (self.json or {}).get("alerts", []) if isinstance(self.json, dict) else []

    def __repr__(self):  # short, for assertion messages
        return (f"Request({self.outcome} {self.status} key={self.idempotency_key!r} "
                f"sig={self.signature_ok} {self.signature_error or ''} at={self.received_wall:.3f})")


@dataclass
class _Mode:
    kind: str = "healthy"            # healthy, fail, rate_limit, hang, reset, slow
    status: int = 200
    retry_after: str | None = None
    remaining: int | None = None     # requests left in this mode; None = until recover()
    seconds: float = 0.0             # slow: delay; hang: max hold


class WebhookReceiver:
    """A webhook endpoint on 127.0.0.1 (a free port unless `port` is given). Use as a context
    manager or call start()/stop()."""

    def __init__(self, name="receiver", secret=None, port=0, path="/", host="127.0.0.1"):
        self.name = name
        self.secret = secret
        self.host = host
        self.port = port
        self.path = path
        self.requests: list[Request] = []      # every attempt, in arrival order
        self._mode = _Mode()
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._held = 0
        self._server = None
        self._thread = None
        self._connections: set[socket.socket] = set()

    # ---- life cycle -------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self):
        receiver = self

        class Handler(_Handler):
            owner = receiver

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # keep-alive connection threads must not block stop()
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"receiver-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and drops every open connection (held requests are closed unanswered)."""
        if self._server is None:
            return
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None
        self._release = threading.Event()

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()

    # ---- fault modes --------------------------------------------------------------------------

    def _set_mode(self, mode: _Mode):
        with self._cond:
            self._mode = mode
            if mode.kind != "hang":
                self._release.set()
                self._release = threading.Event()

    def healthy(self):
        self._set_mode(_Mode())

    def recover(self):
        """Back to healthy; requests being held by hang() are closed without an answer."""
        self._set_mode(_Mode())

    def fail(self, status=500, count=None, retry_after=None):
        """Answers `status` (with `Retry-After: retry_after` when given, e.g. for a 503)."""
        assert not 200 <= status < 300, "fail() needs a non-2xx status"
        self._set_mode(_Mode("fail", status=status, remaining=count,
                             retry_after=None if retry_after is None else str(retry_after)))

    def rate_limit(self, retry_after=1, count=None):
        """429 with `Retry-After: retry_after` (seconds, or any string such as an HTTP date)."""
        self._set_mode(_Mode("rate_limit", status=429, retry_after=str(retry_after), remaining=count))

    def hang(self, count=None, max_seconds=60.0):
        self._set_mode(_Mode("hang", remaining=count, seconds=max_seconds))

    def release(self):
        """Closes the requests held by hang() (without an answer); the hang mode itself stays."""
        with self._cond:
            self._release.set()
            self._release = threading.Event()

    def reset(self, count=None):
        self._set_mode(_Mode("reset", remaining=count))

    def slow(self, seconds, count=None):
        self._set_mode(_Mode("slow", status=200, remaining=count, seconds=seconds))

    def _take_mode(self) -> tuple[_Mode, threading.Event]:
        """The mode for one arriving request; counts it against the mode's remaining budget."""
        with self._cond:
            mode = self._mode
            release = self._release
            if mode.kind != "healthy" and mode.remaining is not None:
                mode.remaining -= 1
                if mode.remaining <= 0:
                    self._mode = _Mode()
            return mode, release

    # ---- what arrived -----------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Request]:
        """Requests answered 2xx, in arrival order."""
        with self._cond:
            return [r for r in self.requests if r.delivered]

    @property
    def attempts(self) -> list[Request]:
        """Every request read, answered or not (an alias of `requests`, copied)."""
        with self._cond:
            return list(self.requests)

    @property
    def failed_attempts(self) -> list[Request]:
        with self._cond:
            return [r for r in self.requests if not r.delivered]

    @property
    def held(self) -> int:
        """Requests being held right now by hang()."""
        with self._cond:
            return self._held

    def keys(self) -> list:
        """Idempotency keys of the deliveries, in arrival order (repeats included)."""
        return [r.idempotency_key for r in self.deliveries]

    def unique_keys(self) -> set:
        return set(self.keys())

    def duplicates(self) -> dict:
        """Idempotency keys delivered more than once, with their count."""
        counts: dict = {}
        for key in self.keys():
            counts[key] = counts.get(key, 0) + 1
        return {k: n for k, n in counts.items() if n > 1}

    def signature_failures(self) -> list[Request]:
        with self._cond:
            return [r for r in self.requests if r.signature_ok is False]

    def clear(self):
        with self._cond:
            self.requests.clear()

    def _wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = self.requests[-5:]
                    raise AssertionError(
                        f"receiver {self.name}: timed out after {timeout}s waiting for {what}; "
                        f"{sum(r.delivered for r in self.requests)} deliveries, {len(self.requests)} attempts, "
                        f"mode {self._mode.kind}; last attempts: {recent}")
                self._cond.wait(left)

    def wait_for_count(self, n, timeout=30) -> list[Request]:
        """Waits until at least `n` deliveries arrived; returns all deliveries."""
        self._wait(lambda: sum(r.delivered for r in self.requests) >= n, timeout, f"{n} deliveries")
        return self.deliveries

    def wait_for_attempts(self, n, timeout=30) -> list[Request]:
        """Waits until at least `n` requests arrived (answered or not, held ones included)."""
        self._wait(lambda: len(self.requests) + self._held >= n, timeout, f"{n} attempts")
        return self.attempts

    def wait_for_keys(self, keys, timeout=30) -> list[Request]:
        """Waits until every idempotency key in `keys` was delivered at least once."""
        wanted = set(keys)
        self._wait(lambda: wanted <= {r.idempotency_key for r in self.requests if r.delivered},
                   timeout, f"{len(wanted)} keys")
        return self.deliveries

    def wait_for_held(self, n=1, timeout=30):
        """Waits until hang() holds at least `n` requests."""
        self._wait(lambda: self._held >= n, timeout, f"{n} held requests")

    # ---- called by the handler ----------------------------------------------------------------

    def _record(self, request: Request):
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    def _hold(self, delta):
        with self._cond:
            self._held += delta
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    protocol_version = "HTTP/1.1"  # keep-alive, and Expect: 100-continue is answered (curl waits 1 s otherwise)
    # Headers and body are two writes: with Nagle on, the body waits for the client's delayed ACK
    # (about 40 ms per request on a keep-alive connection).
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with self.owner._cond:
            self.owner._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.owner._cond:
                self.owner._connections.discard(self.connection)

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests print what matters
        pass

    def do_GET(self):  # a liveness probe for scripts; not recorded
        self._answer(200, b"webhook receiver\n", "text/plain")

    def do_POST(self):
        body = self._read_body()
        if body is None:
            return
        mono, wall = time.monotonic(), time.time()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        sig_ok = sig_err = None
        if self.owner.secret is not None:
            sig_ok, reason = verify_signature(self.owner.secret, headers, body, now=wall)
            sig_err = None if sig_ok else reason
        req = Request(mono, wall, "POST", self.path, headers, body, parsed,
                      headers.get("idempotency-key"), sig_ok, sig_err)

        if sig_ok is False:
            self._answer_recorded(req, 401, f"signature: {sig_err}\n".encode())
            return
        mode, release = self.owner._take_mode()
        if mode.kind == "reset":
            self._reset(req)
        elif mode.kind == "hang":
            self.owner._hold(+1)
            try:
                release.wait(mode.seconds)
            finally:
                self.owner._hold(-1)
            req.outcome = "hang-closed"
            self.owner._record(req)
            self._reset(None)
        elif mode.kind == "fail":
            extra = {"Retry-After": mode.retry_after} if mode.retry_after is not None else None
            self._answer_recorded(req, mode.status, f"injected failure {mode.status}\n".encode(), extra=extra)
        elif mode.kind == "rate_limit":
            self._answer_recorded(req, 429, b"slow down\n", extra={"Retry-After": mode.retry_after})
        else:
            if mode.kind == "slow":
                time.sleep(mode.seconds)
            self._answer_recorded(req, 200, b'{"ok":true}\n', "application/json")

    def _read_body(self):
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""
        except (OSError, ValueError):
            self.close_connection = True
            return None

    def _answer(self, status, body, content_type="text/plain", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _answer_recorded(self, req, status, body, content_type="text/plain", extra=None):
        # Recorded before the answer is written, so that whatever the client does after reading
        # it (the daemon marking a delivery done) happens after the test can see it.
        req.status = status
        req.outcome = "answered"
        req.answered_monotonic = time.monotonic()
        self.owner._record(req)
        try:
            self._answer(status, body, content_type, extra)
        except OSError:
            with self.owner._cond:
                req.outcome = "client-gone"  # the client hung up first: not a delivery
            self.close_connection = True

    def _reset(self, req):
        """Closes the connection with a TCP RST: SO_LINGER on with a zero timeout."""
        if req is not None:
            req.outcome = "reset"
            self.owner._record(req)
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # rfile holds a reference to the socket: close it first, or close() keeps the fd open.
        self.rfile.close()
        self.connection.close()
