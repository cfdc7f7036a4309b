"""Schemathesis (from PyPI) against the served ``/api/openapi.json`` of a real
``run.py serve``, with all its checks, bounded in examples and with a fixed seed: once
anonymous, once as a logged-in moderator (the login cookie and its CSRF token, a real live
session's id for the staff actions). It must find nothing: every answer is one the document
describes, nothing the document allows is refused, nothing it forbids is accepted."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import require
from tests.faults.server import Server, free_port, seed, staff_login, write_settings

MAX_EXAMPLES = 6
SEED = 20261203
CSRF_RE = re.compile(r'name="_csrf" value="([^"]+)"')


def schemathesis() -> str:
    found = Path(sys.executable).parent / "st"
    path = str(found) if found.exists() else shutil.which("st")
    require(path is not None, "schemathesis is not installed (pip install -e '.[test]')")
    assert path is not None
    return path


async def run(server: Server, config: Path, what: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        schemathesis(), "--config-file", str(config), "run", f"{server.url}/api/openapi.json",
        "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--no-color", "--workers", "1", cwd=config.parent,  # its cache stays in tmp_path
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    config.with_suffix(".out").write_text(text)
    assert proc.returncode == 0, f"schemathesis ({what}) found something:\n{text[-3000:]}"
    assert " passed" in text and "failure" not in text.lower().replace("no failures", ""), text


async def engine_ready(server: Server, timeout: float = 60) -> None:
    """Waits until the understanding engine answers: until then ``/api/answers`` says 503
    ``not_ready`` (documented), which schemathesis's server-error check would count."""
    async with aiohttp.ClientSession() as http:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with http.get(f"{server.url}/api/answers", params={"q": "驾照"}) as response:
                if response.status != 503:
                    assert response.status == 200, response.status
                    return
            assert asyncio.get_running_loop().time() < deadline, "the engine never got ready"
            await asyncio.sleep(0.2)


@pytest.fixture
async def server(tmp_path: Path) -> Server:
    return Server(tmp_path / "settings.toml", free_port(), tmp_path / "server.log")


async def test_schemathesis_finds_nothing_anonymous_and_as_staff(tmp_path: Path,
                                                                  server: Server) -> None:
    schemathesis()
    settings = write_settings(server.settings_file, tmp_path / "data", server.port, {})
    session = await seed(settings, staff="mod")
    await server.start()
    try:
        await engine_ready(server)
        anonymous = tmp_path / "anonymous.toml"
        anonymous.write_text(f'[parameters]\n"path.session_id" = "{session.id}"\n')
        mod = await staff_login(server, "mod")
        try:
            async with mod.http.get("/staff") as page:
                token = CSRF_RE.search(await page.text())
            assert token, "the staff page has no CSRF field"
            login = next(c.value for c in mod.http.cookie_jar if c.key == "tp_staff")
        finally:
            await mod.close()
        staff = tmp_path / "staff.toml"
        staff.write_text("[parameters]\n"
                         f'"path.session_id" = "{session.id}"\n'
                         f'"cookie.tp_staff" = "{login}"\n'
                         f'"header.X-CSRF-Token" = "{token.group(1)}"\n')
        # Both at once: each waits on the server most of the time.
        await asyncio.gather(run(server, anonymous, "anonymous"), run(server, staff, "as staff"))
    finally:
        await server.stop()
