"""`run.py check` on a cluster's settings: it reaches MongoDB (and refuses a standalone
server: transactions and change streams need a replica set), Redis (version and role) and
ffmpeg, one line each, and exits non-zero on the first part that fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.harness import MongoProcess, missing_tools
from tests.conftest import require
from tests.services import free_port
from tests.test_run import run


@pytest.fixture
def secantus(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[MongoProcess]:
    require(not missing_tools(), f"needs {', '.join(missing_tools())}")
    server = MongoProcess(tmp_path / "mongo", standalone=getattr(request, "param", False))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def cluster_settings(path: Path, mongodb_uri: str, redis_url: str) -> Path:
    path.write_text(
        f'[server]\ndata_dir = "{path.parent / "data"}"\n'
        f'[store]\nbackend = "mongodb"\nmongodb_uri = "{mongodb_uri}"\n'
        'mongodb_timeout_ms = 1000\n'
        f'[cluster]\nredis_url = "{redis_url}"\nnode_id = "node-a"\n', encoding="utf-8")
    return path


def test_check_reaches_every_part_of_a_cluster(tmp_path: Path, secantus: MongoProcess,
                                               redis_server: Any) -> None:
    settings = cluster_settings(tmp_path / "s.toml", secantus.uri(), redis_server.url)
    result = run("check", "--settings", str(settings))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok: store reachable in ") for line in lines)
    assert "ok: MongoDB replica set 'secantus': transactions and change streams" in lines
    assert f"cluster:  node node-a · Redis {redis_server.url}" in lines
    assert any(line.startswith("ok: Redis 7.") or line.startswith("ok: Redis 6.2")
               for line in lines), lines
    assert any(line.startswith("media:") and "ffmpeg" in line for line in lines)


def test_check_fails_on_unreachable_redis_without_showing_its_password(
        tmp_path: Path, secantus: MongoProcess) -> None:
    port = free_port()  # nothing listens here
    settings = cluster_settings(tmp_path / "s.toml", secantus.uri(),
                                f"redis://:hunter2secret@127.0.0.1:{port}/0")
    result = run("check", "--settings", str(settings))
    assert result.returncode == 1
    assert f"error: cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in result.stderr
    assert "hunter2secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secantus", [True], indirect=True, ids=["standalone"])
def test_check_refuses_a_standalone_mongodb(tmp_path: Path, secantus: MongoProcess,
                                           redis_server: Any) -> None:
    settings = cluster_settings(tmp_path / "s.toml", secantus.uri(), redis_server.url)
    result = run("check", "--settings", str(settings))
    assert result.returncode == 1
    assert "error: MongoDB is a standalone server: transactions and change streams need a " \
           "replica set" in result.stderr
    assert "Redis" not in result.stdout  # it stops at the first part that fails


def s3_settings(path: Path, seaweedfs: Any, bucket: str) -> Path:
    path.write_text(
        f'[server]\ndata_dir = "{path.parent / "data"}"\n'
        f'[media]\nstorage = "s3"\ns3_endpoint = "{seaweedfs.endpoint}"\n'
        f's3_bucket = "{bucket}"\ns3_access_key = "{seaweedfs.access_key}"\n'
        f's3_secret_key = "{seaweedfs.secret_key}"\n', encoding="utf-8")
    return path


def test_check_reaches_an_s3_media_store(tmp_path: Path, seaweedfs: Any, s3_bucket: str
                                         ) -> None:
    result = run("check", "--settings", str(s3_settings(tmp_path / "s.toml", seaweedfs,
                                                        s3_bucket)))
    assert result.returncode == 0, result.stderr
    assert f"ok: media storage S3 bucket '{s3_bucket}' at {seaweedfs.endpoint}" \
        in result.stdout.splitlines()


def test_check_fails_on_a_missing_bucket(tmp_path: Path, seaweedfs: Any) -> None:
    result = run("check", "--settings", str(s3_settings(tmp_path / "s.toml", seaweedfs,
                                                        "no-such-bucket-here")))
    assert result.returncode == 1
    assert "error: cannot use the media storage: S3 bucket 'no-such-bucket-here' at " \
           f"{seaweedfs.endpoint}: no such bucket" in result.stderr
    assert seaweedfs.secret_key not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
