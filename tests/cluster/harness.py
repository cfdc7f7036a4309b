"""A whole Tip Pocket cluster as real processes: SecantusDB, redis-server, N ``run.py serve``
nodes and HAProxy (from ``deploy/haproxy.cfg``), plus a network namespace for one node so
that its link can be cut, and slowed or made lossy with ``tc netem`` (or, on a kernel
without netem, with the lag relays of ``tests.cluster.lag`` on its links).

Everything is started by ``Cluster.start`` and removed by ``Cluster.stop`` (also after a
failure half-way). Every wait is bounded. The cluster tests share one per module
(``tests/cluster/conftest.py``); ``bench/cluster.py`` uses the same classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.lag import LagRelays
from tests.services import REDIS_SERVER, RedisProcess, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy")
IP = shutil.which("ip")
TC = shutil.which("tc")
SECANTUSD = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
SECRET_KEY = "cluster-suite-secret-key-0123456789abcdef"
# Every viewer of a test comes from one loopback address (HAProxy's): lift the per-address
# and per-viewer limits that would stop a burst, as tests/faults does.
LIVE_LIMITS = {"viewer_questions_per_minute": 1000, "address_questions_per_minute": 1_000_000,
               "session_questions_per_minute": 1_000_000, "address_sockets_max": 100_000}


def missing_tools() -> list[str]:
    """What this machine lacks to run a cluster (empty: everything is there)."""
    missing = [name for name, path in (("redis-server", REDIS_SERVER), ("haproxy", HAPROXY))
               if path is None]
    if not Path(SECANTUSD).exists():
        missing.append("secantusd-py (pip install -e '.[test]')")
    return missing


def netns_possible() -> bool:
    return IP is not None and TC is not None and os.geteuid() == 0


def _toml(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _run(*args: str, timeout: float = 10) -> None:
    subprocess.run(args, check=True, timeout=timeout, capture_output=True)


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM,
          timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# MongoDB (SecantusDB: a single-node replica set, so transactions and change streams work)


class MongoProcess:
    """``secantusd-py`` as a process of its own, so that it can be stopped and started again
    on the same port with the same data directory (MongoDB "unreachable for a while")."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", *,
                 standalone: bool = False) -> None:
        self.standalone = standalone  # no replica set: what `run.py check` must refuse
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def uri(self, host: str = "127.0.0.1") -> str:
        # directConnection: the server advertises itself as 127.0.0.1, which a node in a
        # network namespace cannot reach; talk to the address we were given.
        return f"mongodb://{host}:{self.port}/?directConnection=true"

    def start(self) -> None:
        log = (self.directory / "secantus.log").open("ab")
        try:
            self.proc = subprocess.Popen(
                [SECANTUSD, "--host", self.host, "--port", str(self.port), "--storage-path",
                 str(self.directory / "data"), "--log-level", "WARNING",
                 *(["--standalone"] if self.standalone else [])],
                stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        wait_for_port(self.port, 30)

    def stop(self) -> None:
        """Stop cleanly (its data stays); ``start`` brings it back on the same port."""
        _stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)
        self.proc = None


# --------------------------------------------------------------------------------------------
# A network namespace with a veth pair: the slow or partitioned node's link


def _stale_namespaces() -> list[str]:
    """The network namespaces named as ``Cluster`` names them (``tp`` + a process id) whose
    process no longer runs."""
    if IP is None:
        return []
    listed = subprocess.run([IP, "netns", "list"], capture_output=True, text=True, timeout=10,
                            check=False).stdout
    stale = []
    for name in re.findall(r"^tp(\d+)\b", listed, flags=re.MULTILINE):
        try:
            os.kill(int(name), 0)
        except ProcessLookupError:
            stale.append(f"tp{name}")
        except PermissionError:
            pass  # somebody else's process: alive
    return stale


@dataclass
class Netns:
    """``ip netns`` + a veth pair. The host side is ``host_ip``, the namespace side
    ``ns_ip``; ``netem`` shapes the namespace's side (both directions of the node's traffic
    pass through it: HAProxy → node, node → Redis and MongoDB)."""

    name: str
    host_ip: str = "10.213.7.1"
    ns_ip: str = "10.213.7.2"
    up: bool = False

    @property
    def host_if(self) -> str:
        return f"{self.name}h"[:15]

    @property
    def ns_if(self) -> str:
        return f"{self.name}n"[:15]

    def create(self) -> None:
        # Namespaces left by killed runs hold the same addresses: the one of this name, and
        # any other of ours whose process is gone.
        for name in _stale_namespaces():
            Netns(name).destroy()
        self.destroy()
        assert IP is not None
        self.up = True
        _run(IP, "netns", "add", self.name)
        _run(IP, "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _run(IP, "link", "set", self.ns_if, "netns", self.name)
        _run(IP, "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _run(IP, "link", "set", self.host_if, "up")
        _run(IP, "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        _run(IP, "-n", self.name, "link", "set", self.ns_if, "up")
        _run(IP, "-n", self.name, "link", "set", "lo", "up")

    def destroy(self) -> None:
        if IP is None:
            return
        subprocess.run([IP, "link", "del", self.host_if], capture_output=True, timeout=10,
                       check=False)
        subprocess.run([IP, "netns", "del", self.name], capture_output=True, timeout=10,
                       check=False)
        self.up = False

    def exec_prefix(self) -> list[str]:
        assert IP is not None
        return [IP, "netns", "exec", self.name]

    def set_netem(self, *, delay_ms: int = 0, loss_pct: float = 0.0) -> None:
        """Delay and/or drop packets leaving the node (egress of the namespace side) and
        entering it (egress of the host side)."""
        assert TC is not None
        spec = ["delay", f"{delay_ms}ms"] if delay_ms else []
        spec += ["loss", f"{loss_pct}%"] if loss_pct else []
        for prefix, dev in ((["-n", self.name], self.ns_if), ([], self.host_if)):
            _run(TC, *prefix, "qdisc", "replace", "dev", dev, "root", "netem", *spec)

    def clear_netem(self) -> None:
        if TC is None:
            return
        for prefix, dev in ((["-n", self.name], self.ns_if), ([], self.host_if)):
            subprocess.run([TC, *prefix, "qdisc", "del", "dev", dev, "root"],
                           capture_output=True, timeout=10, check=False)

    def netem_available(self) -> bool:
        """Whether this kernel has the netem queueing discipline (sch_netem): some VM
        kernels are built without it."""
        if TC is None or not self.up:
            return False
        probe = subprocess.run([TC, "qdisc", "replace", "dev", self.host_if, "root", "netem",
                                "delay", "0ms"], capture_output=True, timeout=10, check=False)
        self.clear_netem()
        return probe.returncode == 0

    @contextlib.contextmanager
    def partition(self) -> Iterator[None]:
        """Cut the link for the duration of the block (the veth goes down: packets vanish
        both ways, no reset reaches either side, as when a cable or a switch fails); always
        restored afterwards."""
        assert IP is not None
        try:
            _run(IP, "link", "set", self.host_if, "down")
            yield
        finally:
            subprocess.run([IP, "link", "set", self.host_if, "up"], capture_output=True,
                           timeout=10, check=False)

    @contextlib.contextmanager
    def netem(self, *, delay_ms: int = 0, loss_pct: float = 0.0) -> Iterator[None]:
        """Shape the link for the duration of the block; always cleared afterwards."""
        try:
            self.set_netem(delay_ms=delay_ms, loss_pct=loss_pct)
            yield
        finally:
            self.clear_netem()


# --------------------------------------------------------------------------------------------
# A node: `run.py serve` with generated settings


@dataclass
class Node:
    name: str
    directory: Path
    host: str
    port: int
    redis_url: str
    mongodb_uri: str
    media_dir: Path
    database: str
    netns: Netns | None = None
    front: tuple[str, int] | None = None  # where HAProxy reaches it, if not (host, port)
    live: dict[str, int] = field(default_factory=lambda: dict(LIVE_LIMITS))
    media: dict[str, bool | int | str] = field(default_factory=lambda: {"record": False})
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def settings_file(self) -> Path:
        return self.directory / "settings.toml"

    @property
    def log(self) -> Path:
        return self.directory / "node.log"

    def write_settings(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            "[server]", f'data_dir = "{self.directory / "data"}"', f'host = "{self.host}"',
            f"port = {self.port}", 'trusted_proxies = "127.0.0.1"', "",
            "[security]", f'secret_key = "{SECRET_KEY}"', "",
            "[store]", 'backend = "mongodb"', f'mongodb_uri = "{self.mongodb_uri}"',
            f'mongodb_database = "{self.database}"', "mongodb_timeout_ms = 1500", "",
            "[media]", f'media_dir = "{self.media_dir}"',
            *(f"{k} = {_toml(v)}" for k, v in self.media.items()), "",
            "[understanding]", "enabled = false", "",
            "[cluster]", f'redis_url = "{self.redis_url}"', f'node_id = "{self.name}"', "",
            "[live]", *(f"{k} = {v}" for k, v in self.live.items()),
        ]
        self.settings_file.write_text("\n".join(lines) + "\n")
        return self.settings_file

    def command(self, *args: str) -> list[str]:
        prefix = self.netns.exec_prefix() if self.netns else []
        return [*prefix, sys.executable, str(ROOT / "run.py"), *args, "--settings",
                str(self.settings_file)]

    def start(self, timeout: float = 45) -> None:
        """Start and wait until it serves (its log says so)."""
        self.starts += 1
        mark = f"serving at {self.url}/"
        out = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(self.command("serve"), stdout=out, stderr=out,
                                         cwd=str(ROOT), start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count(mark) < self.starts:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"node {self.name} did not start:\n"
                                     f"{self.log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, no goodbye to its sockets."""
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM: the graceful path (sockets get 1001, the process exits within 3 s)."""
        _stop(self.proc, signal.SIGTERM, timeout=15)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --------------------------------------------------------------------------------------------
# HAProxy from deploy/haproxy.cfg


SERVER_LINE = re.compile(r"^\s*server\s+\S+\s+\S+.*$", re.MULTILINE)


def haproxy_config(template: str, port: int, socket_path: Path,
                   servers: list[tuple[str, str, int]], maxconn: int | None = None) -> str:
    """deploy/haproxy.cfg with this cluster's listening port, admin socket and nodes (and a
    lower ``maxconn`` where the open-file limit is lower); every other line is the shipped
    one."""
    if maxconn is None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        maxconn = 100_000 if hard == resource.RLIM_INFINITY else (hard - 200) // 2
    template = re.sub(r"^(\s*maxconn)\s+(\d+)",
                      lambda m: f"{m.group(1)} {min(int(m.group(2)), maxconn)}", template,
                      count=1, flags=re.MULTILINE)
    text = re.sub(r"^(\s*)bind\s+\S+", rf"\g<1>bind 127.0.0.1:{port}", template, count=1,
                  flags=re.MULTILINE)
    text = re.sub(r"^(\s*stats socket)\s+\S+", rf"\g<1> {socket_path}", text, count=1,
                  flags=re.MULTILINE)
    lines = "\n".join(f"    server {name} {host}:{p} check" for name, host, p in servers)
    first = SERVER_LINE.search(text)
    assert first, "deploy/haproxy.cfg has no server line"
    text = SERVER_LINE.sub("", text)
    text = text[:first.start()] + lines + text[first.start():]
    return re.sub(r"\n{3,}", "\n\n", text)


class HAProxy:
    def __init__(self, directory: Path, nodes: list[Node]) -> None:
        if HAPROXY is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.nodes = nodes
        self.port = free_port()
        self.socket = directory / "admin.sock"
        self.config = directory / "haproxy.cfg"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        template = (ROOT / "deploy" / "haproxy.cfg").read_text()
        self.config.write_text(haproxy_config(
            template, self.port, self.socket,
            [(n.name, *(n.front or (n.host, n.port))) for n in self.nodes]))

    def start(self) -> None:
        assert HAPROXY is not None
        self.write_config()
        _run(HAPROXY, "-c", "-q", "-f", str(self.config))
        log = (self.directory / "haproxy.log").open("ab")
        try:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)],
                                         stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        wait_for_port(self.port, 10)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"HAProxy has no admin socket {self.socket}:\n"
                                     f"{(self.directory / 'haproxy.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGUSR1)  # soft stop
        self.proc = None

    def command(self, line: str) -> str:
        """One command on the admin socket (``show servers state``, ``set server ...``)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """Each node's state as HAProxy's health checks see it: UP, DOWN, DRAIN, MAINT."""
        out: dict[str, str] = {}
        for line in self.command("show stat").splitlines():
            parts = line.split(",")
            if len(parts) > 17 and parts[0] == "nodes" and parts[1] not in ("BACKEND",
                                                                             "FRONTEND"):
                out[parts[1]] = parts[17].split(" ")[0]
        return out

    async def wait_state(self, node: str, state: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.states().get(node)) != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"HAProxy sees {node} as {now}, not {state}, "
                                     f"after {timeout} s")
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------------------------
# The cluster


class Cluster:
    """MongoDB + Redis + ``size`` nodes (the last in a network namespace when possible) +
    HAProxy, in ``directory``."""

    def __init__(self, directory: Path, size: int = 3, *, use_netns: bool = True,
                 live: dict[str, int] | None = None,
                 media: dict[str, bool | int | str] | None = None) -> None:
        self.directory = directory
        self.netns = Netns(f"tp{os.getpid() % 100000}") \
            if use_netns and netns_possible() else None
        self.mongo = MongoProcess(directory / "mongo", host="0.0.0.0" if self.netns
                                  else "127.0.0.1")
        self.redis = RedisProcess(directory / "redis")
        self.database = f"cluster{os.getpid()}"
        media_dir = directory / "media"
        media_dir.mkdir(parents=True, exist_ok=True)
        self.nodes: list[Node] = []
        for i in range(size):
            in_ns = self.netns is not None and i == size - 1
            host = self.netns.ns_ip if in_ns and self.netns else "127.0.0.1"
            peer = self.netns.host_ip if in_ns and self.netns else "127.0.0.1"
            node = Node(f"node{i + 1}", directory / f"node{i + 1}", host, free_port(),
                        f"redis://{peer}:{self.redis.port}/0", self.mongo.uri(peer), media_dir,
                        self.database, self.netns if in_ns else None)
            if live:
                node.live.update(live)
            if media:  # e.g. recording on (the phone tests): {"record": True, ...}
                node.media.update(media)
            node.write_settings()
            self.nodes.append(node)
        self.haproxy = HAProxy(directory / "haproxy", self.nodes)
        self.lag: LagRelays | None = None  # the slow link's relays, when netem is missing

    @property
    def url(self) -> str:
        return self.haproxy.url

    @property
    def mongodb_uri(self) -> str:
        return self.mongo.uri()

    @property
    def slow_node(self) -> Node | None:
        """The node behind the namespace's link (None when namespaces are not possible)."""
        return self.nodes[-1] if self.netns else None

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        try:
            if self.netns:
                self.netns.create()
                self.redis_bind_extra(self.netns.host_ip)
                if not self.netns.netem_available():
                    self.relay_slow_links()
            self.mongo.start()
            self.redis.start()
            self.seed()
            # All nodes together: the seed above has opened the store (its migrations ran).
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(Node.start, self.nodes))
            self.haproxy.start()
            deadline = time.monotonic() + 20
            while set(self.haproxy.states().values()) != {"UP"}:
                if time.monotonic() > deadline:
                    raise AssertionError(f"HAProxy states: {self.haproxy.states()}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def relay_slow_links(self) -> None:
        """Without the kernel's netem, the namespaced node's three links (HAProxy → node,
        node → Redis, node → MongoDB) go through lag relays (``tests.cluster.lag``) that
        ``slow_link`` shapes instead; the node itself stays in the namespace, so
        ``partition`` still cuts its veth."""
        node, netns = self.slow_node, self.netns
        assert node is not None and netns is not None
        self.lag = lag = LagRelays()
        redis = lag.add((netns.host_ip, free_port()), ("127.0.0.1", self.redis.port))
        mongo = lag.add((netns.host_ip, free_port()), ("127.0.0.1", self.mongo.port))
        front = lag.add(("127.0.0.1", free_port()), (node.host, node.port))
        node.redis_url = f"redis://{netns.host_ip}:{redis.listen[1]}/0"
        node.mongodb_uri = f"mongodb://{netns.host_ip}:{mongo.listen[1]}/?directConnection=true"
        node.front = front.listen
        node.write_settings()

    @contextlib.contextmanager
    def slow_link(self, *, delay_ms: int, loss_pct: float) -> Iterator[None]:
        """The slow node's link delayed by ``delay_ms`` each way and ``loss_pct`` % lossy:
        with ``tc netem`` on its veth where the kernel has it, else through its relays."""
        assert self.netns is not None
        if self.lag is None:
            with self.netns.netem(delay_ms=delay_ms, loss_pct=loss_pct):
                yield
        else:
            with self.lag.shaping(delay_ms=delay_ms, loss_pct=loss_pct):
                yield

    def redis_bind_extra(self, address: str) -> None:
        """Let the namespaced node reach Redis: listen on the veth's host address too."""
        self.redis.bind = f"127.0.0.1 {address}"

    def seed(self) -> None:
        """A moderator account before any node starts, so that no node creates the initial
        administrator (three nodes starting on an empty store would race to)."""
        from tests.cluster.clients import seed_staff

        asyncio.run(seed_staff(self.mongodb_uri, self.database))

    def stop(self) -> None:
        self.haproxy.stop()
        for node in self.nodes:
            node.kill()
        self.redis.kill()
        self.mongo.stop()
        if self.lag is not None:
            self.lag.stop()
            self.lag = None
        if self.netns:
            self.netns.clear_netem()
            self.netns.destroy()

    # Restarts, as the tests need them ----------------------------------------------------

    async def restart_node(self, node: Node) -> None:
        await asyncio.to_thread(node.start)
        await self.haproxy.wait_state(node.name, "UP")

    async def restart_redis(self, *, keep_data: bool) -> None:
        await asyncio.to_thread(self.redis.restart, keep_data=keep_data)
