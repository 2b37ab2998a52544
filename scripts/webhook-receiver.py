#!/usr/bin/env python3
"""The demo's webhook receiver (`make demo`): prints every notification ingestd sends, readably.

    python3 scripts/webhook-receiver.py [--port 9095] [--secret S]

Listens on 127.0.0.1:PORT and answers every POST 200. With --secret (or $DEMO_WEBHOOK_SECRET)
it checks each delivery's signature the documented way and prints "signature ok" or why not:
X-Ingestd-Signature is v1=HEX(HMAC_SHA256(secret, X-Ingestd-Timestamp + "." + body)), and a
timestamp more than 5 minutes from now is refused. Standard library only; copy it as the start
of your own receiver.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
KEY_LABELS = ("account", "service", "region", "currency", "severity", "team")


def verify(secret: bytes, headers, body: bytes):
    """(True, "ok") or (False, why)."""
    timestamp = headers.get("X-Ingestd-Timestamp")
    signature = headers.get("X-Ingestd-Signature")
    if not timestamp or not signature:
        return False, "missing X-Ingestd-Timestamp or X-Ingestd-Signature"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False, f"bad timestamp {timestamp!r}"
    age = time.time() - int(timestamp)
    if abs(age) > TOLERANCE_SECONDS:
        return False, f"timestamp {age:.0f} s from now (replayed?)"
    expected = ("v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()).encode()
    matched = False
    for candidate in signature.split(","):
        matched |= hmac.compare_digest(candidate.strip().encode(), expected)
    return (True, "ok") if matched else (False, "signature mismatch (wrong secret or altered body)")


def clock(rfc3339):
    """"2026-08-01T12:03:05.123Z" -> "12:03:05"; the zero time Alertmanager sends while firing -> ""."""
    if not rfc3339 or rfc3339.startswith("0001-"):
        return ""
    return rfc3339[11:19] + "Z"


def number(value):
    return f"{value:,.2f}" if isinstance(value, (int, float)) else str(value)


def describe(payload, key, signature, out):
    now = time.strftime("%H:%M:%SZ", time.gmtime())
    alerts = payload.get("alerts") or []
    status = str(payload.get("status", "?")).upper()
    head = f"[{now}] {status}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} for receiver {payload.get('receiver', '?')}"
    if payload.get("truncatedAlerts"):
        head += f" (+{payload['truncatedAlerts']} truncated)"
    print(head, file=out)
    print(f"  idempotency key {key or '(none)'}   signature {signature}", file=out)
    for alert in alerts:
        labels = alert.get("labels") or {}
        shown = " ".join(f"{k}={labels[k]}" for k in KEY_LABELS if k in labels)
        print(f"  - {str(alert.get('status', '?')).upper():8} {labels.get('alertname', '?')}  {shown}", file=out)
        summary = (alert.get("annotations") or {}).get("summary")
        if summary:
            print(f"      {summary}", file=out)
        details = []
        if "value" in alert:
            details.append(f"value {number(alert['value'])}")
        if clock(alert.get("startsAt")):
            details.append(f"since {clock(alert['startsAt'])}")
        if clock(alert.get("endsAt")):
            details.append(f"ended {clock(alert['endsAt'])}")
        if details:
            print("      " + ", ".join(details), file=out)
    out.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; answers Expect: 100-continue at once
    # Headers and body are two writes: with Nagle on, the body waits for the client's delayed ACK
    # (about 40 ms per request on a keep-alive connection).
    disable_nagle_algorithm = True
    secret = None

    def log_message(self, format, *args):  # noqa: A002 - the printout below says what matters
        pass

    def do_GET(self):
        self.answer(b"ingestd demo webhook receiver: POST notifications here\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.secret is None:
            signature = "not checked (no secret)"
        else:
            ok, why = verify(self.secret, self.headers, body)
            signature = "ok" if ok else f"FAILED: {why}"
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
            describe(payload, self.headers.get("Idempotency-Key"), signature, sys.stdout)
        except ValueError as error:
            print(f"[{time.strftime('%H:%M:%SZ', time.gmtime())}] {len(body)} bytes that are not a notification ({error}); "
                  f"signature {signature}", flush=True)
        self.answer(b'{"ok":true}\n')

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9095)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", default=os.environ.get("DEMO_WEBHOOK_SECRET"),
                        help="signing secret (default: $DEMO_WEBHOOK_SECRET); without one signatures are not checked")
    args = parser.parse_args()
    Handler.secret = args.secret.encode() if args.secret else None
    try:
        server = ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as error:
        sys.exit(f"webhook-receiver: cannot listen on {args.host}:{args.port}: {error}")
    server.daemon_threads = True
    checking = "checking signatures" if Handler.secret else "not checking signatures (no secret)"
    print(f"webhook receiver listening on http://{args.host}:{args.port}/, {checking}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
