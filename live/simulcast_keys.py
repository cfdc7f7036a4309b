"""Simulcast stream keys, encrypted at rest.

A destination's stream key is stored sealed (``StreamKeys.seal``): AES-256-GCM from the
``cryptography`` package, a fresh 96-bit nonce per seal, and as associated data the
destination's id and server URL, so a sealed key opens only for the destination it was
entered for (copied into another row, or with the URL changed in the database, it does not
open). The stored text is ``aesgcm1:`` followed by the URL-safe base64 of nonce and
ciphertext, so a copy of the database or a backup holds no key.

The encryption key is derived from the signing key (``settings.ensure_secret_key``, which
every node of a cluster already shares) by HKDF-SHA256 with its own ``info`` label: nothing
new to configure or distribute, and the key is never used for anything but this.

When the signing key changes, the sealed keys no longer open: ``StreamKeys.open`` returns
None, the destination shows 密钥需重新输入 and is not pushed (a push is never started with a
key that did not open) until an admin enters the key again.

Rows written before keys were sealed (migration 0016 stored them as given) are read as they
are, and ``seal_plaintext`` seals them in place when a node starts.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from store.base import NotFound, Store, StoreError, VersionConflict
from store.records import SimulcastTarget

log = logging.getLogger(__name__)

PREFIX = "aesgcm1:"
HKDF_INFO = b"tippocket simulcast stream keys v1"
NONCE_BYTES = 12


def derive_key(signing_key: bytes) -> bytes:
    """The 256-bit AES key for stream keys, derived from the signing key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=HKDF_INFO).derive(signing_key)


def _associated(target_id: str, url: str) -> bytes:
    return f"{target_id}\n{url}".encode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class StreamKeys:
    """Seals and opens the stream keys of simulcast destinations."""

    def __init__(self, signing_key: bytes) -> None:
        self._aead = AESGCM(derive_key(signing_key))

    def seal(self, target_id: str, url: str, key: str) -> str:
        """``key`` as stored for the destination ``target_id`` pushing to ``url``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, key.encode(), _associated(target_id, url))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, target: SimulcastTarget) -> str | None:
        """The destination's stream key, or None when it cannot be read (sealed with another
        signing key, or altered). A row from before sealing is read as it is."""
        stored = target.stream_key
        if not is_sealed(stored):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                       _associated(target.id, target.url))
            return plain.decode()
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            return None


async def seal_plaintext(store: Store, keys: StreamKeys, *,
                         clock: Callable[[], float] = time.time) -> int:
    """Seal in place the stream keys stored as given (rows of migration 0016); returns how
    many were sealed. Safe to run on several nodes at once: each update quotes the version
    it read, and a row changed meanwhile is left to whoever changed it. A store that cannot
    be reached only postpones it to the next start (such rows are read as they are)."""
    sealed = 0
    try:
        for target in await store.find(SimulcastTarget, order_by=["created_at", "id"]):
            if is_sealed(target.stream_key) or not target.stream_key:
                continue
            try:
                await store.update(SimulcastTarget, target.id, {
                    "stream_key": keys.seal(target.id, target.url, target.stream_key)},
                    expected_version=target.version, now=clock())
                sealed += 1
            except (VersionConflict, NotFound):
                continue
    except StoreError as exc:
        log.warning("simulcast: stream keys not sealed this time: %s", exc)
    if sealed:
        log.info("simulcast: sealed %d stream key(s) stored before encryption", sealed)
    return sealed
