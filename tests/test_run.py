"""The command line as an operator uses it: real processes, real files, real ports."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPPOCKET_")}
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], input=stdin, capture_output=True,
        text=True, timeout=timeout, env=env, check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_passes_on_the_default_sqlite(tmp_path: Path) -> None:
    result = run("check", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    assert "ok: store reachable" in result.stdout
    assert "ffmpeg" in result.stdout and "recording on" in result.stdout
    assert (tmp_path / "d" / "tippocket.sqlite3").exists()


def test_check_refuses_a_named_ffmpeg_that_is_missing(tmp_path: Path) -> None:
    settings = tmp_path / "s.toml"
    settings.write_text('[media]\nffmpeg = "/nonexistent/ffmpeg"\n', encoding="utf-8")
    result = run("check", "--settings", str(settings), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "media.ffmpeg = '/nonexistent/ffmpeg' is not an executable" in result.stderr


def test_check_fails_clearly_on_unreachable_mongodb(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    settings = tmp_path / "mongo.toml"
    settings.write_text(
        '[store]\nbackend = "mongodb"\n'
        f'mongodb_uri = "mongodb://tp:s3cret@127.0.0.1:{port}/"\nmongodb_timeout_ms = 500\n',
        encoding="utf-8",
    )
    result = run("check", "--settings", str(settings))
    assert result.returncode == 1
    assert "error: cannot use the store" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_bad_settings_stop_with_the_key_named(tmp_path: Path) -> None:
    settings = tmp_path / "bad.toml"
    settings.write_text("[server]\nportt = 1\n", encoding="utf-8")
    result = run("check", "--settings", str(settings))
    assert result.returncode == 2
    assert "unknown key [server] portt" in result.stderr and str(settings) in result.stderr


def test_check_reports_a_locked_database(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run("check", "--data-dir", str(data)).returncode == 0
    settings = tmp_path / "s.toml"
    settings.write_text("[store]\nsqlite_busy_timeout_ms = 200\n", encoding="utf-8")
    holder = sqlite3.connect(data / "tippocket.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("check", "--settings", str(settings), "--data-dir", str(data))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "database is locked" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Files made read-only even for root (chattr +i), restored afterwards."""
    marked: list[Path] = []
    yield marked
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def can_chattr(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("x")
    ok = shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(probe)], capture_output=True, check=False).returncode == 0
    if ok:
        subprocess.run(["chattr", "-i", str(probe)], check=False)
    return ok


def test_check_reports_a_read_only_database(tmp_path: Path, immutable: list[Path]) -> None:
    data = tmp_path / "d"
    assert run("check", "--data-dir", str(data)).returncode == 0
    for name in ("tippocket.sqlite3-wal", "tippocket.sqlite3-shm"):
        (data / name).unlink(missing_ok=True)
    if os.geteuid() == 0:
        require(can_chattr(tmp_path), "chattr +i is not supported on this filesystem")
        for path in (data / "tippocket.sqlite3", data):
            subprocess.run(["chattr", "+i", str(path)], check=True)
            immutable.append(path)
    else:
        (data / "tippocket.sqlite3").chmod(0o444)
        data.chmod(0o555)
    try:
        result = run("check", "--data-dir", str(data))
    finally:
        if os.geteuid() != 0:
            data.chmod(0o755)
    assert result.returncode == 1
    assert "error: cannot use the store" in result.stderr
    assert "readonly" in result.stderr or "unable to open" in result.stderr
    assert "Traceback" not in result.stderr


def test_adduser_from_stdin_and_duplicate(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    ok = run("adduser", "wangli", "--role", "moderator", "--password-stdin", "--data-dir", data,
             stdin="a-long-password\n")
    assert ok.returncode == 0, ok.stderr
    assert "created moderator account wangli" in ok.stdout
    again = run("adduser", "wangli", "--role", "host", "--password-stdin", "--data-dir", data,
                stdin="a-long-password\n")
    assert again.returncode == 1 and "已存在" in again.stderr
    short = run("adduser", "zhao", "--role", "host", "--password-stdin", "--data-dir", data,
                stdin="short\n")
    assert short.returncode == 1 and "密码长度" in short.stderr


def test_serve_creates_the_first_admin_once_and_serves_login(tmp_path: Path) -> None:
    import urllib.request

    data = str(tmp_path / "d")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", "--data-dir", data, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("password:" in x for x in lines):
            time.sleep(0.1)
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        password = re.search(r"password: (\S+)", output)
        assert password, output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
            assert "工作人员登录" in page.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == 0
    # A second start finds the admin and prints no password.
    second = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", "--data-dir", data, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen: list[str] = []

    def pump_second() -> None:
        assert second.stdout is not None
        for line in second.stdout:
            seen.append(line)

    second_reader = threading.Thread(target=pump_second, daemon=True)
    second_reader.start()
    # Wait for the start to finish (not a fixed sleep: a loaded machine may take longer).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("Staff log in at" in x for x in seen):
        time.sleep(0.1)
    second.terminate()
    second.wait(timeout=20)
    second_reader.join(timeout=5)
    assert second.stdout is not None
    second.stdout.close()
    out = "".join(seen)
    assert "Staff log in at" in out and "password:" not in out, out


def test_first_start_seeds_reasons_replies_and_blocked_terms_once(tmp_path: Path) -> None:
    import asyncio

    from settings import Secret, load_settings
    from store import make_store
    from store.records import ReasonTemplate, TermRule

    data = tmp_path / "d"
    port = free_port()
    with subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", "--data-dir", str(data), "--port",
         str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "serving at" in line:
                break
        proc.terminate()
        proc.communicate(timeout=20)

    async def count() -> tuple[int, int, int]:
        settings = load_settings(env={}).replace(
            server={"data_dir": str(data)}, security={"secret_key": Secret("x")})
        store = make_store(settings)
        await store.open()
        try:
            templates = await store.find(ReasonTemplate)
            return (sum(t.kind == "decline" for t in templates),
                    sum(t.kind == "reply" for t in templates), await store.count(TermRule))
        finally:
            await store.close()

    declines, replies, terms = asyncio.run(count())
    assert (declines, replies) == (5, 4) and terms >= 30


def test_adduser_reads_a_password_file(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    secret = tmp_path / "pw"
    secret.write_text("a-long-password\nignored second line\n", encoding="utf-8")
    ok = run("adduser", "li.na", "--role", "host", "--password-file", str(secret),
             "--data-dir", data)
    assert ok.returncode == 0, ok.stderr
    assert "created host account li.na" in ok.stdout
    login = run("adduser", "li.na", "--role", "host", "--password-file", str(secret),
                "--data-dir", data)
    assert login.returncode == 1 and "已存在" in login.stderr


@pytest.mark.parametrize(("args", "stdin", "message"), [
    ((), "", "standard input is not a terminal"),
    ((), "a-long-password\n", "standard input is not a terminal"),
    (("--password-stdin",), "", "no password on standard input"),
    (("--password-stdin",), "\n", "no password on standard input"),
    (("--password-file", "/nonexistent/pw"), "", "cannot read the password file"),
])
def test_adduser_without_a_password_says_what_is_wrong(
        tmp_path: Path, args: tuple[str, ...], stdin: str, message: str) -> None:
    result = run("adduser", "wangli", "--role", "moderator", *args,
                 "--data-dir", str(tmp_path / "d"), stdin=stdin)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "EOFError" not in result.stderr
    assert not (tmp_path / "d" / "tippocket.sqlite3").exists()


def test_adduser_empty_password_file_and_both_sources(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    result = run("adduser", "wangli", "--role", "host", "--password-file", str(empty),
                 "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1 and "is empty" in result.stderr
    both = run("adduser", "wangli", "--role", "host", "--password-file", str(empty),
               "--password-stdin", "--data-dir", str(tmp_path / "d"))
    assert both.returncode == 2 and "not allowed with" in both.stderr


@pytest.mark.parametrize(("name", "message"), [
    ("WangLi", "use 'wangli' instead of 'WangLi'"),
    (" wangli", "use 'wangli' instead of ' wangli'"),
    ("1wang", "invalid account name '1wang'"),
    ("王丽", "invalid account name"),
])
def test_adduser_refuses_names_it_would_have_to_change(tmp_path: Path, name: str,
                                                       message: str) -> None:
    result = run("adduser", name, "--role", "host", "--password-stdin",
                 "--data-dir", str(tmp_path / "d"), stdin="a-long-password\n")
    assert result.returncode == 1
    assert message in result.stderr, result.stderr


def test_adduser_asks_twice_on_a_terminal(tmp_path: Path) -> None:
    import pty
    import select

    def converse(answers: list[bytes]) -> tuple[int, str]:
        pid, fd = pty.fork()
        if pid == 0:  # the child: run.py with the pty as its controlling terminal
            env = {k: v for k, v in os.environ.items() if not k.startswith("TIPPOCKET_")}
            os.execve(sys.executable, [sys.executable, str(ROOT / "run.py"), "adduser",
                                       "wangli", "--role", "host", "--data-dir",
                                       str(tmp_path / "d")], env)
        output = b""
        pending = list(answers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
            # Answer each prompt once: prompts end in ": " and nothing follows them.
            if pending and chunk.endswith(b": "):
                os.write(fd, pending.pop(0) + b"\n")
        else:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), output.decode(errors="replace")

    code, output = converse([b"a-long-password", b"other-password"])
    assert code == 1 and "the passwords differ" in output, output
    code, output = converse([b"a-long-password", b"a-long-password"])
    assert code == 0 and "created host account wangli" in output, output
    assert "a-long-password" not in output  # typed without echo
