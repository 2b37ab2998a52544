"""Per-request cost of auth and TLS: sequential keep-alive GET /v1/alerts against the real binary,
without tokens, with 50 tokens (the bearer check hashes the presented token and compares it with
every configured digest), and with the same tokens over TLS. Prints p50/p99 latency per setup.

    python3 scripts/auth_overhead.py $(swift build --show-bin-path)/ingestd [requests]
"""
import hashlib
import http.client
import os
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(binary, workdir, config, n, tls_ca=None, token=None):
    port = free_port()
    cfg = workdir / f"cfg-{port}.yaml"
    cfg.write_text(config)
    env = dict(os.environ, INGESTD_DATA_DIR=str(workdir / f"data-{port}"), INGESTD_HTTP_LISTEN=f"127.0.0.1:{port}",
               INGESTD_KAFKA_ENABLED="false", INGESTD_RULES_FILES="[]", INGESTD_LOG_LEVEL="warning")
    proc = subprocess.Popen([binary, "run", "-c", str(cfg)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def connect():
            if tls_ca:
                return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ssl.create_default_context(cafile=tls_ca))
            return http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.time() + 30
        while True:
            try:
                c = connect()
                c.request("GET", "/healthz")
                c.getresponse().read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        samples = []
        for i in range(n + 200):
            t0 = time.perf_counter()
            c.request("GET", "/v1/alerts", headers=headers)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            if i >= 200:  # warm-up
                samples.append(time.perf_counter() - t0)
        samples.sort()
        return statistics.median(samples) * 1e6, samples[int(len(samples) * 0.99)] * 1e6
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    workdir = Path(tempfile.mkdtemp(prefix="auth-overhead-"))
    secrets_ = [secrets.token_hex(32) for _ in range(50)]
    tokens = "auth:\n  tokens:\n" + "".join(
        f"    - {{name: t{i}, sha256: {hashlib.sha256(s.encode()).hexdigest()}, role: read}}\n" for i, s in enumerate(secrets_))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   cwd=workdir, check=True, capture_output=True)
    tls = f"http:\n  tls: {{certificate: {workdir / 'cert.pem'}, key: {workdir / 'key.pem'}}}\n"
    for name, config, ca, token in [
        ("no auth", "{}\n", None, None),
        ("50 tokens", tokens, None, secrets_[-1]),
        ("50 tokens + TLS", tokens + tls, str(workdir / "cert.pem"), secrets_[-1]),
    ]:
        p50, p99 = run(binary, workdir, config, n, ca, token)
        print(f"{name:16s} GET /v1/alerts x{n}: p50 {p50:7.1f} us, p99 {p99:7.1f} us")


if __name__ == "__main__":
    main()
