"""JSON as the process writes it on hot paths: compact, UTF-8, non-ASCII kept as it is.

The encoding is orjson's, which writes exactly what ``json.dumps(value, ensure_ascii=False,
separators=(",", ":"))`` writes for the values Tip Pocket stores and sends (strings, integers,
booleans, None, lists and string-keyed mappings; a float's exponent may lose its leading zero,
``1e-7`` for ``1e-07``: the same number), several times faster: every question is
encoded for its record, its events in the outbox, and each event again as a frame. What
orjson refuses — a lone surrogate, a non-string key, an integer beyond 64 bits — goes
through the standard library as before, so nothing that encoded before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def _standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_text(value: Any) -> str:
    """``value`` as JSON text."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return _standard(value)


def dumps_utf8(value: Any) -> bytes:
    """``value`` as UTF-8 JSON bytes; a lone surrogate (which UTF-8 cannot carry) becomes
    "?"."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return _standard(value).encode("utf-8", "replace")
