"""Search in PostgreSQL 15 or in each node's FTS5 file (issue 13: "measure and choose"): the
same tokens, the same queries, query latency on both.

    .venv/bin/python bench/search_pg.py --pg "-h /tmp/pg -p 55439 -U postgres" --clips 10000

PostgreSQL has no Chinese parser of its own (zhparser and pg_jieba are not Debian packages),
so the comparison is made on what the product would have to do with it: segment in the app
(rjieba, the word list) and store the tokens. The synthetic library of ``bench/search.py`` is
built into the product's index; its token columns are copied into a bare FTS5 table (the
floor of ``bench/search.py``) and into a PostgreSQL table (``array_to_tsvector`` of the
tokens, a GIN index). Each query of ``bench/search.py``'s set (words ANDed, optional facet)
runs a ``count`` and a top-20 by rank on both: FTS5 in this process, PostgreSQL through
``psql`` over its Unix socket (the round trip a node would pay, without a driver's own cost).

Output: one JSON line, p50/p99 in ms for each.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search import build_floor, floor_expression, generate, percentile, query_set  # noqa: E402

from clips.search import SearchIndex  # noqa: E402
from moderation.catalog import load_catalog  # noqa: E402
from moderation.segment import Segmenter, load_word_list  # noqa: E402


def pg_query(expression: str) -> str:
    words = re.findall(r'"((?:[^"]|"")*)"', expression)
    lexemes = " & ".join("'" + w.replace('""', '"').replace("'", "''").replace("\\", "\\\\")
                         + "'" for w in words)
    q = "$q$" + lexemes + "$q$::tsquery"
    return (f"SELECT count(*) FROM bare WHERE tsv @@ {q};\n"
            f"SELECT id FROM bare WHERE tsv @@ {q} ORDER BY ts_rank(tsv, {q}) DESC LIMIT 20;\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", required=True, help="psql connection options")
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    psql = ["psql", *shlex.split(args.pg), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    catalog = load_catalog()
    segmenter = Segmenter.for_catalog(catalog, load_word_list())
    with tempfile.TemporaryDirectory() as tmp:
        index = SearchIndex(Path(tmp) / "index.sqlite3", segmenter, catalog)
        index.open()
        index.rebuild(generate(catalog, args.clips))
        index.close()
        floor = build_floor(Path(tmp) / "index.sqlite3", Path(tmp) / "floor.sqlite3")
        rows = floor.execute("SELECT rowid, body || ' ' || facets FROM bare").fetchall()
        data = Path(tmp) / "bare.tsv"
        escaped = ((i, text.replace("\t", " ").replace("\\", "\\\\")) for i, text in rows)
        data.write_text("".join(f"{i}\t{text}\n" for i, text in escaped))
        subprocess.run([*psql, "-c", "DROP TABLE IF EXISTS bare_src, bare; "
                        "CREATE TABLE bare_src (id bigint, body text);"], check=True)
        subprocess.run([*psql, "-c", f"\\copy bare_src FROM '{data}'"], check=True)
        subprocess.run([*psql, "-c",
                        "CREATE TABLE bare AS SELECT id, array_to_tsvector(array_remove("
                        "string_to_array(body, ' '), '')) AS tsv FROM bare_src; "
                        "CREATE INDEX bare_tsv ON bare USING gin (tsv); ANALYZE bare;"],
                       check=True)
        calls = [c for c in query_set(catalog) if c["sort"] == "relevance"]
        expressions = [floor_expression(segmenter, c) for c in calls]
        fts: list[float] = []
        for _ in range(args.repeat):
            for expression in expressions:
                started = time.perf_counter()
                floor.execute("SELECT count(*) FROM bare WHERE bare MATCH ?",
                              (expression,)).fetchone()
                floor.execute("SELECT rowid FROM bare WHERE bare MATCH ? ORDER BY rank "
                              "LIMIT 20", (expression,)).fetchall()
                fts.append((time.perf_counter() - started) * 1000)
        script = Path(tmp) / "queries.sql"
        script.write_text("\\timing on\n" + "".join(
            pg_query(e) for _ in range(args.repeat) for e in expressions))
        out = subprocess.run([*psql, "-o", "/dev/null", "-f", str(script)], check=True,
                             capture_output=True, text=True).stdout
        times = [float(t) for t in re.findall(r"Time: ([0-9.]+) ms", out)]
        pg = [a + b for a, b in zip(times[::2], times[1::2], strict=True)]
    print(json.dumps({
        "bench": "search_pg", "clips": args.clips, "queries": len(expressions) * args.repeat,
        "fts5_p50_ms": round(percentile(fts, 50), 2),
        "fts5_p99_ms": round(percentile(fts, 99), 2),
        "pg15_p50_ms": round(percentile(pg, 50), 2),
        "pg15_p99_ms": round(percentile(pg, 99), 2),
    }))


if __name__ == "__main__":
    main()
