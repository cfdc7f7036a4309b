"""One cluster per test module: SecantusDB, redis-server, three ``run.py serve`` nodes (the
third behind a network namespace's veth when the machine allows it) and HAProxy from
deploy/haproxy.cfg. A test makes its own live session, so tests of a module share the
processes but not their data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.harness import Cluster, missing_tools
from tests.conftest import require

_titles = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = missing_tools()
    require(not missing, f"the cluster tests need {', '.join(missing)}")
    directory: Path = tmp_path_factory.mktemp("cluster")
    cluster = Cluster(directory, size=3)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def title() -> str:
    return f"集群演练 {next(_titles)}"
