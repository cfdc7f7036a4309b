"""MongoDB mapping: records to documents and back, filters, sort keys, the indexes, and the
write concern.

Records become documents generically, from the declarations in ``store.records``: ``_id`` is
the record's ``id``, every other field is stored as is (lists and dicts natively, no JSON
encoding), and documents become records again on the way out. A field added to a record type
with a default needs no migration here: documents written before it simply take the default.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import OperationFailure
from pymongo.write_concern import WriteConcern

from store.base import StoreUnavailable, parse_order, parse_where
from store.records import field_names, to_dict

R = TypeVar("R")
Document = dict[str, Any]

DUPLICATE_KEY = 11000
_MONGO_OPS = {
    "eq": "$eq", "in": "$in", "ne": "$ne", "lt": "$lt", "lte": "$lte", "gt": "$gt",
    "gte": "$gte",
}

# Every index the app's queries rely on, per collection. The unique ones back ``Conflict``
# exactly where SQLite has a UNIQUE constraint (store/migrations).
INDEXES: dict[str, list[IndexModel]] = {
    "staff_users": [IndexModel([("name", ASCENDING)], unique=True)],
    "questions": [
        IndexModel([("session_id", ASCENDING), ("viewer_id", ASCENDING),
                    ("client_id", ASCENDING)], unique=True),
        IndexModel([("session_id", ASCENDING), ("state", ASCENDING), ("created_at", ASCENDING)]),
    ],
    "login_sessions": [
        IndexModel([("user_id", ASCENDING)]),
        IndexModel([("expires_at", ASCENDING)]),
    ],
    "audit_log": [
        IndexModel([("at", ASCENDING)]),
        IndexModel([("actor", ASCENDING), ("at", ASCENDING)]),
        IndexModel([("action", ASCENDING), ("at", ASCENDING)]),
    ],
    "broadcasts": [IndexModel([("status", ASCENDING), ("scheduled_start", ASCENDING)])],
    "clips": [
        IndexModel([("session_id", ASCENDING)]),
        IndexModel([("question_id", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("published_at", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("views", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("item_id", ASCENDING), ("published_at", ASCENDING)]),
    ],
    "clip_views": [IndexModel([("day", ASCENDING)])],
    "search_misses": [IndexModel([("count", ASCENDING)])],
    "jobs": [IndexModel([("state", ASCENDING), ("run_after", ASCENDING)])],
    "term_rules": [IndexModel([("term", ASCENDING)], unique=True)],
    "captions": [IndexModel([("session_id", ASCENDING), ("at", ASCENDING)])],
    "simulcast_targets": [IndexModel([("session_id", ASCENDING)])],
}

# Indexes earlier versions created that must go: the retry key was (viewer, client id), which
# answered a retry in one session with another session's question.
RETIRED_INDEXES: dict[str, list[str]] = {"questions": ["viewer_id_1_client_id_1"]}


_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {}


def _field_types(cls: type[Any]) -> dict[str, Any]:
    """Each field's resolved annotation (records use postponed annotations)."""
    types = _FIELD_TYPES.get(cls)
    if types is None:
        hints = typing.get_type_hints(cls)
        types = _FIELD_TYPES[cls] = {name: hints[name] for name in field_names(cls)}
    return types


def encode(cls: type[Any], name: str, value: Any) -> Any:
    """A field value as stored: ints in float fields become doubles (as SQLite's REAL
    affinity does), so every document holds one BSON type per field; ints compared with a
    bool field (``{"pinned": 1}``) become bools, which SQLite's 0/1 would have matched."""
    kind = _field_types(cls).get(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is bool and isinstance(value, int):
        return bool(value)
    return value


def to_doc(record: Any) -> Document:
    cls = type(record)
    doc: Document = {}
    for name, value in to_dict(record).items():
        doc["_id" if name == "id" else name] = encode(cls, name, value)
    return doc


def from_doc(cls: type[R], doc: Document) -> R:
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for name in types:
        key = "_id" if name == "id" else name
        if key in doc:
            values[name] = encode(cls, name, doc[key])
    try:
        return cls(**values)
    except TypeError as exc:  # a document written by hand, or by a future schema
        raise StoreUnavailable(
            f"MongoDB document {doc.get('_id')!r} in {cls.collection} "  # type: ignore[attr-defined]
            f"is not a valid {cls.__name__}: {exc}"
        ) from exc


def key_of(name: str) -> str:
    return "_id" if name == "id" else name


def filter_of(cls: type[Any], where: dict[str, Any] | None) -> Document:
    """A MongoDB filter from a validated ``where``: only known fields, only scalar values,
    only the operators in ``_MONGO_OPS`` — nothing from outside reaches the query as an
    operator."""
    conditions: Document = {}
    for name, op, value in parse_where(cls, where):
        if op == "in":
            value = [encode(cls, name, item) for item in value]
        else:
            value = encode(cls, name, value)
        conditions.setdefault(key_of(name), {})[_MONGO_OPS[op]] = value
    return conditions


def sort_of(cls: type[Any], order_by: Sequence[str]) -> list[tuple[str, int]]:
    sort = [(key_of(name), DESCENDING if desc else ASCENDING)
            for name, desc in parse_order(cls, order_by)]
    if "_id" not in {key for key, _ in sort}:
        sort.append(("_id", ASCENDING))  # a tie-breaker, so equal keys page deterministically
    return sort


def check_id(value: Any) -> str:
    # SQLite binds ids as parameters; here a dict id ({"$ne": ""}) would be a query operator.
    if not isinstance(value, str):
        raise ValueError(f"record ids are strings, not {type(value).__name__}")
    return value


def parse_write_concern(write_concern: str, journal: bool) -> WriteConcern:
    """``"majority"`` or a member count (``"1"``) and the journal flag as a WriteConcern.

    ``w=0`` is not offered: an unacknowledged write could not report a duplicate key or
    promise that an acknowledged question is stored, which the store contract requires."""
    w: int | str = int(write_concern) if write_concern.isdigit() else write_concern
    if w == 0:
        raise ValueError("write concern w=0 cannot keep the store's durability promise")
    return WriteConcern(w=w, j=journal)


def short(exc: BaseException) -> str:
    """The driver's message without the topology dump PyMongo appends to timeouts."""
    text = str(exc)
    if isinstance(exc, OperationFailure) and isinstance(exc.details, dict):
        text = str(exc.details.get("errmsg") or text)
    text = text.split(", Timeout:")[0].split("Topology Description:")[0]
    return text.strip().rstrip(",") or type(exc).__name__
