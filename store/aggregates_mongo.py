"""``store.aggregates`` as MongoDB aggregation pipelines, mixed into ``MongoStore``: every
figure is grouped and ranked by the server ($match, $group, $sort, $lookup, $arrayElemAt),
using only stages SecantusDB (the test server) supports as well as MongoDB."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from store.aggregates import (
    APPROVED_STATES,
    DAY,
    DIMENSION_FIELDS,
    OPEN_STATES,
    TIME_FIELDS,
    TRIAGE_ACTIONS,
    CubeCount,
    QuestionFigures,
    StoreAggregates,
    TextCount,
    ViewerFigures,
    Window,
    check_dimension,
    day_key,
    figures_from,
)

R = TypeVar("R")
Document = dict[str, Any]

# Indexes the figures and exports rely on (created by ``MongoStore.open`` with its own).
DESK_INDEXES: dict[str, list[IndexModel]] = {
    "questions": [IndexModel([("created_at", ASCENDING), ("state", ASCENDING)])],
    "clips": [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)])],
    "broadcasts": [IndexModel([("created_at", ASCENDING), ("_id", ASCENDING)])],
    "audit_log": [IndexModel([("target", ASCENDING), ("at", ASCENDING)])],
    "search_misses": [IndexModel([("last_at", ASCENDING)])],
    "viewer_samples": [IndexModel([("session_id", ASCENDING), ("at", ASCENDING)]),
                       IndexModel([("at", ASCENDING)])],
}


def _count_if(condition: Document) -> Document:
    return {"$sum": {"$cond": [condition, 1, 0]}}


COUNTS: Document = {
    "asked": {"$sum": 1},
    "approved": _count_if({"$in": ["$state", list(APPROVED_STATES)]}),
    "answered": _count_if({"$eq": ["$state", "answered"]}),
    "replied": _count_if({"$eq": ["$state", "replied"]}),
    "declined": _count_if({"$eq": ["$state", "declined"]}),
    "merged": _count_if({"$eq": ["$state", "merged"]}),
    "open": _count_if({"$in": ["$state", list(OPEN_STATES)]}),
}


def _offset(window: Window) -> Any:
    """The UTC offset of ``created_at`` in the window's zone (nested ``$cond`` over the
    daylight-saving shifts, the latest first)."""
    offset: Any = window.utc_offset
    for since, shifted in window.shifts:
        offset = {"$cond": [{"$gte": ["$created_at", float(since)]}, shifted, offset]}
    return offset


def _key(by: str, window: Window) -> Any:
    if by == "day":
        return {"$floor": {"$divide": [{"$add": ["$created_at", _offset(window)]}, DAY]}}
    return "$" + DIMENSION_FIELDS[by]


def _rank(tenths: int) -> Document:
    """The 0-based index of the nearest-rank percentile in the sorted ``$vs``."""
    n = {"$size": "$vs"}
    rank = {"$floor": {"$divide": [{"$add": [{"$multiply": [tenths, n]}, 9]}, 10]}}
    return {"$arrayElemAt": ["$vs", {"$subtract": [{"$toInt": rank}, 1]}]}


PERCENTILE_STAGES: list[Document] = [
    {"$sort": {"v": 1}},
    {"$group": {"_id": "$k", "vs": {"$push": "$v"}}},
    {"$project": {"median": _rank(5), "p90": _rank(9)}},
]


class MongoAggregates(StoreAggregates):
    @property
    def database(self) -> AsyncDatabase[Document]:
        raise NotImplementedError  # MongoStore's

    def _errors(self, action: str, cls: type[Any] | None = None
                ) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError  # MongoStore's

    async def _aggregate(self, collection: str, pipeline: list[Document]) -> list[Document]:
        with self._errors(f"aggregate {collection}"):
            cursor = await self.database[collection].aggregate(pipeline)
            return list(await cursor.to_list())

    async def question_figures(self, by: str, window: Window, *, timings: bool = True
                               ) -> list[QuestionFigures]:
        key = _key(check_dimension(by), window)
        match = {"$match": {"created_at": {"$gte": float(window.start),
                                           "$lt": float(window.end)}}}
        rows = {doc["_id"]: doc for doc in await self._aggregate("questions", [
            match, {"$group": {"_id": key, **COUNTS}}])}
        if timings and rows:
            answer = await self._aggregate("questions", [
                match, {"$match": {"state": "answered", "answered_at": {"$gt": 0}}},
                {"$project": {"k": key, "v": {"$subtract": ["$answered_at", "$created_at"]}}},
                *PERCENTILE_STAGES])
            triage = await self._aggregate("questions", [
                match,
                {"$project": {"k": key, "created_at": 1,
                              "target": {"$concat": ["question:", "$_id"]}}},
                {"$lookup": {"from": "audit_log", "localField": "target",
                             "foreignField": "target", "as": "decisions"}},
                {"$project": {"k": 1, "first": {"$min": {"$map": {
                    "input": {"$filter": {
                        "input": "$decisions", "as": "d",
                        "cond": {"$in": ["$$d.action", list(TRIAGE_ACTIONS)]}}},
                    "as": "d", "in": "$$d.at"}}}, "created_at": 1}},
                {"$match": {"first": {"$ne": None}}},
                {"$project": {"k": 1, "v": {"$subtract": ["$first", "$created_at"]}}},
                *PERCENTILE_STAGES])
            for name, docs in (("answer", answer), ("triage", triage)):
                for doc in docs:
                    if doc["_id"] in rows:
                        rows[doc["_id"]][f"{name}_median"] = doc.get("median")
                        rows[doc["_id"]][f"{name}_p90"] = doc.get("p90")
        return [figures_from(day_key(int(k)) if by == "day" else str(k), doc)
                for k, doc in sorted(rows.items())]

    async def question_cube(self, window: Window) -> list[CubeCount]:
        docs = await self._aggregate("questions", [
            {"$match": {"created_at": {"$gte": float(window.start), "$lt": float(window.end)}}},
            {"$group": {"_id": {"d": _key("day", window), "category": "$category",
                                "item_id": "$item_id"}, **COUNTS}},
            {"$sort": {"_id.d": 1, "_id.category": 1, "_id.item_id": 1}},
        ])
        return [CubeCount(day_key(int(d["_id"]["d"])), d["_id"]["category"],
                          d["_id"]["item_id"], d["asked"], d["answered"], d["replied"],
                          d["declined"], d["merged"], d["open"]) for d in docs]

    async def text_counts(self, window: Window, limit: int) -> list[TextCount]:
        docs = await self._aggregate("questions", [
            {"$match": {"created_at": {"$gte": float(window.start), "$lt": float(window.end)},
                        "state": {"$ne": "merged"}}},
            {"$group": {"_id": {"text": "$text", "category": "$category",
                                "item_id": "$item_id"}, **COUNTS}},
            {"$sort": {"asked": -1, "_id.text": 1, "_id.category": 1, "_id.item_id": 1}},
            {"$limit": int(limit)},
        ])
        return [TextCount(d["_id"]["text"], d["_id"]["category"], d["_id"]["item_id"],
                          d["asked"], d["answered"], d["replied"], d["declined"], d["open"])
                for d in docs]

    async def clip_views_by_day(self, first_day: str, last_day: str) -> list[tuple[str, int]]:
        docs = await self._aggregate("clip_views", [
            {"$match": {"day": {"$gte": first_day, "$lte": last_day}}},
            {"$group": {"_id": "$day", "views": {"$sum": 1}}},
            {"$sort": {"_id": 1}},
        ])
        return [(str(d["_id"]), int(d["views"])) for d in docs]

    async def search_misses_in(self, window: Window, limit: int) -> list[tuple[str, int]]:
        docs = await self._aggregate("search_misses", [
            {"$match": {"last_at": {"$gte": float(window.start), "$lt": float(window.end)}}},
            {"$sort": {"count": -1, "query": 1}},
            {"$limit": int(limit)},
        ])
        return [(str(d["query"]), int(d["count"])) for d in docs]

    async def viewer_figures(self, window: Window | None = None,
                             session_ids: Sequence[str] | None = None) -> list[ViewerFigures]:
        match: Document = {}
        if window is not None:
            match["at"] = {"$gte": float(window.start), "$lt": float(window.end)}
        if session_ids is not None:
            match["session_id"] = {"$in": list(session_ids)}
        docs = await self._aggregate("viewer_samples", [
            {"$match": match},
            {"$group": {"_id": "$session_id", "peak": {"$max": "$viewers"},
                        "average": {"$avg": "$viewers"}, "samples": {"$sum": 1},
                        "first_at": {"$min": "$at"}, "last_at": {"$max": "$at"}}},
            {"$sort": {"_id": 1}},
        ])
        return [ViewerFigures(str(d["_id"]), int(d["peak"]), round(float(d["average"]), 1),
                              int(d["samples"]), float(d["first_at"]), float(d["last_at"]))
                for d in docs]

    async def page_in(self, cls: type[R], window: Window, after: tuple[float, str] | None,
                      limit: int) -> list[R]:
        from store.mongo_docs import from_doc

        name = cls.collection  # type: ignore[attr-defined]
        field = TIME_FIELDS[name]
        query: Document = {field: {"$gte": float(window.start), "$lt": float(window.end)}}
        if after is not None:
            query = {"$and": [query, {"$or": [
                {field: {"$gt": float(after[0])}},
                {field: float(after[0]), "_id": {"$gt": after[1]}}]}]}
        with self._errors(f"read from {name}"):
            cursor = self.database[name].find(query, sort=[(field, 1), ("_id", 1)],
                                              limit=int(limit))
            docs = await cursor.to_list()
        return [from_doc(cls, doc) for doc in docs]

