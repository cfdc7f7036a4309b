"""Search benchmark (issue 5): index build time and query latency of the clip library's search
on a large synthetic library, next to the same queries on a bare FTS5 table (the floor).

    .venv/bin/python bench/search.py            # 100,000 clips
    .venv/bin/python bench/search.py --quick    # 10,000 clips, for development
    .venv/bin/python bench/search.py --clips 30000 --repeat 5

What it does, in a temporary directory removed at the end:

1. Generates the library: clips spread over the catalog's items with a skewed (Zipf-like)
   popularity, each with a title, the viewer's question, the item's description as summary and
   a transcript of 100-500 characters (250 on average) as captions, built from templates and
   the item's own name, keywords and description (most of an answer is about the item; a few
   sentences come from a pool of 40 generic ones); publication times over ten years,
   heavy-tailed views.
   Generation is not timed.
2. Builds the index through ``SearchIndex.rebuild`` (segmentation included): ``build_s``.
3. Builds the floor: a bare FTS5 table ``(body, facets)`` holding the same tokens, copied
   from the index (its build is not the product's and is not reported as one).
4. Runs the mixed query set — common single words, rare words, whole sentences, typos; each
   without a filter, with its item's category and with its item; some sorted by newest or
   most watched — once to warm up and then ``--repeat`` times in shuffled order, each call
   timed end to end through ``SearchIndex.search`` (analysis, typo correction, counting,
   ranking, fetching and highlighting one page of 20). The floor runs the same queries'
   words, quoted and ANDed, with the same filters as ``facets`` phrases, ``ORDER BY rank``
   (or rowid, or views) ``LIMIT 20`` and a ``count(*)``: what FTS5 alone costs for them.

Output: progress on stderr; one JSON line on stdout with the figures, the targets
(p99 ≤ 30 ms, build ≤ 60 s) and pass/miss for each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clips.search import SearchIndex
from clips.search_query import facet_token
from clips.search_schema import IndexedClip
from moderation.catalog import Catalog, CatalogItem, load_catalog
from moderation.segment import Segmenter, load_word_list

TARGET_P99_MS = 30.0
TARGET_BUILD_S = 60.0

# --------------------------------------------------------------------------------------------
# The synthetic library

TITLES = (
    "{kw}怎么办？{aspect}", "{name}：{aspect}", "{kw}，{aspect}", "市民问：{kw}需要什么材料",
    "{aspect}——{name}", "{kw}要本人去吗？", "一分钟讲清{name}", "{kw}常见的三个误区",
)
ASPECTS = (
    "一次讲清", "材料和流程", "网上就能办", "常见问题解答", "需要注意什么", "多久能办好",
    "在哪里办理", "收费标准", "办理时限", "民警来解答",
)
OPENERS = (
    "请问", "警官你好，", "主播好，", "我想问一下，", "你好，", "", "麻烦问下，", "想咨询一下，",
)
SITUATIONS = ("{kw}", "我{kw}了", "家里老人{kw}", "上个月{kw}", "朋友说{kw}", "{kw}这个事")
CLOSERS = (
    "要去哪里办？", "需要带什么材料？", "可以在网上办吗？", "多久能办好？", "要交钱吗？",
    "怎么处理？", "本人一定要去吗？", "在12123上能弄吗？", "周末能办吗？", "会不会扣分？",
)
# What the officer says about the item in particular; {clause} is a piece of its description.
SPECIFIC = (
    "{clause}。", "简单来说，{clause}。", "很多市民问{kw}，其实{clause}。",
    "{kw}的话，可以通过{channel}办理。", "关于{kw}，{clause}。", "{name}这块，{clause}。",
    "如果是{kw}，先看一下{channel}上的提示。", "再强调一遍，{clause}。",
    "{name}需要本人身份证明，材料齐全的当场就能受理。",
    "有的市民反映{kw}不知道找谁，其实流程很简单。",
)
# What an answer may say about anything: reminders, hours, channels, small talk. Each clip
# uses a few, so that no generic word is in every transcript.
GENERIC = (
    "这个问题很多人都问过。", "提醒大家，办理之前先把名下的交通违法和事故处理完毕。",
    "费用按照规定的标准收取，大家注意不要轻信代办广告。", "一般三到五个工作日可以办结。",
    "进度可以在App的业务进度里查看。", "去之前可以先在网上预约，避免排队。",
    "我们在直播间也收到不少类似的提问，这里统一回答一下。", "有疑问可以拨打服务热线咨询。",
    "老年人不会用手机的，可以请家人帮忙。", "外地户籍的市民也可以办理，提供居住证明就行。",
    "节假日期间车管所的服务时间会有调整，出门前留意公告。", "最近天气炎热，开车出门注意防暑。",
    "雨天路滑，请大家减速慢行。", "周六上午部分服务站也开放。", "材料不全的，现场会一次性告知。",
    "网上提交的申请，工作人员会在工作时间审核。", "证件邮寄一般两三天就能收到。",
    "大家出门一定要系好安全带。", "骑电动车请戴好头盔。", "开车不要看手机。",
    "酒后千万不要驾车。", "遇到拥堵请耐心排队通行，不要加塞。", "学校门口请减速让行。",
    "高峰时段尽量错峰出行。", "停车请停到规定的泊位里。", "不清楚的地方可以在评论区留言。",
    "下一期直播我们会详细讲这个话题。", "谢谢这位网友的提问。", "感谢大家一直以来的支持。",
    "这一点很多人容易搞错。", "我们来看一下具体的规定。", "给大家举个例子。",
    "这里有个小窍门。", "大家可以截图保存。", "政策有调整的话我们会第一时间通知。",
    "窗口工作人员也会现场指导。", "身份证记得带原件。", "办理时请保持手机畅通。",
    "有的服务站可以当场出结果。", "具体的网点地址可以在地图上搜索。",
)
CHANNELS = {"12123": "交管12123", "浙里办": "浙里办", "窗口": "车管所窗口"}


def generate(catalog: Catalog, count: int, seed: int = 5) -> list[IndexedClip]:
    rnd = random.Random(seed)
    items = list(catalog.items)
    rnd.shuffle(items)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(items))]
    start = 1_450_000_000.0
    span = 10 * 365 * 86400.0
    docs = []
    for number, item in enumerate(rnd.choices(items, weights, k=count)):
        docs.append(_clip(rnd, item, number, start + rnd.random() * span))
    return docs


def _clip(rnd: random.Random, item: CatalogItem, number: int, published: float) -> IndexedClip:
    clauses = [c for c in re.split("[，；。、]", item.description) if len(c) >= 4] or [item.name]

    def fill(template: str) -> str:
        return template.format(
            kw=rnd.choice(item.keywords), name=item.name, aspect=rnd.choice(ASPECTS),
            channel=CHANNELS.get(item.channel, item.channel), clause=rnd.choice(clauses),
        )

    question = (rnd.choice(OPENERS) + fill(rnd.choice(SITUATIONS)) + "，"
                + rnd.choice(CLOSERS))
    spoken = [fill(rnd.choice(SPECIFIC)) for _ in range(rnd.randint(3, 10))]
    spoken += rnd.sample(GENERIC, rnd.randint(2, 5))
    rnd.shuffle(spoken)
    answer = "".join(spoken)
    captions = f"主持人：下面这位网友问，{question}民警：{answer}主持人：好的，谢谢警官的解答。"
    return IndexedClip(
        clip_id=f"c{number:07d}", title=fill(rnd.choice(TITLES)), question=question,
        summary=item.description, captions=captions, keywords=(item.name, *item.keywords),
        category=item.category, item_id=item.id, published_at=published,
        updated_at=published + 60, views=int(rnd.paretovariate(1.1) * 20),
    )


# --------------------------------------------------------------------------------------------
# The mixed query set: (kind, query, the item it is about)

QUERIES: tuple[tuple[str, str, str], ...] = (
    ("common", "驾照", "license-renewal"),
    ("common", "年检", "vehicle-inspection"),
    ("common", "违章", "violation-handling"),
    ("common", "电动车", "ebike-registration"),
    ("common", "罚款", "fine-payment"),
    ("common", "上牌", "new-vehicle-registration"),
    ("common", "过户", "used-car-transfer"),
    ("common", "12123", "app-register"),
    ("common", "体检", "physical-cert-submit"),
    ("common", "预约", "office-appointment"),
    ("rare", "三力测试", "elderly-three-tests"),
    ("rare", "C6", "light-trailer-c6"),
    ("rare", "解押", "mortgage-release"),
    ("rare", "号段", "plate-segment-query"),
    ("rare", "以旧换新", "ebike-trade-in"),
    ("rare", "单位账号", "app-unit-account"),
    ("rare", "一键挪车", "move-car"),
    ("rare", "货车通行证", "truck-pass"),
    ("rare", "残疾人驾照", "disabled-c5"),
    ("rare", "临牌", "temporary-plate"),
    ("sentence", "驾照快到期了在哪里换", "license-renewal"),
    ("sentence", "我的驾照下个月就到期了，请问在哪里可以换新的驾照，需要体检吗", "license-renewal"),
    ("sentence", "电瓶车上牌需要带什么材料", "ebike-registration"),
    ("sentence", "车子年审要带什么东西，可以在网上预约吗", "inspection-booking"),
    ("sentence", "二手车过户要什么材料，本人一定要去吗", "used-car-transfer"),
    ("sentence", "外地的违章可以在杭州处理吗", "violation-handling"),
    ("sentence", "驾照扣了12分还能开车吗", "full-score-study"),
    ("sentence", "车被拖走了去哪里提车", "impounded-vehicle-release"),
    ("sentence", "不是我开的车被拍了怎么申诉", "violation-appeal"),
    ("sentence", "手机号换了收不到验证码登不上12123", "app-change-phone"),
    ("sentence", "小剐蹭对方同意私了要等交警来吗", "accident-quick"),
    ("sentence", "老人七十多岁了还能开车吗要考什么", "elderly-three-tests"),
    ("typo", "驾找到期", "license-renewal"),
    ("typo", "我的车年肾过期了", "vehicle-inspection"),
    ("typo", "电频车上牌", "ebike-registration"),
    ("typo", "违张怎么处理", "violation-handling"),
)
SORTED = ("驾照", "年检", "电瓶车上牌需要带什么材料", "三力测试", "违章", "过户")


def query_set(catalog: Catalog) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for kind, query, item_id in QUERIES:
        item = catalog.get(item_id)
        assert item is not None, item_id
        for filters in ({}, {"category": item.category}, {"item_id": item.id}):
            calls.append({"kind": kind, "query": query, "sort": "relevance", **filters})
    for query in SORTED:
        for sort in ("newest", "popular"):
            calls.append({"kind": "sorted", "query": query, "sort": sort})
    return calls


# --------------------------------------------------------------------------------------------
# The floor: a bare FTS5 table with the same tokens


def build_floor(index_path: Path, floor_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(floor_path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("CREATE VIRTUAL TABLE bare USING fts5(body, facets)")
    conn.execute("CREATE TABLE views (id INTEGER PRIMARY KEY, views INTEGER)")
    conn.execute("ATTACH DATABASE ? AS idx", (str(index_path),))
    conn.execute(
        "INSERT INTO bare (rowid, body, facets) SELECT rowid, title || ' ' || question || ' '"
        " || summary || ' ' || captions || ' ' || keywords, facets FROM idx.clip_text"
    )
    conn.execute("INSERT INTO views SELECT id, views FROM idx.clips")
    conn.execute("INSERT INTO bare (bare) VALUES ('optimize')")
    conn.commit()
    conn.execute("DETACH DATABASE idx")
    return conn


def floor_expression(segmenter: Segmenter, call: dict[str, Any]) -> str:
    words = [term.text for term in segmenter.analyze(call["query"]).terms] or ["的"]
    expression = " AND ".join('"' + word.replace('"', '""') + '"' for word in words)
    if call.get("category"):
        expression += f' AND facets : "{facet_token("c", call["category"])}"'
    if call.get("item_id"):
        expression += f' AND facets : "{facet_token("i", call["item_id"])}"'
    return expression


def floor_search(conn: sqlite3.Connection, expression: str, sort: str) -> None:
    conn.execute("SELECT count(*) FROM bare WHERE bare MATCH ?", (expression,)).fetchone()
    if sort == "newest":
        sql = "SELECT rowid FROM bare WHERE bare MATCH ? ORDER BY rowid DESC LIMIT 20"
    elif sort == "popular":
        sql = ("SELECT v.id FROM bare CROSS JOIN views AS v ON v.id = bare.rowid"
               " WHERE bare MATCH ? ORDER BY v.views DESC LIMIT 20")
    else:
        sql = "SELECT rowid FROM bare WHERE bare MATCH ? ORDER BY rank LIMIT 20"
    conn.execute(sql, (expression,)).fetchall()


# --------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def log(message: str) -> None:
    print(f"[search bench] {message}", file=sys.stderr, flush=True)


def timed(calls: list[dict[str, Any]], run: Any, repeat: int, seed: int) -> dict[str, list[float]]:
    for call in calls:  # warm-up, not counted
        run(call)
    samples: dict[str, list[float]] = {}
    rnd = random.Random(seed)
    for _ in range(repeat):
        order = list(calls)
        rnd.shuffle(order)
        for call in order:
            began = time.perf_counter()
            run(call)
            samples.setdefault(call["kind"], []).append((time.perf_counter() - began) * 1000)
    return samples


def summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    every = [value for values in samples.values() for value in values]
    return {
        "p50_ms": round(percentile(every, 50), 2),
        "p99_ms": round(percentile(every, 99), 2),
        "max_ms": round(max(every), 2),
        "by_kind_p50_p99_ms": {
            kind: [round(percentile(values, 50), 2), round(percentile(values, 99), 2)]
            for kind, values in sorted(samples.items())
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 clips")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the query set")
    parser.add_argument("--keep", type=Path, help="build the index here and keep it")
    args = parser.parse_args(argv)
    count = 10_000 if args.quick else args.clips

    catalog = load_catalog()
    began = time.perf_counter()
    segmenter = Segmenter.for_catalog(catalog, load_word_list())
    segmenter_s = time.perf_counter() - began
    log(f"segmenter ready in {segmenter_s:.2f} s; generating {count:,} clips")
    docs = generate(catalog, count)

    with tempfile.TemporaryDirectory(prefix="search-bench-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "search.sqlite3"
        SearchIndex._discard(path)
        index = SearchIndex(path, segmenter, catalog)
        index.open()
        log("building the index")
        began = time.perf_counter()
        built = index.rebuild(_progress(docs))
        build_s = time.perf_counter() - began
        size_mb = os.path.getsize(path) / 1e6
        log(f"built {built:,} clips in {build_s:.1f} s ({size_mb:.0f} MB); building the floor")
        floor_path = Path(scratch) / "floor.sqlite3"
        floor = build_floor(path, floor_path)

        calls = query_set(catalog)
        log(f"timing {len(calls)} calls x {args.repeat} through SearchIndex.search")
        found: dict[str, int] = {}

        def product(call: dict[str, Any]) -> None:
            result = index.search(
                call["query"], category=call.get("category"), item_id=call.get("item_id"),
                sort=call["sort"],
            )
            found[json.dumps(call, ensure_ascii=False)] = result.total

        search = summary(timed(calls, product, args.repeat, seed=1))
        log(f"search p50 {search['p50_ms']} ms, p99 {search['p99_ms']} ms; timing the floor")
        expressions = {id(call): floor_expression(segmenter, call) for call in calls}
        bare = summary(timed(
            calls, lambda call: floor_search(floor, expressions[id(call)], call["sort"]),
            args.repeat, seed=1,
        ))
        floor.close()
        index.close()

    totals = sorted(found.values())
    result = {
        "bench": "search",
        "clips": built,
        "calls": len(calls),
        "samples": len(calls) * args.repeat,
        "build_s": round(build_s, 1),
        "index_mb": round(size_mb),
        "segmenter_init_s": round(segmenter_s, 2),
        "matches_median": totals[len(totals) // 2],
        "matches_max": totals[-1],
        "search": search,
        "floor": bare,
        "targets": {
            "p99_ms": TARGET_P99_MS, "p99_pass": search["p99_ms"] <= TARGET_P99_MS,
            "build_s": TARGET_BUILD_S, "build_pass": build_s <= TARGET_BUILD_S,
        },
        "machine": {
            "nproc": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _progress(docs: list[IndexedClip]) -> Iterator[IndexedClip]:
    step = max(1, len(docs) // 10)
    for number, doc in enumerate(docs, start=1):
        yield doc
        if number % step == 0:
            log(f"  {number:,} clips indexed")


if __name__ == "__main__":
    sys.exit(main())
