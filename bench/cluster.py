"""Cluster benchmark (issue 13): fan-out across N nodes behind HAProxy against one node, in
the same run, and the bad days counted (acknowledged questions lost, resume gaps,
duplicates).

    .venv/bin/python bench/cluster.py                # 4 nodes x 5,000 viewers and 1 x 5,000
    .venv/bin/python bench/cluster.py --quick        # 3 nodes x 300 viewers and 1 x 300
    .venv/bin/python bench/cluster.py --nodes 4 --viewers-per-node 4000 --proxies 2

What it does, on loopback, in a temporary directory removed at the end (processes from
``tests/cluster/harness.py``: SecantusDB, redis-server, ``run.py serve`` nodes with
``[store] backend = "mongodb"`` and ``[cluster] redis_url``, HAProxy from
``deploy/haproxy.cfg``):

1. The single-node floor: a cluster of 1 node (same settings: MongoDB, Redis) behind HAProxy;
   ``--viewers-per-node`` viewers connect through HAProxy with the raw client of
   ``bench/_common.py`` (one epoll loop); an admin's console sends ``--events`` caption lines
   (after warm-up lines not counted), one at a time; for each, the time from just before the
   frame is written to the moment the *last* viewer has it. p99 over the lines.
2. The cluster: ``--nodes`` nodes, ``nodes x viewers-per-node`` viewers through HAProxy
   (``balance leastconn`` spreads them; the run checks the spread), the same lines timed the
   same way. ``fanout_p99_ratio_vs_single_node`` = cluster p99 / single-node p99.
3. Questions: ``--askers`` viewers each keep one ``ask`` in flight for ``--ask-seconds``
   through HAProxy: ``acks_per_s`` (an ack comes after the MongoDB commit).
4. Bad days, on the cluster, with ``--probes`` resuming clients (``tests/cluster/clients.py``:
   they reconnect with ``?since=EPOCH:SEQ``) and askers that send again until acknowledged:
   a node killed (SIGKILL) mid-burst, then Redis restarted without its data mid-burst.
   ``lost_acked_after_*``: acknowledged questions missing from MongoDB or from a console;
   ``resume_gaps`` / ``duplicates``: events of the outbox a probe missed / saw twice (summed
   over probes and both bad days).

Each HAProxy process holds two descriptors per viewer; where the open-file limit is lower
than that, ``--proxies K`` runs K HAProxy processes from the same configuration and spreads
the viewers over them; the load generator likewise runs in as many processes as the limit
needs (their arrival times share CLOCK_MONOTONIC with the sender's). Output: progress on
stderr, one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _common import (  # noqa: E402
    RawWS,
    Reactor,
    Requester,
    handshake_request,
    log,
    login,
    ms,
    percentile,
    raise_nofile,
    viewer_cookies,
)

from tests.cluster.harness import Cluster, HAProxy  # noqa: E402


class Lines:
    """Arrival of each caption line at every viewer (the line's text carries its number)."""

    MARK = b"bench-line-"

    def __init__(self, viewers: int) -> None:
        self.viewers = viewers
        self.count: dict[int, int] = {}
        self.last: dict[int, float] = {}
        self.nodes: dict[str, int] = {}

    def on_text(self, conn: RawWS, payload: bytes, t: float) -> None:
        i = payload.find(self.MARK)
        if i < 0:
            if payload.startswith(b'{"type":"hello"'):
                conn.ready = True
            return
        end = payload.find(b'"', i)
        k = int(payload[i + len(self.MARK):end])
        self.count[k] = self.count.get(k, 0) + 1
        self.last[k] = t


def loadgen(pipe: Connection, targets: list[tuple[int, str]], path: str) -> None:
    """A load generator process: its share of the viewers on one epoll loop. Commands from
    the parent: ("wait", k) -> ("ok", last arrival of line k) once every viewer has it;
    ("close",) -> ends. Sockets are served (pings) while it waits for a command."""
    raise_nofile()
    reactor = Reactor()
    lines = Lines(len(targets))
    conns = [RawWS(path, handshake_request(port, path, cookie), lines.on_text)
             for port, cookie in targets]
    try:
        reactor.open(conns, lambda c: c.ready, timeout=600)
    except Exception as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    spread: dict[str, int] = {}
    for c in conns:
        name = c.upgrade_headers.lower().split("x-tippocket-node: ", 1)[-1].split("\r\n")[0]
        spread[name] = spread.get(name, 0) + 1
    pipe.send(("ready", spread))
    while True:
        if not pipe.poll(0):
            reactor.poll(0.02)
            continue
        command = pipe.recv()
        if command[0] == "close":
            pipe.send(("closed", sum(1 for c in conns if c.closed)))
            reactor.close(conns)
            return
        k = command[1]
        try:
            reactor.run_until(lambda k=k: lines.count.get(k, 0) >= len(conns), 60,
                              f"line {k} at every viewer")
            pipe.send(("ok", lines.last[k]))
        except TimeoutError as exc:
            pipe.send(("error", f"{exc} ({lines.count.get(k, 0)} of {len(conns)})"))


def fanout(args: argparse.Namespace, cluster: Cluster, proxies: list[HAProxy],
           session_id: str, viewers: int) -> dict[str, Any]:
    """``viewers`` raw viewers through ``proxies``, in as many load generator processes as
    the open-file limit needs; time ``--events`` lines."""
    t = time.monotonic()
    cookies = viewer_cookies(proxies[0].port, session_id, viewers)
    log(f"  {viewers} viewer cookies in {time.monotonic() - t:.1f} s")
    nofile = raise_nofile()
    procs = max(1, -(-viewers // max(1, nofile - 1500)))
    targets = [(proxies[i % len(proxies)].port, c) for i, c in enumerate(cookies)]
    path = f"/ws/live/{session_id}"
    context = multiprocessing.get_context("fork")
    pipes, children = [], []
    for i in range(procs):
        parent, child = context.Pipe()
        proc = context.Process(target=loadgen, args=(child, targets[i::procs], path),
                               daemon=True)
        proc.start()
        pipes.append(parent)
        children.append(proc)
    try:
        spread: dict[str, int] = {}
        for pipe in pipes:
            kind, value = pipe.recv()
            if kind != "ready":
                raise RuntimeError(f"load generator: {value}")
            for name, n in value.items():
                spread[name] = spread.get(name, 0) + n
        log(f"  {viewers} viewers connected in {time.monotonic() - t:.1f} s "
            f"({procs} load generator process(es))")
        reactor = Reactor()
        admin = login(proxies[0].port, "boss", "correct-horse-battery")
        staff = Requester()
        staff_path = f"/ws/staff/{session_id}"
        staff.conn = RawWS(staff_path, handshake_request(
            proxies[0].port, staff_path, f"tp_staff={admin.cookies['tp_staff']}"),
            staff.on_text)
        reactor.open([staff.conn], lambda c: c.ready)
        latencies: list[float] = []
        for k in range(args.warmup + args.events):
            rid, sent = staff.send("caption", text=f"{Lines.MARK.decode()}{k}")
            for pipe in pipes:
                pipe.send(("wait", k))
            last = 0.0
            for pipe in pipes:
                while not pipe.poll(0):
                    reactor.poll(0.01)
                kind, value = pipe.recv()
                if kind != "ok":
                    raise RuntimeError(f"load generator: {value}")
                last = max(last, value)
            frame, _ = staff.replies.get(rid, ({}, 0.0))
            if frame and frame.get("type") != "ack":
                raise RuntimeError(f"caption refused: {frame}")
            if k >= args.warmup:
                latencies.append(last - sent)
            reactor.sleep(args.pause)
        closed = 0
        for pipe in pipes:
            pipe.send(("close",))
            closed += pipe.recv()[1]
        reactor.close([staff.conn])
        admin.close()
    finally:
        for proc in children:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return {"viewers": viewers, "spread": spread, "closed_during": closed,
            "loadgen_processes": procs,
            "fanout_p50_ms": ms(percentile(latencies, 50)),
            "fanout_p99_ms": ms(percentile(latencies, 99)), "events": len(latencies)}


async def acks_per_second(cluster: Cluster, session_id: str, askers: int,
                          seconds: float) -> dict[str, Any]:
    from tests.cluster.clients import LiveClient

    clients = [await LiveClient.viewer(cluster.url, session_id, f"q{i}") for i in range(askers)]
    for c in clients:
        c.start()
    for c in clients:
        await c.wait_connected()
    acked = 0
    errors: dict[str, int] = {}
    end = time.monotonic() + seconds

    async def one(c: LiveClient, i: int) -> None:
        nonlocal acked
        n = 0
        while time.monotonic() < end:
            try:
                frame = await c.request("ask", client_id=f"{c.label}-{n}",
                                        text=f"第{i}位观众的第{n}个问题：驾驶证到期了去哪里换？")
            except (ConnectionError, TimeoutError):
                continue  # sent again under the same client id
            if frame.get("type") == "ack":
                acked += 1
                n += 1
            else:
                errors[str(frame.get("code"))] = errors.get(str(frame.get("code")), 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(one(c, i) for i, c in enumerate(clients)))
    rate = acked / (time.monotonic() - started)
    for c in clients:
        await c.close()
    return {"acks_per_s": round(rate, 1), "ask_errors": errors}


async def bad_days(cluster: Cluster, probes: int) -> dict[str, Any]:
    from tests.cluster.bursts import (
        askers_burst,
        captions_burst,
        lost_questions,
        scene,
        settle,
        verify,
    )

    out: dict[str, Any] = {"resume_gaps": 0, "duplicates": 0}
    for day in ("node_kill", "redis_restart"):
        s = await scene(cluster, f"基准 {day}", viewers=probes, askers=6,
                        consoles=len(cluster.nodes))
        try:
            halfway = asyncio.Event()
            burst = asyncio.gather(captions_burst(s, 100, progress=halfway, at=30),
                                   askers_burst(s, per_asker=10, within=90))
            await halfway.wait()
            if day == "node_kill":
                victim = next(n for n in cluster.nodes if n.name != s.captioner.node)
                await asyncio.to_thread(victim.kill)
            else:
                await cluster.restart_redis(keep_data=False)
            await burst
            committed = await settle(s, within=30)
            wrong = verify(s, committed)
            out["resume_gaps"] += sum(len(v) for v in wrong["gaps"].values())
            out["duplicates"] += sum(len(v) for v in wrong["duplicates"].values())
            lost = await lost_questions(s)
            out[f"lost_acked_after_{day}"] = len(lost["not_stored"]) + sum(
                len(v) for v in lost["not_in_console"].values())
            out[f"{day}_acked"] = len(s.acked_questions)
            if day == "node_kill":
                await cluster.restart_node(victim)
        finally:
            await s.close()
    return out


def run_cluster(args: argparse.Namespace, tmp: Path, nodes: int, viewers: int,
                bad: bool) -> dict[str, Any]:
    from tests.cluster.clients import live_session

    cluster = Cluster(tmp / f"cluster{nodes}", size=nodes, use_netns=False,
                      live={"send_queue_frames": 256})
    extra: list[HAProxy] = []
    try:
        log(f"starting {nodes} node(s), Redis, SecantusDB and HAProxy")
        cluster.start()
        for i in range(1, args.proxies):
            proxy = HAProxy(tmp / f"cluster{nodes}" / f"haproxy{i}", cluster.nodes)
            proxy.start()
            extra.append(proxy)
        session = asyncio.run(live_session(cluster.mongodb_uri, cluster.database, "基准"))
        result = fanout(args, cluster, [cluster.haproxy, *extra], session.id, viewers)
        log(f"  fan-out p99 {result['fanout_p99_ms']} ms over {nodes} node(s): "
            f"{result['spread']}")
        if bad:
            result.update(asyncio.run(acks_per_second(
                cluster, session.id, args.askers, args.ask_seconds)))
            log(f"  {result['acks_per_s']} acks/s")
            result.update(asyncio.run(bad_days(cluster, args.probes)))
        return result
    finally:
        for proxy in extra:
            proxy.stop()
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 nodes x 300 viewers")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--viewers-per-node", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--askers", type=int, default=100)
    parser.add_argument("--ask-seconds", type=float, default=10)
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--proxies", type=int, default=0,
                        help="HAProxy processes (0: as many as the open-file limit needs)")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.viewers_per_node, args.events, args.askers = 3, 300, 10, 30
        args.ask_seconds, args.probes = 5, 12
    nofile = raise_nofile()
    total = args.nodes * args.viewers_per_node
    if not args.proxies:
        args.proxies = max(1, -(-2 * total // max(1, nofile - 2000)))
    tmp = Path(tempfile.mkdtemp(prefix="tp-cluster-bench-"))
    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)
    try:
        log(f"single node: {args.viewers_per_node} viewers")
        single = run_cluster(args, tmp, 1, args.viewers_per_node, bad=False)
        log(f"cluster: {args.nodes} nodes x {args.viewers_per_node} viewers "
            f"({args.proxies} HAProxy process(es))")
        many = run_cluster(args, tmp, args.nodes, total, bad=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = many["fanout_p99_ms"] / single["fanout_p99_ms"] if single["fanout_p99_ms"] \
        else None
    out = {
        "bench": "cluster", "quick": args.quick, "nodes": args.nodes, "viewers": total,
        "viewers_per_node": args.viewers_per_node, "haproxy_processes": args.proxies,
        "fanout_p99_ms": many["fanout_p99_ms"], "fanout_p50_ms": many["fanout_p50_ms"],
        "single_node_fanout_p99_ms": single["fanout_p99_ms"],
        "single_node_fanout_p50_ms": single["fanout_p50_ms"],
        "fanout_p99_ratio_vs_single_node": round(ratio, 2) if ratio else None,
        "acks_per_s": many["acks_per_s"], "ask_errors": many["ask_errors"],
        "lost_acked_after_node_kill": many["lost_acked_after_node_kill"],
        "lost_acked_after_redis_restart": many["lost_acked_after_redis_restart"],
        "resume_gaps": many["resume_gaps"], "duplicates": many["duplicates"],
        "probes": args.probes, "spread": many["spread"],
        "viewers_dropped_during_fanout": many["closed_during"] + single["closed_during"],
        "loadgen_processes": many["loadgen_processes"],
        "events": many["events"], "cpus": len(os.sched_getaffinity(0)),
        "load_avg_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "seconds": round(time.monotonic() - started, 1),
    }
    out["targets"] = {"fanout_p99_ratio_vs_single_node <= 3": bool(ratio and ratio <= 3),
                      "losses, gaps and duplicates all 0": not any(
                          out[k] for k in ("lost_acked_after_node_kill",
                                           "lost_acked_after_redis_restart", "resume_gaps",
                                           "duplicates"))}
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
