"""``store.aggregates`` in SQL, mixed into ``SQLiteStore``: every figure is one query on a
read connection, grouped and ranked by SQLite (window functions for the percentiles)."""

# SQL text is built only from this module's constants, ``DIMENSION_FIELDS``/``TIME_FIELDS`` and
# record declarations; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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
T = TypeVar("T")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"  # constants of this module only


COUNTS = f"""
    COUNT(*) AS asked,
    SUM(state IN {_in(APPROVED_STATES)}) AS approved,
    SUM(state = 'answered') AS answered,
    SUM(state = 'replied') AS replied,
    SUM(state = 'declined') AS declined,
    SUM(state = 'merged') AS merged,
    SUM(state IN {_in(OPEN_STATES)}) AS open"""

# Nearest-rank percentiles over (k, v) rows: rank ceil(n/2) and ceil(9n/10) in each group.
PERCENTILES = """
    SELECT k, MAX(CASE WHEN rn = (n + 1) / 2 THEN v END) AS median,
              MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END) AS p90
    FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn,
                 COUNT(*) OVER (PARTITION BY k) AS n FROM ({source}))
    GROUP BY k"""


# The rollups' day offset (migration 0013), read in the same snapshot as the rollup.
ROLLUP_OFFSET_SQL = "SELECT utc_offset FROM desk_days WHERE id = 1"


# The most asked wordings: ties in count ordered by text, category and item (as MongoDB).
TOP = "ORDER BY asked DESC, text, category, item_id LIMIT :limit"
TEXT_COLUMNS = "t.text, t.category, t.item_id, r.asked, r.answered, r.replied, r.declined, r.open"
OUTCOME_COLUMNS = "asked, answered, replied, declined, open"
SUMS = ("SUM(asked) AS asked, SUM(answered) AS answered, SUM(replied) AS replied, "
        "SUM(declined) AS declined, SUM(open) AS open")


def week_of(day: int) -> int:
    """The Monday-to-Sunday week (migration 0013's numbering) of a rollup day number."""
    return (day + 3) // 7


def _text_rollup_sql(first: int, last: int, limit: int) -> tuple[str, dict[str, Any]]:
    """The most asked wordings of the rollup days ``[first, last)`` (migration 0014): one day
    or one Monday week from the first rows of its index by count; any other range sums the
    whole weeks inside it from ``text_week`` and only the ragged days at either end (at most
    six each) from ``text_rollup``, grouped by the integer text key. The work is bounded by
    the weeks in the range plus twelve days, wherever it starts."""
    bound: dict[str, Any] = {"first": first, "last": last, "limit": limit}
    whole_first, whole_last = week_of(first + 6), week_of(last)  # weeks [whole_first, ..)
    if last - first == 1 or (last - first == 7 and whole_last - whole_first == 1):
        table, unit = ("text_rollup", "day") if last - first == 1 else ("text_week", "week")
        bound["unit"] = first if table == "text_rollup" else whole_first
        # Rows with at least the limit-th count, straight from the index, then ordered with
        # their text (a tie at the limit-th count is broken by text, as everywhere).
        nth = (f"SELECT asked FROM {table} WHERE {unit} = :unit AND asked > 0 "
               "ORDER BY asked DESC LIMIT 1 OFFSET :limit - 1")
        return (f"SELECT {TEXT_COLUMNS} FROM {table} r JOIN text_keys t ON t.id = r.k "
                f"WHERE r.{unit} = :unit AND r.asked >= COALESCE(({nth}), 1) "
                f"{TOP}"), bound
    parts = []
    if whole_last > whole_first:
        bound.update(weeks=whole_first, weeks_end=whole_last, head_end=7 * whole_first - 3,
                     tail=7 * whole_last - 3)
        parts.append(f"SELECT k, {OUTCOME_COLUMNS} FROM text_week "
                     "WHERE week >= :weeks AND week < :weeks_end")
        parts.append(f"SELECT k, {OUTCOME_COLUMNS} FROM text_rollup "
                     "WHERE day >= :first AND day < :head_end")
        parts.append(f"SELECT k, {OUTCOME_COLUMNS} FROM text_rollup "
                     "WHERE day >= :tail AND day < :last")
    else:  # no whole week inside: the days themselves
        parts.append(f"SELECT k, {OUTCOME_COLUMNS} FROM text_rollup "
                     "WHERE day >= :first AND day < :last")
    summed = (f"SELECT k, {SUMS} FROM ({' UNION ALL '.join(parts)}) "
              "GROUP BY k HAVING SUM(asked) > 0")
    return (f"SELECT {TEXT_COLUMNS} FROM ({summed}) r JOIN text_keys t ON t.id = r.k {TOP}",
            bound)


def _whole_days(window: Window, rollup_offset: int) -> bool:
    """Whether ``window`` is whole days of the rollups' fixed offset."""
    return (not window.shifts and window.utc_offset == rollup_offset
            and (window.start + rollup_offset) % DAY == 0
            and (window.end + rollup_offset) % DAY == 0)


def _offset_sql(window: Window) -> str:
    """The UTC offset of ``created_at`` in the window's zone: a bound ``:offset``, or with
    daylight saving a CASE over the window's shifts (numbers this module formats)."""
    if not window.shifts:
        return ":offset"
    cases = " ".join(f"WHEN created_at >= {float(since)!r} THEN {int(offset)}"
                     for since, offset in reversed(window.shifts))
    return f"(CASE {cases} ELSE :offset END)"


def _key_sql(by: str, window: Window) -> str:
    if by == "day":
        return f"CAST((created_at + {_offset_sql(window)}) / 86400 AS INTEGER)"
    return DIMENSION_FIELDS[by]


class SQLiteAggregates(StoreAggregates):
    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SQLiteStore's

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SQLiteStore's

    async def question_figures(self, by: str, window: Window, *, timings: bool = True
                               ) -> list[QuestionFigures]:
        key = _key_sql(check_dimension(by), window)
        params = {"start": window.start, "end": window.end, "offset": window.utc_offset}
        where = "created_at >= :start AND created_at < :end"
        counts_sql = f"SELECT {key} AS k, {COUNTS} FROM questions WHERE {where} GROUP BY k"
        triage_source = (
            f"SELECT {key} AS k, (SELECT MIN(a.at) FROM audit_log a "
            f"WHERE a.target = 'question:' || q.id AND a.action IN {_in(TRIAGE_ACTIONS)}"
            f") - q.created_at AS v FROM questions q WHERE {where}")
        answer_source = (f"SELECT {key} AS k, answered_at - created_at AS v FROM questions "
                         f"WHERE {where} AND state = 'answered' AND answered_at > 0")
        triage_sql = PERCENTILES.format(
            source=f"SELECT k, v FROM ({triage_source}) WHERE v IS NOT NULL")
        answer_sql = PERCENTILES.format(source=answer_source)

        def run(conn: sqlite3.Connection) -> list[QuestionFigures]:
            rows: dict[Any, dict[str, Any]] = {
                row["k"]: dict(row) for row in conn.execute(counts_sql, params)}
            if timings:
                for name, sql in (("triage", triage_sql), ("answer", answer_sql)):
                    for k, median, p90 in conn.execute(sql, params):
                        if k in rows:
                            rows[k][f"{name}_median"] = median
                            rows[k][f"{name}_p90"] = p90
            return [figures_from(day_key(k) if by == "day" else str(k), row)
                    for k, row in sorted(rows.items())]

        return await self._read(run)

    async def question_cube(self, window: Window) -> list[CubeCount]:
        params = {"start": window.start, "end": window.end, "offset": window.utc_offset}
        # Whole days of the rollups' offset: the trigger-kept rollup (migration 0014), one
        # row per day, category and item, read in key order.
        cells = "category, item_id, asked, answered, replied, declined, merged, open"
        order = "ORDER BY d, category, item_id"  # the rollup's key: no sort
        rollup = (f"SELECT day AS d, {cells} FROM question_rollup "
                  f"WHERE day >= :first AND day < :last AND asked > 0 {order}")
        counted = (f"SELECT d, {cells} FROM (SELECT {_key_sql('day', window)} AS d, category, "
                   f"item_id, {COUNTS} FROM questions "
                   "WHERE created_at >= :start AND created_at < :end "
                   f"GROUP BY d, category, item_id) {order}")

        def run(conn: sqlite3.Connection) -> list[CubeCount]:
            sql, bound = self._rollup_or(conn, window, rollup, counted, params)
            days: dict[int, str] = {}
            cube = []
            for d, category, item_id, asked, answered, replied, declined, merged, open_ in (
                    conn.execute(sql, bound)):
                day = days.get(d) or days.setdefault(d, day_key(d))
                cube.append(CubeCount(day, category, item_id, asked, answered, replied,
                                      declined, merged, open_))
            return cube

        return await self._read(run)

    @staticmethod
    def _rollup_or(conn: sqlite3.Connection, window: Window, rollup: str, counted: str,
                   params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The rollup query with its day numbers when ``window`` is whole days of the
        rollups' offset, else the query over the questions themselves."""
        (offset,) = conn.execute(ROLLUP_OFFSET_SQL).fetchone()
        if _whole_days(window, int(offset)):
            return rollup, {**params, "first": int((window.start + offset) // DAY),
                            "last": int((window.end + offset) // DAY)}
        return counted, params

    async def text_counts(self, window: Window, limit: int) -> list[TextCount]:
        params = {"start": window.start, "end": window.end, "offset": window.utc_offset,
                  "limit": int(limit)}
        counted = (f"SELECT text, category, item_id, {COUNTS} FROM questions "
                   "WHERE created_at >= :start AND created_at < :end AND state != 'merged' "
                   f"GROUP BY text, category, item_id {TOP}")

        def run(conn: sqlite3.Connection) -> list[TextCount]:
            sql, bound = self._rollup_or(conn, window, "", counted, params)
            if sql != counted:
                sql, bound = _text_rollup_sql(bound["first"], bound["last"], int(limit))
            return [TextCount(row["text"], row["category"], row["item_id"], row["asked"],
                              row["answered"], row["replied"], row["declined"], row["open"])
                    for row in conn.execute(sql, bound)]

        return await self._read(run)

    async def viewer_figures(self, window: Window | None = None,
                             session_ids: Sequence[str] | None = None) -> list[ViewerFigures]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if window is not None:
            where.append("at >= ? AND at < ?")
            params += [window.start, window.end]
        if session_ids is not None:
            if not session_ids:
                return []
            where.append(f"session_id IN ({', '.join('?' * len(session_ids))})")
            params += list(session_ids)
        sql = ("SELECT session_id, MAX(viewers), AVG(viewers), COUNT(*), MIN(at), MAX(at) "
               f"FROM viewer_samples WHERE {' AND '.join(where)} "
               "GROUP BY session_id ORDER BY session_id")
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [ViewerFigures(str(s), int(p), round(float(a), 1), int(n), float(f), float(la))
                for s, p, a, n, f, la in rows]

    async def use_rollup_offset(self, utc_offset: int) -> bool:
        """Count the rollups' days at ``utc_offset`` seconds east of UTC from now on; when
        that changes, both rollups are recounted in one write. True if they were."""
        recount = f"""
            DELETE FROM question_rollup;
            DELETE FROM text_rollup;
            DELETE FROM text_week;
            INSERT INTO question_rollup (day, category, item_id, asked, answered, replied,
                                         declined, merged, open)
            SELECT CAST((created_at + {int(utc_offset)}) / 86400 AS INTEGER), category,
                   item_id, COUNT(*), SUM(state = 'answered'), SUM(state = 'replied'),
                   SUM(state = 'declined'), SUM(state = 'merged'),
                   SUM(state IN {_in(OPEN_STATES)})
            FROM questions GROUP BY 1, 2, 3;
            INSERT INTO text_keys (category, item_id, text)
            SELECT DISTINCT category, item_id, text FROM questions WHERE state != 'merged'
            ON CONFLICT (category, item_id, text) DO NOTHING;
            INSERT INTO text_rollup (day, k, asked, answered, replied, declined, open)
            SELECT CAST((q.created_at + {int(utc_offset)}) / 86400 AS INTEGER), t.id,
                   COUNT(*), SUM(q.state = 'answered'), SUM(q.state = 'replied'),
                   SUM(q.state = 'declined'), SUM(q.state IN {_in(OPEN_STATES)})
            FROM questions q JOIN text_keys t ON t.category = q.category
                 AND t.item_id = q.item_id AND t.text = q.text
            WHERE q.state != 'merged' GROUP BY 1, 2;
            INSERT INTO text_week (week, k, asked, answered, replied, declined, open)
            SELECT (day + 3) / 7, k, SUM(asked), SUM(answered), SUM(replied), SUM(declined),
                   SUM(open)
            FROM text_rollup GROUP BY 1, 2;"""

        def run(conn: sqlite3.Connection) -> bool:
            (current,) = conn.execute(ROLLUP_OFFSET_SQL).fetchone()
            if int(current) == int(utc_offset):
                return False
            conn.execute("UPDATE desk_days SET utc_offset = ? WHERE id = 1", (int(utc_offset),))
            for statement in recount.split(";"):
                if statement.strip():
                    conn.execute(statement)
            return True

        return await self._write(run)

    async def clip_views_by_day(self, first_day: str, last_day: str) -> list[tuple[str, int]]:
        sql = ("SELECT day, COUNT(*) FROM clip_views WHERE day >= ? AND day <= ? "
               "GROUP BY day ORDER BY day")
        return await self._read(lambda c: [(str(d), int(n)) for d, n in
                                           c.execute(sql, (first_day, last_day))])

    async def search_misses_in(self, window: Window, limit: int) -> list[tuple[str, int]]:
        sql = ("SELECT query, count FROM search_misses WHERE last_at >= ? AND last_at < ? "
               "ORDER BY count DESC, query LIMIT ?")
        return await self._read(lambda c: [(str(q), int(n)) for q, n in c.execute(
            sql, (window.start, window.end, int(limit)))])

    async def page_in(self, cls: type[R], window: Window, after: tuple[float, str] | None,
                      limit: int) -> list[R]:
        from store.sqlite_records import from_row

        table = cls.collection  # type: ignore[attr-defined]
        field = TIME_FIELDS[table]
        sql = f"SELECT * FROM {table} WHERE {field} >= ? AND {field} < ?"
        params: list[Any] = [window.start, window.end]
        if after is not None:
            sql += f" AND ({field}, id) > (?, ?)"
            params += [after[0], after[1]]
        sql += f" ORDER BY {field}, id LIMIT ?"
        params.append(int(limit))
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [from_row(cls, row) for row in rows]
