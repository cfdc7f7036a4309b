"""Clip workers as their own processes (``run.py worker``) on one shared store, SQLite and
MongoDB (SecantusDB): real processes, signals, real ffmpeg.

* kill -9 mid-cut: the job stays leased until ``[media] clip_lease_seconds`` runs out, then
  another worker process takes it over (attempt 2) and the result is one clip with one set
  of files.
* a stalled worker (SIGSTOP past its lease) that wakes after another finished the job: its
  cut lands nowhere: not the clip record, not the job's outcome, not the media files.
* SIGTERM mid-cut: the worker stops promptly and hands the job back (attempt not counted).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clips.mp4 import mp4_info
from store.base import Store
from store.records import Clip, Job, LiveSession
from store.sqlite import SQLiteStore
from tests.clips.test_library import SESSION, Env, copy_recording

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0


@dataclass
class Deployment:
    """A shared store, a media directory, and settings files for worker processes."""

    store: Store
    env: Env
    tmp: Path
    store_toml: str
    procs: list[subprocess.Popen[str]]

    def settings(self, name: str, ffmpeg: str) -> Path:
        path = self.tmp / f"{name}.toml"
        path.write_text(
            f'[server]\ndata_dir = "{self.tmp / name}"\n'
            f'[media]\nmedia_dir = "{self.env.media_dir}"\nffmpeg = "{ffmpeg}"\n'
            f"clip_lease_seconds = {LEASE}\nclip_workers = 1\n"
            f"[understanding]\nenabled = false\n{self.store_toml}", encoding="utf-8")
        return path

    def worker(self, name: str, ffmpeg: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIPPOCKET_")}
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "worker", "--settings",
             str(self.settings(name, ffmpeg)), "--poll-seconds", "0.2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.procs.append(proc)
        return proc

    async def clip(self) -> Clip:
        q = await self.env.answered(3.0, 9.0)
        clip = await self.env.review.answered(q)
        assert clip is not None
        return clip

    async def job(self, clip: Clip) -> Job:
        return await self.store.get(Job, clip.job_id)


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)])
async def deployment(request: pytest.FixtureRequest, ffmpeg: str, recording: Path,
                     tmp_path: Path) -> AsyncIterator[Deployment]:
    store: Store
    if request.param == "sqlite":
        db = tmp_path / "store.sqlite3"
        store = SQLiteStore(db)
        store_toml = f'[store]\nbackend = "sqlite"\nsqlite_path = "{db}"\n'
    else:
        from store.mongo import MongoStore

        uri = request.getfixturevalue("mongodb_uri")
        database = f"tp_workers_{secrets.token_hex(6)}"
        store = MongoStore(uri, database=database, timeout_ms=5000)
        store_toml = (f'[store]\nbackend = "mongodb"\nmongodb_uri = "{uri}"\n'
                      f'mongodb_database = "{database}"\n')
    await store.open()
    media_dir = tmp_path / "media"
    t0 = copy_recording(recording, media_dir)
    await store.insert(LiveSession(id=SESSION, title="交警视频帮", status="ended",
                                   started_at=t0, ended_at=t0 + 12))
    from settings import MediaSettings

    env = Env(store, media_dir, ffmpeg, t0, MediaSettings(record=True))
    dep = Deployment(store, env, tmp_path, store_toml, [])
    try:
        yield dep
    finally:
        for proc in dep.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.stdout is not None and not proc.stdout.closed:
                proc.communicate()
        if request.param == "mongodb":
            await store.drop_database()  # type: ignore[attr-defined]
        await store.close()


def slow_ffmpeg(tmp: Path, ffmpeg: str, name: str, seconds: float) -> tuple[str, Path]:
    """An ffmpeg that marks that it started, sleeps, then runs: a cut caught mid-way."""
    started = tmp / f"{name}-started"
    script = tmp / f"{name}-ffmpeg"
    script.write_text(f'#!/bin/sh\ntouch {started}\nsleep {seconds}\nexec {ffmpeg} "$@"\n')
    script.chmod(0o755)
    return str(script), started


async def wait_file(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(path.exists):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.05)


async def wait_job(dep: Deployment, clip: Clip, state: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while (job := await dep.job(clip)).state != state:
        assert time.monotonic() < deadline, f"job still {job.state}"
        await asyncio.sleep(0.1)
    return job


async def read_until(proc: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The process's output up to the first line holding ``text``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not lines or text not in lines[-1]:
        assert time.monotonic() < deadline, "".join(lines)
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline),
                                      deadline - time.monotonic())
        assert line, "".join(lines)
        lines.append(line)
    return "".join(lines)


def stopped(proc: subprocess.Popen[str], timeout: float = 30) -> str:
    """The rest of a signalled process's output once it has exited (killed, and the output
    shown, if it does not exit in time)."""
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"did not stop in {timeout} s:\n{proc.communicate()[0]}") from None


def files_of(dep: Deployment, clip: Clip) -> list[str]:
    return sorted(p.name for p in dep.env.review.clip_dir(clip.id).iterdir())


async def test_a_worker_killed_mid_cut_leaves_its_job_to_another_one_clip(
        deployment: Deployment, ffmpeg: str) -> None:
    dep = deployment
    clip = await dep.clip()
    hanging, started = slow_ffmpeg(dep.tmp, ffmpeg, "a", 600)
    a = dep.worker("a", hanging)
    await wait_file(started, a)
    held = await dep.job(clip)
    assert held.state == "running" and held.attempts == 1
    os.killpg(a.pid, signal.SIGKILL)  # the worker and its ffmpeg: no clean-up at all
    a.communicate()
    killed_at = time.time()

    b = dep.worker("b", ffmpeg)
    job = await wait_job(dep, clip, "done")
    # B could not take the job before A's lease ran out.
    assert job.updated_at >= held.lease_expires and time.time() - killed_at < 60
    assert (job.attempts, job.last_error) == (2, "")
    done = await dep.store.get(Clip, clip.id)
    assert done.state == "draft", done.error
    assert done.media_path == f"clips/{clip.id}/g1-2.mp4"
    # The killed attempt's temporary files are removed just after the landing commits.
    deadline = time.monotonic() + 20
    while (found := files_of(dep, clip)) != ["g1-2.jpg", "g1-2.mp4", "g1-2.vtt"]:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)
    assert mp4_info(dep.env.media_dir / done.media_path).track("vide") is not None
    assert await dep.store.count(Clip) == 1 and await dep.store.count(Job) == 1
    assert b.poll() is None


async def test_a_stalled_worker_waking_after_a_takeover_writes_nothing(
        deployment: Deployment, ffmpeg: str) -> None:
    dep = deployment
    clip = await dep.clip()
    slow, started = slow_ffmpeg(dep.tmp, ffmpeg, "a", 2)
    a = dep.worker("a", slow)
    await wait_file(started, a)
    os.killpg(a.pid, signal.SIGSTOP)  # the worker and its ffmpeg freeze: no renewal
    try:
        b = dep.worker("b", ffmpeg)
        await wait_job(dep, clip, "done")
        landed = await dep.store.get(Clip, clip.id)
        assert (landed.state, landed.media_path) == ("draft", f"clips/{clip.id}/g1-2.mp4")
    finally:
        os.killpg(a.pid, signal.SIGCONT)
    # A finishes its cut (attempt 1) and tries to land it: fenced off, files removed.
    seen = await read_until(a, "was taken over", timeout=60)
    a.send_signal(signal.SIGTERM)
    out = seen + stopped(a)
    assert a.returncode == 0, out
    assert not [p for p in dep.env.review.clip_dir(clip.id).iterdir()
                if p.name.startswith(("g1-1", ".g1-1"))], files_of(dep, clip)
    after = await dep.store.get(Clip, clip.id)
    assert (after.state, after.media_path, after.version) == (
        "draft", landed.media_path, landed.version), "the stale attempt changed the clip"
    job = await dep.job(clip)
    assert (job.state, job.attempts) == ("done", 2)
    assert files_of(dep, clip) == ["g1-2.jpg", "g1-2.mp4", "g1-2.vtt"]
    assert b.poll() is None


async def test_sigterm_mid_cut_hands_the_job_back_at_once(
        deployment: Deployment, ffmpeg: str) -> None:
    dep = deployment
    clip = await dep.clip()
    hanging, started = slow_ffmpeg(dep.tmp, ffmpeg, "a", 600)
    a = dep.worker("a", hanging)
    await wait_file(started, a)
    a.send_signal(signal.SIGTERM)
    out = stopped(a)
    assert a.returncode == 0, out
    assert "go back to the queue" in out
    job = await dep.job(clip)
    assert (job.state, job.lease_owner, job.attempts) == ("queued", "", 0)
    assert not [p for p in dep.env.review.clip_dir(clip.id).iterdir()], "no leftovers"

    dep.worker("b", ffmpeg)  # no lease to wait for: cut at once
    job = await wait_job(dep, clip, "done", timeout=LEASE * 10)
    assert job.attempts == 1
    assert (await dep.store.get(Clip, clip.id)).media_path == f"clips/{clip.id}/g1-1.mp4"


def test_worker_refuses_a_concurrency_below_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "worker", "--data-dir", str(tmp_path),
         "--concurrency", "0"], capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT)
    assert result.returncode == 2 and "--concurrency must be at least 1" in result.stderr
