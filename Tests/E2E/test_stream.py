"""/v1/stream with real WebSocket clients (the `websockets` package) against the real daemon:
filters, a slow client cut off while 100 others keep up, resume with `since` across a restart,
and malformed input answered on the socket."""
import asyncio
import base64
import json
import os
import re
import socket
import time

import websockets

from conftest import Daemon, event, wait_for

RULES = """
groups:
  - name: live
    interval: 1s
    rules:
      - alert: AccountSpendHigh
        kind: threshold
        by: [account]
        window: 1h
        above: 100
"""


def start(workdir, daemons, env=None):
    (workdir / "rules.yaml").write_text(RULES)
    d = Daemon(workdir, env={"INGESTD_RULES_FILES": json.dumps([str(workdir / "rules.yaml")]), **(env or {})})
    daemons.append(d.start())
    return d


def spend(d, accounts, cost=150):
    for i in range(0, len(accounts), 5000):
        body = "\n".join(event(a, cost) for a in accounts[i:i + 5000]).encode()
        status, answer = d.post("/v1/events", body)
        assert status == 200, answer


def ws_url(d):
    return d.url.replace("http://", "ws://") + "/v1/stream"


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws, **fields):
    await ws.send(json.dumps({"type": "subscribe", **fields}))
    while True:
        m = await recv_json(ws)
        if m["type"] in ("subscribed", "error"):
            return m


async def collect(ws, until, timeout=30):
    """Messages until `until(messages)` holds."""
    out = []
    deadline = time.monotonic() + timeout
    while not until(out):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out with {len(out)} messages: {out[-3:]}"
        out.append(await recv_json(ws, left))
    return out


def test_filters_deliver_exactly_the_matching_events(workdir, daemons):
    d = start(workdir, daemons)

    async def run():
        async with websockets.connect(ws_url(d), subprotocols=["ingestd.v1"]) as one, \
                websockets.connect(ws_url(d)) as everything:
            assert one.subprotocol == "ingestd.v1"
            assert (await recv_json(one))["type"] == "hello" and (await recv_json(everything))["type"] == "hello"
            assert (await subscribe(one, id="a1", kinds=["alert"], match='{account="a1"}'))["type"] == "subscribed"
            assert (await subscribe(everything, id="all"))["type"] == "subscribed"
            spend(d, ["a1", "a2", "a3"])
            wait_for(lambda: len(json.loads(d.get("/v1/alerts/history?since=0")[1])["transitions"]) >= 6, 15,
                     "pending and firing for three accounts")
            got_all = await collect(everything, lambda ms: sum(m["type"] == "event" for m in ms) >= 6)
            got_one = await collect(one, lambda ms: len(ms) >= 2)
            for ws in (one, everything):  # and nothing more
                try:
                    extra = await recv_json(ws, 1.5)
                    raise AssertionError(f"unexpected message {extra}")
                except asyncio.TimeoutError:
                    pass
            return got_one, got_all

    got_one, got_all = asyncio.run(run())
    history = json.loads(d.get("/v1/alerts/history?since=0")[1])["transitions"]
    expected_one = [(t["state"], t["fingerprint"]) for t in history if t["labels"]["account"] == "a1"]
    assert [(m["data"]["state"], m["data"]["fingerprint"]) for m in got_one] == expected_one
    assert all(m["subscription"] == "a1" and m["kind"] == "alert" for m in got_one)
    events = [m for m in got_all if m["type"] == "event"]
    assert sorted((m["data"]["labels"]["account"], m["data"]["state"]) for m in events) == \
        sorted((t["labels"]["account"], t["state"]) for t in history)
    seqs = [m["seq"] for m in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def raw_client(d, rcvbuf=4096, subscriptions=None):
    """A WebSocket client that completes the handshake, sends `subscriptions` (default: sixteen
    to everything) and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", d.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    # Sixteen subscriptions to everything: every event reaches it sixteen times, far more than
    # its queue and the kernel's socket buffers hold.
    for sub in subscriptions or [{"type": "subscribe", "id": f"slow{n}"} for n in range(16)]:
        payload = json.dumps(sub).encode()
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return s


def metric(d, name):
    found = re.search(rf"^{name} (\S+)$", d.metrics(), re.M)
    return float(found.group(1)) if found else None


def test_a_client_that_stops_reading_during_its_replay_is_cut_off_and_disconnected(workdir, daemons):
    # The replay of missed events waits for the client to read it, while its live events wait in
    # a queue of 16: a client that stops reading mid-replay falls behind like any other and its
    # connection must end, not stay open with its replay waiting forever.
    d = start(workdir, daemons, env={"INGESTD_STREAM_CLIENT_QUEUE": "16"})
    # 20,000 transitions (pending and firing) in the stream log: ≈ 8 MB to replay, more than the
    # kernel's socket buffers take (tcp_wmem reaches 4 MB here).
    spend(d, [f"acct-{i:05d}" for i in range(10_000)])
    wait_for(lambda: (metric(d, "ingestd_stream_events_total") or 0) >= 20_000, 60, "20,000 transitions in the stream log")
    s = raw_client(d, subscriptions=[{"type": "subscribe", "id": "late", "since": 0}])
    wait_for(lambda: metric(d, "ingestd_stream_clients") == 1, 10, "the client connected")
    time.sleep(2)  # its replay is stuck on the unread socket by now
    for _ in range(20):
        status, _ = d.post("/v1/reload", b"")
        assert status == 200
    wait_for(lambda: metric(d, "ingestd_stream_slow_clients_total") == 1 and metric(d, "ingestd_stream_clients") == 0,
             15, "the replaying client cut off and its connection ended")
    s.close()
    assert d.get("/healthz")[0] == 200


def test_a_client_that_stops_reading_is_cut_off_while_100_others_receive_everything(workdir, daemons):
    # Each round fires 100 alerts (200 transitions: pending and firing), under the queue of 256
    # that a reading client drains between rounds; the client that reads nothing falls behind.
    d = start(workdir, daemons, env={"INGESTD_STREAM_CLIENT_QUEUE": "256"})
    slow = raw_client(d)
    rounds, per_round = 5, 100
    n_events = rounds * per_round * 2

    async def run():
        clients = [await websockets.connect(ws_url(d), max_queue=None) for _ in range(100)]
        for c in clients:
            assert (await recv_json(c))["type"] == "hello"
            assert (await subscribe(c, id="x", kinds=["alert"]))["type"] == "subscribed"
        async def produce():
            for r in range(rounds):
                spend(d, [f"acct{r}-{i:03d}" for i in range(per_round)])
                await asyncio.sleep(1.2)

        async def count(c):
            seen = []
            while len(seen) < n_events:
                m = await recv_json(c, 30)
                if m["type"] == "event":
                    seen.append(m["seq"])
            return seen
        results = await asyncio.gather(produce(), *(count(c) for c in clients))
        results = results[1:]
        for c in clients:
            await c.close()
        return results

    results = asyncio.run(run())
    for seen in results:
        assert len(seen) == n_events and seen == sorted(seen) and len(set(seen)) == n_events
    assert len({tuple(s) for s in results}) == 1, "every client got the same events in the same order"
    wait_for(lambda: "ingestd_stream_slow_clients_total 1" in d.metrics(), 15, "the slow client cut off")
    # Reading now, the slow client finds what fitted in its buffers and then the close frame 4000.
    slow.settimeout(10)
    data = b""
    try:
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    assert b"\x88" in data and (4000).to_bytes(2, "big") in data[data.rfind(b"\x88"):], "close code 4000"
    assert d.get("/healthz")[0] == 200


def test_reconnect_with_since_misses_nothing_and_repeats_nothing_across_a_restart(workdir, daemons):
    d = start(workdir, daemons)

    async def first_part():
        async with websockets.connect(ws_url(d)) as ws:
            await recv_json(ws)
            await subscribe(ws, id="s", kinds=["alert"])
            spend(d, ["b1", "b2"])
            got = await collect(ws, lambda ms: sum(m["type"] == "event" for m in ms) >= 4)  # pending and firing each
            return [m for m in got if m["type"] == "event"]

    seen = asyncio.run(first_part())
    last = seen[-1]["seq"]
    spend(d, ["b3"])  # while nobody listens
    wait_for(lambda: len(json.loads(d.get("/v1/alerts")[1])["alerts"]) == 3, 15, "b3 firing")
    assert d.stop() == 0
    d.start()
    spend(d, ["b4"])
    wait_for(lambda: len(json.loads(d.get("/v1/alerts")[1])["alerts"]) == 4, 15, "b4 firing")

    async def second_part():
        async with websockets.connect(ws_url(d)) as ws:
            hello = await recv_json(ws)
            ack = await subscribe(ws, id="s", kinds=["alert"], since=last)
            assert ack["type"] == "subscribed"
            got = await collect(ws, lambda ms: sum(m["type"] == "event" for m in ms) >= 4)
            await asyncio.sleep(1.5)
            more = []
            try:
                while True:
                    more.append(await recv_json(ws, 0.2))
            except asyncio.TimeoutError:
                pass
            return hello, [m for m in got + more if m["type"] == "event"]

    hello, resumed = asyncio.run(second_part())
    got = sorted((m["data"]["labels"]["account"], m["data"]["state"]) for m in resumed)
    assert got == [("b3", "firing"), ("b3", "pending"), ("b4", "firing"), ("b4", "pending")], resumed
    seqs = [m["seq"] for m in resumed]
    assert seqs[0] > last and seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert hello["seq"] >= seqs[0] - 1


def test_malformed_frames_and_messages_are_answered_and_the_connection_stays(workdir, daemons):
    d = start(workdir, daemons)

    async def run():
        async with websockets.connect(ws_url(d)) as ws:
            await recv_json(ws)
            answers = []
            for bad in ["not json", "[1,2]", json.dumps({"type": "subscribe"}),
                        json.dumps({"type": "dance", "id": "x"}),
                        json.dumps({"type": "subscribe", "id": "x", "kinds": ["weather"]}),
                        json.dumps({"type": "subscribe", "id": "x", "match": "{account=\"a"}),
                        json.dumps({"type": "subscribe", "id": "x", "since": -1}),
                        json.dumps({"type": "subscribe", "id": "x", "since": 10 ** 12}),
                        json.dumps({"type": "subscribe", "id": "x", "kinds": ["cost"]}),
                        json.dumps({"type": "subscribe", "id": "x", "kinds": ["cost"], "cost": {"window": "1h", "every": "0s"}}),
                        json.dumps({"type": "unsubscribe", "id": "nope"})]:
                await ws.send(bad)
                answers.append(await recv_json(ws))
            await ws.send(b"\x00\x01binary")
            answers.append(await recv_json(ws))
            ok = await subscribe(ws, id="fine", kinds=["alert"])
            return answers, ok

    answers, ok = asyncio.run(run())
    assert all(a["type"] == "error" and a["message"] for a in answers), answers
    assert "since" in answers[7]["message"] and "ahead" in answers[7]["message"]
    assert ok["type"] == "subscribed"
    assert d.get("/healthz")[0] == 200
