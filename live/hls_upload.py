"""Recording into a remote media store: ffmpeg writes HLS into a local spool, this uploads it.

ffmpeg cannot write to S3, and should not wait on a network to write a segment: it keeps
writing into ``<media_dir>/sessions/<id>/hls`` (the spool) exactly as with local storage, and
an ``HlsUploader`` per recorded session mirrors that folder into the media store:

* **Order.** Each pass reads the playlist, uploads every segment it names that is not yet
  uploaded, and only then uploads the playlist text it read — so the playlist in the store
  never names a segment the store lacks, and a player reading it through any node finds
  every segment. (``temp_file``: a segment is in the playlist only once complete.)
* **Retries.** A pass that fails (the store unreachable, throttled) is retried after a
  back-off that doubles up to ``retry_max``; nothing is dropped meanwhile, the spool simply
  grows. The first failure of a streak is logged, and its recovery.
* **Pruning.** Uploaded segments are removed from the spool except the last ``keep`` (the
  recorder measures the bitrate from them); at the end of the session, after the final
  playlist (with ``#EXT-X-ENDLIST``) is up, the spool folder is removed.
* **Resuming.** A session recorded again after a restart — perhaps on another node, whose
  spool is empty or out of date — first fetches the playlist from the store (``restore``),
  so ffmpeg's ``append_list`` continues it after a discontinuity instead of starting a new
  one that would replace it.

Plain asyncio; the recorder (``live.hls_recorder``) owns one uploader per recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path

from live.media_store import MediaNotFound, MediaStore, MediaStoreError, hls_key, segment_key
from live.recorder_commands import PLAYLIST_NAME

log = logging.getLogger(__name__)


def _without_end(text: str) -> str:
    return text.rstrip().removesuffix("#EXT-X-ENDLIST").rstrip()


def playlist_uris(text: str) -> list[str]:
    """The segment URIs a media playlist names, in order."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


class HlsUploader:
    def __init__(self, store: MediaStore, spool: Path, session_id: str, *,
                 interval: float = 0.5, keep: int = 3, retry_initial: float = 0.5,
                 retry_max: float = 10.0) -> None:
        self.store = store
        self.spool = Path(spool)
        self.session_id = session_id
        self.playlist_key = hls_key(session_id, PLAYLIST_NAME)
        self.interval = interval
        self.keep = keep
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.uploaded: set[str] = set()  # segment URIs in the store
        self.failing = ""  # the last error while a streak of failures lasts
        self._sent = ""  # the playlist text last uploaded
        self._task: asyncio.Task[None] | None = None

    async def restore(self) -> bool:
        """Before ffmpeg starts: make the spool's playlist continue the stored one. The
        stored playlist is fetched into the spool (True) unless the spool's own already
        extends it (segments not yet uploaded); a spool left over from an earlier run on
        this node, that another node has recorded past since, is replaced. MediaStoreError
        when the store cannot be read: starting anyway could overwrite the stored playlist."""
        local = self.spool / PLAYLIST_NAME
        try:
            theirs = (await self.store.get(self.playlist_key)).decode("utf-8")
        except MediaNotFound:
            return False
        try:
            mine: str | None = await asyncio.to_thread(local.read_text, encoding="utf-8")
        except FileNotFoundError:
            mine = None
        self.uploaded.update(playlist_uris(theirs))
        if mine is not None and mine.startswith(_without_end(theirs)):
            return False
        if mine is not None:
            log.warning("recording of session %s: the spool's playlist is behind the stored "
                        "one (recorded elsewhere since); continuing the stored one",
                        self.session_id)
        await asyncio.to_thread(self.spool.mkdir, parents=True, exist_ok=True)
        tmp = self.spool / f".{PLAYLIST_NAME}.restore"
        await asyncio.to_thread(tmp.write_text, theirs, encoding="utf-8")
        await asyncio.to_thread(os.replace, tmp, local)
        self._sent = theirs
        return True

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(),
                                             name=f"hls-upload:{self.session_id}")

    async def stop(self, *, deadline: float = 30.0) -> bool:
        """Stop the background passes, then upload what is left (retrying up to
        ``deadline`` seconds) and clear the spool. False when the store could not take it
        all: the spool is kept, and the next recording of the session uploads it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        delay = self.retry_initial
        while True:
            try:
                await self.sync()
                break
            except MediaStoreError as exc:
                self._failed(exc)
                if loop.time() + delay > end:
                    log.error("recording of session %s: %d s of retries could not upload "
                              "the end of the recording; it stays in %s (%s)",
                              self.session_id, deadline, self.spool, exc)
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
        await asyncio.to_thread(shutil.rmtree, self.spool, True)
        return True

    async def sync(self) -> int:
        """One pass: new segments, then the playlist naming them; then prune. Returns how
        many segments were uploaded."""
        try:
            text = await asyncio.to_thread((self.spool / PLAYLIST_NAME).read_text,
                                           encoding="utf-8")
        except FileNotFoundError:
            return 0
        uris = playlist_uris(text)
        sent = 0
        for uri in uris:
            if uri in self.uploaded:
                continue
            path = self.spool / uri
            # Named but not here: uploaded by an earlier run (before a restore or a restart)
            # and pruned. Nothing to send.
            if await asyncio.to_thread(path.is_file):
                await self.store.put_file(segment_key(self.playlist_key, uri), path)
                sent += 1
            self.uploaded.add(uri)
        if text != self._sent:
            await self.store.put(self.playlist_key, text.encode("utf-8"))
            self._sent = text
        if self.failing:
            log.warning("recording of session %s: uploads work again", self.session_id)
            self.failing = ""
        await asyncio.to_thread(self._prune, uris)
        return sent

    async def _run(self) -> None:
        delay = self.retry_initial
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sync()
                delay = self.retry_initial
            except MediaStoreError as exc:
                self._failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)

    def _failed(self, exc: Exception) -> None:
        if not self.failing:
            log.warning("recording of session %s: uploading to the media store failed, "
                        "retrying (%s)", self.session_id, exc)
        self.failing = str(exc)

    def _prune(self, uris: list[str]) -> None:
        done = [u for u in uris if u in self.uploaded]
        for uri in done[:-self.keep] if self.keep else done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.spool / uri)
