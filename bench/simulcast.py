"""What a simulcast destination costs in CPU, beside the recorder that feeds it.

Runs the recorder's own command (the test picture, encoded to HLS, as a session with the
default source records) and, once it has segments, the push of one destination exactly as
``live.simulcast_push`` runs it (``push_args``: the live playlist copied to FLV) into a local
RTMP listener (ffmpeg ``-listen 1``, writing nothing). Each process's CPU seconds over the
same ``--seconds`` window come from /proc. The recorder is the floor measured in the same
run: the push is reported as a share of one core and as a fraction of the recorder.

    python bench/simulcast.py [--seconds 20] [--size 1280x720]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import cpu_seconds, free_port
from live import recorder_commands as commands
from live.ffmpeg import find_ffmpeg
from live.simulcast import push_args


async def spawn(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


async def until_exists(path: Path) -> None:
    while True:
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.2)


async def main(seconds: float, size: str) -> dict[str, object]:
    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        inputs = commands.test_source_args(size=size, clock=False)
        recorder = await spawn(commands.record_args(ffmpeg, inputs, out, copy_video=False,
                                                    copy_audio=False, two_inputs=True))
        playlist = out / commands.PLAYLIST_NAME
        await until_exists(playlist)
        port = free_port()
        url = f"rtmp://127.0.0.1:{port}/live/benchkey"
        listener = await spawn([ffmpeg, "-hide_banner", "-nostdin", "-listen", "1", "-f", "flv",
                                "-i", url, "-c", "copy", "-f", "null", "-"])
        await asyncio.sleep(0.5)
        pusher = await spawn(push_args(ffmpeg, playlist, url))
        await asyncio.sleep(3)  # connected and past the first segment
        procs = {"recorder": recorder, "push": pusher, "listener": listener}
        start = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        began = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - began
        used = {name: cpu_seconds(p.pid) - start[name] for name, p in procs.items()}
        alive = {name: p.returncode is None for name, p in procs.items()}
        for p in procs.values():
            if p.returncode is None:
                p.kill()
                await p.wait()
    share = {name: round(100 * cpu / wall, 2) for name, cpu in used.items()}
    return {"bench": "simulcast", "size": size, "seconds": round(wall, 1),
            "recorder_cpu_pct": share["recorder"], "push_cpu_pct": share["push"],
            "listener_cpu_pct": share["listener"],
            "push_vs_recorder": round(used["push"] / used["recorder"], 4)
            if used["recorder"] else None,
            "all_ran": all(alive.values())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.seconds, args.size))))
