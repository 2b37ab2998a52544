"""SIGTERM with /v1/stream clients connected: every client gets the close frame 1001 (going away)
from the daemon, whatever it subscribed to, and the daemon still exits 0 within shutdown.grace
(open sockets do not hold the shutdown up)."""
import asyncio
import json
import signal

import websockets

from conftest import Daemon

GRACE_SECONDS = 10


def test_sigterm_closes_every_stream_client_with_1001_and_exits_0(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_SHUTDOWN_GRACE": f"{GRACE_SECONDS}s"})
    daemons.append(d.start())
    url = d.url.replace("http://", "ws://") + "/v1/stream"
    subscriptions = [
        {"id": "r", "kinds": ["reload"]},
        {"id": "a", "kinds": ["alert", "notification"], "match": '{account="123"}'},
        # A cost subscription has a tick task of its own, which must not hold the connection open.
        {"id": "c", "kinds": ["cost"], "cost": {"window": "1h", "by": ["account"], "every": "1s"}},
    ]

    async def run():
        clients = []
        for sub in subscriptions:
            ws = await websockets.connect(url)
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
            await ws.send(json.dumps({"type": "subscribe", **sub}))
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert m["type"] != "error", m
                if m["type"] == "subscribed":
                    break
            clients.append(ws)

        d.signal(signal.SIGTERM)

        async def close_frame(ws):
            # Whatever arrives first (a cost tick, say), the last thing is the daemon's close frame.
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), GRACE_SECONDS)
            except websockets.ConnectionClosed as e:
                return e.rcvd
        return await asyncio.gather(*(close_frame(ws) for ws in clients))

    frames = asyncio.run(run())
    for sub, frame in zip(subscriptions, frames):
        assert frame is not None, f"client {sub['id']}: the connection ended without a close frame"
        assert (frame.code, frame.reason) == (1001, "the daemon is stopping"), f"client {sub['id']}: {frame}"
    assert d.proc.wait(GRACE_SECONDS) == 0, d.log_tail()
