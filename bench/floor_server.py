"""The floor for the hub benchmark: a bare ``websockets`` broadcast server.

    python bench/floor_server.py PORT

Every connection gets one ``{"type":"hello"}`` frame and joins the audience. A connection to
``/control`` is the trigger: each text frame it sends is ``{"id": ID, "frames": [TEXT, ...]}``;
the frames are broadcast to the whole audience with ``websockets.broadcast`` — one call per
frame, in order — and then acknowledged to the controller with ``{"type":"ack","re":ID}``.
Per-message compression is off; pings as ``websockets`` does by default (every 20 s, like the
product's heartbeat). Prints ``floor listening`` when ready; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

AUDIENCE: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    if path.startswith("/control"):
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                request = json.loads(message)
                for frame in request["frames"]:
                    broadcast(AUDIENCE, frame)
                ack = {"type": "ack", "re": request["id"]}
                await ws.send(json.dumps(ack, separators=(",", ":")))
        return
    AUDIENCE.add(ws)
    try:
        await ws.send('{"type":"hello"}')
        await ws.wait_closed()
    finally:
        AUDIENCE.discard(ws)


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**20):
        print("floor listening", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
