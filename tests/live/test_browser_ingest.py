"""The phone source's pieces without a server: its source text and ffmpeg command, the feed
between a phone's socket and the recorder's ffmpeg (one sender, takeover, a run that ends
under a sending phone, the buffer limit), the byte budget, and ``run_ffmpeg`` writing a
feed into a real ffmpeg's stdin."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from live import recorder_commands
from live.browser_ingest import ByteBudget, PhoneBusy, PhoneFeed, PhoneFeeds
from live.ffmpeg import find_ffmpeg, run_ffmpeg
from live.recorder_commands import BROWSER_SOURCE, Source

FF = "/usr/bin/ffmpeg"
OUT = Path("/m/s/1/hls")


def test_the_phone_source_reads_stdin_and_is_encoded_at_a_constant_rate() -> None:
    source = Source.parse(BROWSER_SOURCE)
    assert source.kind == "browser" and source.label == "phone browser"
    inputs = recorder_commands.source_input_args(source)
    assert inputs == ["-i", "pipe:0"]
    args = recorder_commands.record_args(FF, inputs, OUT, copy_video=False, copy_audio=False,
                                         frame_rate=recorder_commands.PHONE_FRAME_RATE)
    video = args[args.index("-c:v"):args.index("-c:a")]
    assert video == ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt",
                     "yuv420p", "-r", "25", "-force_key_frames", "expr:gte(t,n_forced*2)",
                     "-sc_threshold", "0"]
    # "browser:" is exactly the phone; anything else after it is a file path as before.
    assert Source.parse("browser:x").kind == "file"


async def take(stream: AsyncIterator[bytes], n: int) -> list[bytes]:
    got: list[bytes] = []
    async for chunk in stream:
        got.append(chunk)
        if len(got) == n:
            break
    return got


async def test_one_sender_at_a_time_unless_it_takes_over() -> None:
    feed = PhoneFeed("s1")
    kicked: list[tuple[str, str]] = []
    first = feed.attach("u1", lambda why: kicked.append(("u1", why)))
    with pytest.raises(PhoneBusy):
        feed.attach("u2", lambda why: kicked.append(("u2", why)))
    second = feed.attach("u2", lambda why: kicked.append(("u2", why)), take_over=True)
    assert kicked == [("u1", "taken_over")] and first.ended == "taken_over"
    assert not feed.push(first, b"late") and feed.push(second, b"ok")
    feed.detach(second)
    assert feed.current is None
    feed.attach("u3", lambda why: None)  # free again: no takeover needed


async def test_a_run_reads_one_connection_from_its_first_chunk_to_its_end() -> None:
    feed = PhoneFeed("s1")
    sender = feed.attach("u1", lambda why: None)
    feed.push(sender, b"header")  # sent before any ffmpeg reads: kept, in order
    feed.push(sender, b"c1")
    stream = feed.stream()
    assert await take(stream, 2) == [b"header", b"c1"]
    feed.push(sender, b"c2")
    feed.detach(sender)  # the phone left: the run's input ends after what it sent
    assert [c async for c in stream] == [b"c2"]

    # The next run waits for the next connection.
    nxt = asyncio.ensure_future(take(feed.stream(), 1))
    await asyncio.sleep(0.05)
    assert not nxt.done()
    again = feed.attach("u1", lambda why: None)
    feed.push(again, b"header2")
    assert await asyncio.wait_for(nxt, 5) == [b"header2"]


async def test_a_run_that_ends_under_a_sending_phone_asks_it_to_start_afresh() -> None:
    feed = PhoneFeed("s1")
    kicked: list[str] = []
    sender = feed.attach("u1", kicked.append)
    feed.push(sender, b"header")
    stream = feed.stream()
    await take(stream, 1)
    await stream.aclose()  # ffmpeg stalled or failed: its run is over
    assert kicked == ["restart"] and sender.ended == "restart" and feed.current is None


async def test_a_phone_over_the_buffer_is_ended() -> None:
    feed = PhoneFeeds(max_buffer=10).feed("s1")
    kicked: list[str] = []
    sender = feed.attach("u1", kicked.append)
    assert feed.push(sender, b"x" * 10)
    assert not feed.push(sender, b"y")
    assert kicked == ["overloaded"]


def test_the_byte_budget_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    budget = ByteBudget(1000, 5, burst_seconds=2, clock=lambda: now[0])
    assert budget.take(2000)  # the whole burst at once
    assert not budget.take(1)
    now[0] = 1.0
    assert budget.take(900)  # a second later: a second's worth again
    counted = ByteBudget(10**9, 2, burst_seconds=1, clock=lambda: now[0])
    assert counted.take(1) and counted.take(1) and not counted.take(1)


def webm(ffmpeg: str, clip: Path) -> bytes:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=25", "-t", "2", "-c:v", "libvpx",
                    "-deadline", "realtime", "-f", "webm", str(clip)], check=True)
    return clip.read_bytes()


async def test_run_ffmpeg_writes_a_feed_into_stdin_and_closes_it(tmp_path: Path) -> None:
    ffmpeg = find_ffmpeg("")
    data = webm(ffmpeg, tmp_path / "in.webm")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 4096):
            yield data[start:start + 4096]

    out = tmp_path / "out.mkv"
    result = await run_ffmpeg(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
         "-i", "pipe:0", "-c", "copy", "-y", str(out)], timeout=30,
        feed=chunks())
    assert result.returncode == 0 and result.progress.frame >= 45


async def test_the_end_of_the_session_ends_the_phone_stream_first() -> None:
    feeds = PhoneFeeds()
    kicked: list[str] = []
    sender = feeds.feed("s1").attach("u1", kicked.append)
    feeds.feed("s1").push(sender, b"header")
    stream = feeds.feed("s1").stream()
    assert await take(stream, 1) == [b"header"]
    feeds.feed("s1").push(sender, b"c1")
    feeds.end("s1")  # Recorder.stop: ffmpeg reads what was sent, then the end of input
    assert [c async for c in stream] == [b"c1"]
    assert kicked == ["ended"] and feeds.sender("s1") is None
    feeds.end("nosuchsession")  # harmless
