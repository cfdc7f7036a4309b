"""Simulcast destinations: the RTMP servers a live session's programme is pushed to.

An admin adds destinations to a session (name, ``rtmp://`` or ``rtmps://`` URL, stream key;
``web.admin_sessions``); each is a ``SimulcastTarget`` in the store, added or removed with its
audit entry in one transaction. The pushing itself is ``live.simulcast_push``.

The stream key is a secret. It is stored encrypted (``live.simulcast_keys``: sealed when
added, opened only to build the push command and its mask). Everywhere it is shown it is
masked (``mask_key``: the last four characters, on keys long enough that they reveal nothing
useful), the audit log records a fingerprint (the first 8 hex digits of its SHA-256), and
``target_secrets`` lists what ``scrub`` must remove from any text ffmpeg echoes (the full push
URL, the key, its stream name, a URL's password and query). A key that no longer opens (the
signing key changed) is shown as such (``UNREADABLE``) and entered again (``replace_key``).

The push command (``push_args``) is an argument list: the URL is checked to start with
``rtmp://`` or ``rtmps://``, so neither it nor the key (appended to its path) can ever be read
as an option; the destination's name never reaches ffmpeg.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from live.recorder_commands import base
from live.recordings import source_secrets
from live.sessions import AuditWriter
from live.simulcast_keys import StreamKeys
from store.base import NotFound, Store
from store.records import LiveSession, SimulcastTarget, new_id

SCHEMES = ("rtmp", "rtmps")
MAX_TARGETS = 5  # per session: each is one more ffmpeg on the recording node
MAX_URL = 500
MAX_KEY = 500
MAX_NAME = 40
UNREADABLE = "密钥无法读取，请重新输入"  # a sealed key that does not open (simulcast_keys)


class SimulcastError(Exception):
    """A destination the form cannot accept (the message is shown to the admin)."""


def _printable(text: str, what: str, limit: int) -> str:
    text = text.strip()
    if len(text) > limit:
        raise SimulcastError(f"{what}最多 {limit} 个字符。")
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise SimulcastError(f"{what}不能包含空格或控制字符。")
    return text


def check_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise SimulcastError("请填写目标名称（例如：抖音）。")
    if len(name) > MAX_NAME:
        raise SimulcastError(f"名称最多 {MAX_NAME} 个字。")
    return name


def check_url(text: str) -> str:
    """An RTMP server address (without the key), or SimulcastError."""
    url = _printable(text, "推流地址", MAX_URL)
    if not url:
        raise SimulcastError("请填写推流地址。")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SimulcastError("推流地址格式不正确。") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise SimulcastError("推流地址须以 rtmp:// 或 rtmps:// 开头，并包含服务器地址。")
    return url


def check_key(text: str) -> str:
    key = _printable(text, "推流密钥", MAX_KEY)
    if not key:
        raise SimulcastError("请填写推流密钥（推流码）。")
    return key


def mask_key(key: str) -> str:
    """The key as pages show it: its last four characters, only when it is long."""
    return f"••••{key[-4:]}" if len(key) >= 12 else "••••"


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def push_url(url: str, key: str) -> str:
    """The full publishing address: the server URL with the key as its last path segment."""
    url = url.rstrip("/")
    return f"{url}/{key}" if key else url


def destination_label(url: str) -> str:
    """The server URL for display: no credentials, no query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "（无法识别）"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def target_secrets(url: str, key: str) -> tuple[str, ...]:
    """What must never be shown of a destination, longest first (see ``scrub``)."""
    found = set(source_secrets(push_url(url, key)))
    found.update({key, key.split("?", 1)[0]})
    found.update(source_secrets(url))
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def target_view(target: SimulcastTarget, keys: StreamKeys) -> dict[str, str | bool]:
    """A destination as staff see it (no key, no credentials); ``readable`` is False when
    its stored key no longer opens and must be entered again."""
    key = keys.open(target)
    return {"id": target.id, "name": target.name, "destination": destination_label(target.url),
            "key": UNREADABLE if key is None else mask_key(key), "readable": key is not None,
            "enabled": target.enabled}


def audit_key(keys: StreamKeys, target: SimulcastTarget) -> str:
    key = keys.open(target)
    return "密钥无法读取" if key is None else f"密钥指纹 {key_fingerprint(key)}"


def push_args(ffmpeg: str, playlist: Path, url: str) -> list[str]:
    """Push the session's recording (its live HLS playlist, from the newest segment on,
    paced at its own rate) to ``url`` as FLV over RTMP, copying the streams: no decode, no
    encode (the recorder has already made H.264/AAC with 2-second keyframes)."""
    if urlsplit(url).scheme.lower() not in SCHEMES:
        raise ValueError("only rtmp:// and rtmps:// destinations can be pushed to")
    return [*base(ffmpeg), "-re", "-live_start_index", "-1", "-i", str(playlist),
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
            "-f", "flv", "-flvflags", "no_duration_filesize", url]


# --- the store ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetForm:
    name: str
    url: str
    stream_key: str


async def targets(store: Store, session_id: str) -> list[SimulcastTarget]:
    return await store.find(SimulcastTarget, {"session_id": session_id},
                            order_by=["created_at", "id"])


async def add_target(store: Store, audit: AuditWriter, session_id: str, form: TargetForm, *,
                     keys: StreamKeys, actor: str,
                     clock: Callable[[], float] = time.time) -> SimulcastTarget:
    """Add a destination to a session (not an ended one), its key sealed, audited with a key
    fingerprint."""
    name, url, key = check_name(form.name), check_url(form.url), check_key(form.stream_key)
    try:
        session = await store.get(LiveSession, session_id)
    except NotFound:
        raise SimulcastError("直播场次不存在。") from None
    if session.status == "ended":
        raise SimulcastError("直播已结束，不能再添加转推目标。")
    if len(await targets(store, session_id)) >= MAX_TARGETS:
        raise SimulcastError(f"每场直播最多 {MAX_TARGETS} 个转推目标。")
    now, target_id = clock(), new_id()
    target = SimulcastTarget(id=target_id, session_id=session_id, name=name, url=url,
                             stream_key=keys.seal(target_id, url, key), created_by=actor,
                             created_at=now, updated_at=now)
    async with store.transaction() as tx:
        await tx.insert(target)
        await audit(tx, actor, "simulcast.add", f"session:{session_id}", session_id=session_id,
                    after={"name": name, "destination": destination_label(url),
                           "key": f"密钥指纹 {key_fingerprint(key)}"})
    return target


async def _target_of(store: Store, session_id: str, target_id: str) -> SimulcastTarget:
    try:
        target = await store.get(SimulcastTarget, target_id)
    except NotFound:
        raise SimulcastError("转推目标不存在（可能已被删除）。") from None
    if target.session_id != session_id:
        raise SimulcastError("转推目标不属于这场直播。")
    return target


async def remove_target(store: Store, audit: AuditWriter, session_id: str, target_id: str, *,
                        keys: StreamKeys, actor: str) -> SimulcastTarget:
    target = await _target_of(store, session_id, target_id)
    async with store.transaction() as tx:
        await tx.delete(SimulcastTarget, target_id)
        await audit(tx, actor, "simulcast.remove", f"session:{session_id}",
                    session_id=session_id,
                    before={"name": target.name, "destination": destination_label(target.url),
                            "key": audit_key(keys, target)})
    return target


async def replace_key(store: Store, audit: AuditWriter, session_id: str, target_id: str,
                      key: str, *, keys: StreamKeys, actor: str,
                      clock: Callable[[], float] = time.time) -> SimulcastTarget:
    """Enter a destination's stream key again (sealed anew), audited with both fingerprints
    (or 密钥无法读取 for the old one when it no longer opened)."""
    key = check_key(key)
    target = await _target_of(store, session_id, target_id)
    async with store.transaction() as tx:
        updated = await tx.update(SimulcastTarget, target_id,
                                  {"stream_key": keys.seal(target_id, target.url, key)},
                                  now=clock())
        await audit(tx, actor, "simulcast.key", f"session:{session_id}", session_id=session_id,
                    before={"name": target.name, "key": audit_key(keys, target)},
                    after={"name": target.name, "key": f"密钥指纹 {key_fingerprint(key)}"})
    return updated
