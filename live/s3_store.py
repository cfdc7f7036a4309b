"""The media store on an S3 API (``[media] storage = "s3"``): AWS, MinIO, SeaweedFS, Ceph.

One ``aiobotocore`` client per process, opened with the app and closed with it. aiobotocore
rather than boto3: its requests run on the event loop (it is built on aiohttp, already the
server's HTTP stack), so a thousand viewers fetching segments do not queue for the handful
of threads ``asyncio.to_thread`` has, and an object streams to a browser chunk by chunk.

Keys map to ``s3_prefix + key`` in ``s3_bucket``. With an endpoint set the client uses
path-style addressing (``endpoint/bucket/key``), which every S3-compatible store accepts.
Timeouts are bounded and botocore's standard retry mode retries throttling and transient
errors; what still fails raises ``MediaStoreError`` (``MediaNotFound`` for a missing key).
Large files are uploaded in parts (``PART_SIZE``), each read from disk in a thread, so a
clip's MP4 never sits whole in memory; a failed multipart upload is aborted.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from live.media_store import (
    CHUNK,
    MediaNotFound,
    MediaStore,
    MediaStoreError,
    ObjectInfo,
    ObjectStream,
    RangeNotSatisfiable,
    check_key,
    content_type,
)
from settings import MediaSettings

if TYPE_CHECKING:
    from aiobotocore.response import StreamingBody
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import ObjectIdentifierTypeDef

PART_SIZE = 8 << 20  # multipart uploads above this size, in parts of it
_MISSING = {"NoSuchKey", "404", "NotFound"}  # a missing bucket is an error, not absence
_ERRORS = (ClientError, BotoCoreError, OSError, asyncio.TimeoutError)


def _code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _describe(exc: BaseException) -> str:
    """What went wrong, without the endpoint, bucket or keys: the text may reach staff pages
    (a clip's error); the exception it came from is chained for the log."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')} {error.get('Message', '')}".strip()
    if isinstance(exc, ReadTimeoutError | asyncio.TimeoutError):
        return "the S3 store did not answer in time"
    if isinstance(exc, BotoConnectionError | OSError):
        return "cannot reach the S3 store"
    return type(exc).__name__


def _error(key: str, exc: BaseException) -> MediaStoreError:
    """The store's own error for a botocore one."""
    if _code(exc) in _MISSING:
        return MediaNotFound(key)
    return MediaStoreError(f"media store, {key or 'bucket'}: {_describe(exc)}")


class _S3Stream(ObjectStream):
    def __init__(self, body: StreamingBody, info: ObjectInfo, start: int, stop: int) -> None:
        super().__init__(info, start, stop)
        self._body = body

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._body.iter_chunks(CHUNK):
                yield data
        except _ERRORS as exc:
            raise _error(self.info.key, exc) from exc

    async def close(self) -> None:
        self._body.close()


class S3MediaStore(MediaStore):
    kind = "s3"

    def __init__(self, *, bucket: str, endpoint: str = "", region: str = "us-east-1",
                 access_key: str = "", secret_key: str = "", prefix: str = "",
                 connect_timeout: float = 5.0, read_timeout: float = 30.0) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.prefix = prefix
        self._access_key = access_key
        self._secret_key = secret_key
        self._config = AioConfig(
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"} if endpoint else None,
            max_pool_connections=64)
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: S3Client | None = None

    @classmethod
    def from_settings(cls, media: MediaSettings) -> S3MediaStore:
        return cls(bucket=media.s3_bucket, endpoint=media.s3_endpoint, region=media.s3_region,
                   access_key=media.s3_access_key, secret_key=media.s3_secret_key.reveal(),
                   prefix=media.s3_prefix)

    def __repr__(self) -> str:
        return (f"S3MediaStore(endpoint={self.endpoint!r}, bucket={self.bucket!r}, "
                f"prefix={self.prefix!r})")

    async def open(self) -> None:
        if self._client is not None:
            return
        stack = contextlib.AsyncExitStack()
        self._client = await stack.enter_async_context(get_session().create_client(
            "s3", endpoint_url=self.endpoint or None, region_name=self.region or None,
            aws_access_key_id=self._access_key or None,
            aws_secret_access_key=self._secret_key or None, config=self._config))
        self._stack = stack

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise MediaStoreError("the S3 media store is not open")
        return self._client

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    # -- objects ---------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        try:
            await self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                         ContentType=content_type(key))
        except _ERRORS as exc:
            raise _error(key, exc) from exc

    async def put_file(self, key: str, path: Path) -> None:
        size = (await asyncio.to_thread(os.stat, path)).st_size
        if size <= PART_SIZE:
            await self.put(key, await asyncio.to_thread(Path(path).read_bytes))
            return
        name = self._name(key)
        try:
            upload = await self.client.create_multipart_upload(
                Bucket=self.bucket, Key=name, ContentType=content_type(key))
        except _ERRORS as exc:
            raise _error(key, exc) from exc
        upload_id = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            with open(path, "rb") as f:  # noqa: ASYNC230 - each read below is in a thread
                for number in range(1, (size + PART_SIZE - 1) // PART_SIZE + 1):
                    data = await asyncio.to_thread(f.read, PART_SIZE)
                    done = await self.client.upload_part(
                        Bucket=self.bucket, Key=name, UploadId=upload_id,
                        PartNumber=number, Body=data)
                    parts.append({"PartNumber": number, "ETag": done["ETag"]})
            await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload_id,
                MultipartUpload={"Parts": parts})  # type: ignore[typeddict-item]
        except BaseException as exc:
            with contextlib.suppress(*_ERRORS):
                await asyncio.shield(self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id))
            if isinstance(exc, _ERRORS):
                raise _error(key, exc) from exc
            raise

    async def get(self, key: str) -> bytes:
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            async with answer["Body"] as body:
                return await body.read()
        except _ERRORS as exc:
            raise _error(key, exc) from exc

    async def fetch(self, key: str, path: Path) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.fetch")
        stream = await self.stream(key)
        try:
            f = await asyncio.to_thread(open, tmp, "wb")
            try:
                async for data in stream.chunks():
                    await asyncio.to_thread(f.write, data)
            finally:
                await asyncio.to_thread(f.close)
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            await stream.close()
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(tmp.unlink)

    async def stat(self, key: str) -> ObjectInfo:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except _ERRORS as exc:
            raise _error(key, exc) from exc
        return ObjectInfo(key=key, size=head["ContentLength"], etag=head["ETag"],
                          modified=head["LastModified"].timestamp())

    async def stream(self, key: str, start: int = 0, stop: int | None = None) -> ObjectStream:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if start < 0:
            args["Range"] = f"bytes={start}"  # the last -start bytes
        elif start > 0 or stop is not None:
            args["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))
        try:
            answer = await self.client.get_object(**args)
        except _ERRORS as exc:
            if _code(exc) == "InvalidRange":
                raise RangeNotSatisfiable(key, (await self.stat(key)).size) from None
            raise _error(key, exc) from exc
        length = answer["ContentLength"]
        total, first = length, 0
        content_range = answer.get("ContentRange", "")
        if content_range:  # "bytes 100-199/1000"; without it, the whole object came
            span, _, size = content_range.removeprefix("bytes ").partition("/")
            total, first = int(size), int(span.split("-", 1)[0])
        info = ObjectInfo(key=key, size=total, etag=answer["ETag"],
                          modified=answer["LastModified"].timestamp())
        return _S3Stream(answer["Body"], info, first, first + length)

    async def list(self, prefix: str) -> list[str]:
        found: builtins.list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix)
            async for page in pages:
                found += [o["Key"][len(self.prefix):] for o in page.get("Contents", [])]
        except _ERRORS as exc:
            raise _error("", exc) from exc
        return sorted(found)

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except _ERRORS as exc:
            error = _error(key, exc)
            if not isinstance(error, MediaNotFound):
                raise error from exc

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list(prefix)
        for start in range(0, len(keys), 1000):
            batch: builtins.list[ObjectIdentifierTypeDef] = [
                {"Key": self.prefix + k} for k in keys[start:start + 1000]]
            try:
                answer = await self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except _ERRORS as exc:
                raise _error(prefix, exc) from exc
            if answer.get("Errors"):
                raise MediaStoreError(f"S3 could not delete {answer['Errors'][0]}")
        return len(keys)

    async def check(self) -> str:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except _ERRORS as exc:
            code = _code(exc)
            reason = {"403": "access denied (check s3_access_key and s3_secret_key)",
                      "404": "no such bucket", "NoSuchBucket": "no such bucket"}.get(code)
            raise MediaStoreError(  # for the operator's terminal: endpoint and bucket
                f"S3 bucket {self.bucket!r} at {self.endpoint or 'AWS'}: "
                f"{reason or _describe(exc)}") from exc
        return f"S3 bucket {self.bucket!r} at {self.endpoint or 'AWS ' + self.region}"
