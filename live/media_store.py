"""Where recordings and clips are kept: a small object store, addressed by key.

A key is a relative POSIX path, the same name a file has under ``media_dir``:
``sessions/<id>/hls/index.m3u8``, ``sessions/<id>/hls/seg_000042.ts``,
``clips/<clip id>/g3.mp4``. Clip records keep these keys (``Clip.media_path`` and friends), so
switching ``[media] storage`` moves no record.

Two implementations of one interface (``MediaStore``), chosen by ``[media] storage``:

* ``LocalMediaStore`` — a directory (``media_dir``): today's layout. Several nodes share it
  when ``media_dir`` is on a shared mount (NFS). ``local_path`` names the file, so the
  recorder writes in place, the cutter reads segments in place, and the web layer serves
  files with sendfile.
* ``live.s3_store.S3MediaStore`` — a bucket on any S3 API. ``local_path`` is None: the
  recorder writes into a local spool and uploads (``live.hls_upload``), the cutter fetches
  the segments it needs (``clips.staging``), and the web layer streams objects back.

Every operation is a coroutine; a missing object raises ``MediaNotFound`` (also a
``FileNotFoundError``, so callers that knew files need not change), anything else the store
cannot do raises ``MediaStoreError``. Plain asyncio, no aiohttp.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from settings import Settings

CHUNK = 1 << 20  # bytes read or written at a time when streaming
SESSIONS = "sessions"
CLIPS = "clips"
_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")  # store ids may start with "-"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
                 ".mp4": "video/mp4", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".vtt": "text/vtt; charset=utf-8"}


class MediaStoreError(Exception):
    """The media store cannot do what was asked (unreachable, refused, I/O error)."""


class MediaNotFound(MediaStoreError, FileNotFoundError):
    """No object has that key."""


class RangeNotSatisfiable(MediaStoreError):
    """A byte range that starts past the end of the object."""

    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"{key}: range outside its {size} bytes")
        self.size = size


def check_key(key: str) -> str:
    """``key`` if it is a plain relative path of safe names (no ``..``, no leading ``/``,
    no empty or hidden part), else ValueError: a key never leaves the store's root."""
    parts = key.split("/")
    if not key or not all(_PART.match(p) for p in parts) or ".." in parts:
        raise ValueError(f"bad media key {key!r}")
    return key


def hls_key(session_id: str, name: str = "") -> str:
    """The key of a file of a session's recording (``name`` empty: the folder prefix)."""
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"session id {session_id!r} cannot name a recording")
    prefix = f"{SESSIONS}/{session_id}/hls/"
    return check_key(prefix + name) if name else prefix


def segment_key(playlist_key: str, uri: str) -> str:
    """The key of a segment a playlist names by its relative ``uri``."""
    return check_key(str(PurePosixPath(playlist_key).parent / uri))


def clip_key(clip_id: str, name: str = "") -> str:
    """The key of a clip file (``name`` empty: the clip's folder prefix)."""
    if not _SESSION_ID.match(clip_id):
        raise ValueError(f"clip id {clip_id!r} cannot name a folder")
    prefix = f"{CLIPS}/{clip_id}/"
    return check_key(prefix + name) if name else prefix


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted, as HTTP sends it
    modified: float  # epoch seconds


def resolve_range(key: str, size: int, start: int, stop: int | None) -> tuple[int, int]:
    """HTTP byte-range arithmetic: ``start`` < 0 is a suffix (the last -start bytes),
    ``stop`` (exclusive) None or past the end is the end. Returns [first, stop)."""
    if start < 0:
        first = max(0, size + start)
        last = size
    else:
        first, last = start, size if stop is None else min(stop, size)
    if size == 0 and start == 0 and stop is None:
        return 0, 0  # an empty object, read whole
    if first >= size or last <= first:
        raise RangeNotSatisfiable(key, size)
    return first, last


class ObjectStream(abc.ABC):
    """One object's bytes [start, stop), read in chunks; ``close`` releases the connection."""

    def __init__(self, info: ObjectInfo, start: int, stop: int) -> None:
        self.info = info
        self.start = start
        self.stop = stop

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def partial(self) -> bool:
        return self.length != self.info.size

    @abc.abstractmethod
    def chunks(self) -> AsyncIterator[bytes]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class MediaStore(abc.ABC):
    """Objects by key: recordings and clips (see the module docstring)."""

    kind: str

    def local_path(self, key: str) -> Path | None:
        """The file that holds ``key`` when the store is a directory, else None."""
        return None

    @abc.abstractmethod
    async def put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    async def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (complete, or not at all)."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes: ...

    @abc.abstractmethod
    async def fetch(self, key: str, path: Path) -> None:
        """Copy the object into the file ``path`` (written whole, then renamed)."""

    @abc.abstractmethod
    async def stat(self, key: str) -> ObjectInfo: ...

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except MediaNotFound:
            return False
        return True

    @abc.abstractmethod
    async def stream(self, key: str, start: int = 0, stop: int | None = None) -> ObjectStream:
        """The object's bytes in a range (see ``resolve_range``), to read in chunks."""

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[str]:
        """The keys that start with ``prefix``, sorted."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove an object (a missing one is not an error)."""

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; how many there were."""
        keys = await self.list(prefix)
        for key in keys:
            await self.delete(key)
        return len(keys)

    @abc.abstractmethod
    async def check(self) -> str:
        """Reach the store and say what it is; MediaStoreError when it cannot be used."""

    async def open(self) -> None:  # noqa: B027 - most stores need nothing
        """Acquire what the store needs (connections); called once, before use."""

    async def close(self) -> None:  # noqa: B027
        """Release it."""


# --- a directory -----------------------------------------------------------------------------


class _FileStream(ObjectStream):
    def __init__(self, path: Path, info: ObjectInfo, start: int, stop: int) -> None:
        super().__init__(info, start, stop)
        self._path = path

    async def chunks(self) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, self._path, "rb")
        try:
            await asyncio.to_thread(f.seek, self.start)
            left = self.length
            while left > 0:
                data = await asyncio.to_thread(f.read, min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data
        finally:
            f.close()

    async def close(self) -> None:
        return None


class LocalMediaStore(MediaStore):
    """A directory of files; a key is a path under it."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self.local_path(key), data)

    async def put_file(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._copy, Path(path), self.local_path(key))

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, self.local_path(key))

    async def fetch(self, key: str, path: Path) -> None:
        source = self.local_path(key)
        await asyncio.to_thread(self._copy_existing, source, Path(path))

    async def stat(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._stat, key)

    async def stream(self, key: str, start: int = 0, stop: int | None = None) -> ObjectStream:
        info = await self.stat(key)
        first, last = resolve_range(key, info.size, start, stop)
        return _FileStream(self.local_path(key), info, first, last)

    async def list(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.local_path(key).unlink)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list(prefix)
        if prefix.endswith("/"):  # a whole folder: take the folder (and stray files) too
            await asyncio.to_thread(shutil.rmtree, self.local_path(prefix.rstrip("/")), True)
        else:
            for key in keys:
                await self.delete(key)
        return len(keys)

    async def check(self) -> str:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise MediaStoreError(f"{self.root} is not writable")

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise MediaStoreError(f"{self.root}: {exc}") from exc
        return f"local directory {self.root}"

    # -- in a thread -------------------------------------------------------------------

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.put")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    @staticmethod
    def _copy(source: Path, target: Path) -> None:
        if source.resolve() == target.resolve():
            return  # written in place (the recorder, the cutter)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.put")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)

    @staticmethod
    def _copy_existing(source: Path, target: Path) -> None:
        if not source.is_file():
            raise MediaNotFound(str(source))
        LocalMediaStore._copy(source, target)

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise MediaNotFound(str(path)) from None

    def _stat(self, key: str) -> ObjectInfo:
        path = self.local_path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise MediaNotFound(key) from None
        if not path.is_file():
            raise MediaNotFound(key)
        return ObjectInfo(key=key, size=st.st_size,
                          etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
                          modified=st.st_mtime)

    def _list(self, prefix: str) -> builtins.list[str]:
        folder = prefix if prefix.endswith("/") else str(PurePosixPath(prefix).parent) + "/"
        base = self.root / folder.strip("/") if folder.strip("/") not in ("", ".") else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith("."):
                found.append(key)
        return sorted(found)


# --- choosing one ----------------------------------------------------------------------------


def make_media_store(settings: Settings) -> MediaStore:
    """The store ``[media] storage`` names (not yet opened: call ``open``)."""
    if settings.media.storage == "s3":
        from live.s3_store import S3MediaStore  # imports botocore: only when asked for

        return S3MediaStore.from_settings(settings.media)
    return LocalMediaStore(settings.media_dir)


async def check(settings: Settings) -> str:
    """Reach the configured media store (for ``run.py check``): what it is, or
    MediaStoreError saying why it cannot be used."""
    store = make_media_store(settings)
    await store.open()
    try:
        return await store.check()
    finally:
        await store.close()
