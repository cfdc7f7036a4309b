"""The desk over HTTP, on both store backends: the statistics and review endpoints (staff
only, answers matching the OpenAPI schemas and the store), the review and statistics pages,
Chart.js served from node_modules, and the exports — CSV and XLSX rows equal to the store,
bad input a 400 problem naming the parameter."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openpyxl import load_workbook

from store.desk_records import Notice
from store.records import AuditEntry, Question
from tests.store.test_aggregates import DAY0, fixture
from tests.support import Site, both_backends, csrf_of
from web import keys
from web.desk_export import KINDS

RANGE = "from=2026-05-04&to=2026-05-05"


async def staff(site: Site) -> TestClient[Any, Any]:
    await site.add_user("mod", "moderator")
    return await site.login("mod")


async def answer(client: TestClient[Any, Any], url: str, status: int = 200) -> Any:
    response = await client.get(url)
    assert response.status == status, await response.text()
    if status == 200 and url.startswith(("/api/stats/", "/api/review")):
        assert response.headers["Cache-Control"] == "no-store"
    kind = "application/json" if status < 400 else "application/problem+json"
    assert response.content_type == kind
    return await response.json(content_type=kind)


async def check_schema(client: TestClient[Any, Any], name: str, instance: Any) -> None:
    document = await answer(client, "/api/openapi.json")
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER
                         ).validate(instance)


@both_backends
async def test_question_stats_come_from_the_store(site: Site) -> None:
    await fixture(site.app[keys.STORE])
    client = await staff(site)
    body = await answer(client, f"/api/stats/questions?by=session&{RANGE}")
    await check_schema(client, "QuestionStats", body)
    s1 = body["groups"][0]
    assert (s1["key"], s1["asked"], s1["answered"], s1["declined"]) == ("s1", 6, 3, 1)
    assert s1["answer_seconds"] == {"median": 600, "p90": 1200}
    assert s1["triage_seconds"] == {"median": 90, "p90": 180}
    days = await answer(client, f"/api/stats/questions?{RANGE}")
    assert [(g["key"], g["asked"]) for g in days["groups"]] == [
        ("2026-05-04", 10), ("2026-05-05", 2)]


@both_backends
async def test_review_groups_compares_and_clusters(site: Site) -> None:
    store = site.app[keys.STORE]
    await fixture(store)
    # The previous day had two questions in the same category.
    for n in (80, 81):
        await store.insert(Question(id=f"p{n}", session_id="s0", viewer_id=f"v{n}",
                                    client_id=f"c{n}", text="驾照到期了怎么换", category="驾驶证",
                                    created_at=DAY0 - 3600, updated_at=DAY0))
    client = await staff(site)
    body = await answer(client, "/api/review?period=day&date=2026-05-04")
    await check_schema(client, "Review", body)
    assert body["period"] == {"from": "2026-05-04", "to": "2026-05-04", "days": 1}
    totals = body["totals"]
    assert (totals["asked"], totals["answered"], totals["replied"], totals["declined"],
            totals["open"], totals["previous"], totals["change"]) == (10, 4, 1, 1, 3, 3, 7)
    assert body["categories"][0]["name"] == "驾驶证"
    assert body["categories"][0]["previous"] == 3  # the two above and q99
    # One wording in two items: two clusters, most asked first.
    assert [(c["item_id"], c["asked"]) for c in body["clusters"]] == [
        ("driving", 5), ("plates", 4)]
    week = await answer(client, "/api/review?period=week&date=2026-05-06")
    assert (week["period"]["from"], week["period"]["to"]) == ("2026-05-04", "2026-05-10")
    assert [d["asked"] for d in week["days"]] == [10, 2, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(("url", "parameter"), [
    ("/api/stats/questions?from=2026-05-05&to=2026-05-04", "to"),
    ("/api/stats/questions?from=2016-01-01&to=2026-01-01", "to"),
    ("/api/stats/questions?from=May-4", "from"),
    ("/api/stats/questions?by=viewer", "by"),
    ("/api/stats/questions?by=day&by=item", "by"),
    ("/api/stats/search-misses?limit=0", "limit"),
    ("/api/review?period=month", "period"),
    ("/api/review?period=range&date=2026-05-04", "to"),
    ("/api/review?period=range&date=2026-05-04&to=2026-05-01", "to"),
    ("/api/export/questions.csv?from=2026-05-05&to=2026-05-04", "to"),
    ("/api/export/questions.xlsx?from=2016-01-01&to=2026-01-01", "to"),
    ("/api/export/questions.csv?item=no-such-item", "item"),
    ("/api/export/audit.csv?item=vehicle-inspection", "item"),
    ("/api/export/viewers.csv", "kind"),
    ("/api/export/questions.pdf", "format"),
])
async def test_bad_input_is_a_400_problem_naming_the_parameter(site: Site, url: str,
                                                               parameter: str) -> None:
    client = await staff(site)
    problem = await answer(client, url, 400)
    assert (problem["code"], problem["parameter"]) == ("bad_parameter", parameter)
    assert problem["detail"]


@pytest.mark.parametrize("url", ["/api/stats/questions", "/api/review",
                                 "/api/export/questions.csv", "/api/stats/clip-views"])
async def test_figures_and_exports_are_for_staff_only(site: Site, url: str) -> None:
    await answer(site.first, url, 401)


async def test_clip_views_and_misses_by_day(site: Site) -> None:
    from store.records import ClipView, SearchMiss

    store = site.app[keys.STORE]
    for n, day in enumerate(["20260504", "20260504", "20260505"]):
        await store.insert(ClipView(id=f"v{n}", clip_id=f"c{n}", viewer_id="x", day=day))
    await store.insert(SearchMiss(id="m", query="外地车", count=4, last_at=DAY0 + 60))
    client = await staff(site)
    views = await answer(client, f"/api/stats/clip-views?{RANGE}")
    await check_schema(client, "ClipViewStats", views)
    assert views["days"] == [{"day": "2026-05-04", "views": 2}, {"day": "2026-05-05", "views": 1}]
    misses = await answer(client, f"/api/stats/search-misses?{RANGE}")
    assert misses["misses"] == [{"query": "外地车", "count": 4}]


async def exported(client: TestClient[Any, Any], url: str) -> list[list[str]]:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = await response.read()
    if url.split("?")[0].endswith(".csv"):
        assert body.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


@both_backends
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_question_export_rows_match_the_store(site: Site, fmt: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("web.desk_export.PAGE", 3)  # several pages even for a few rows
    store = site.app[keys.STORE]
    await fixture(store)
    await store.insert(Question(id="evil", session_id="s1", viewer_id="secret-viewer",
                                client_id="c", text="=HYPERLINK(\"x\")", nickname="张三",
                                item_id="vehicle-inspection", created_at=DAY0 + 1,
                                updated_at=DAY0))
    client = await staff(site)
    rows = await exported(client, f"/api/export/questions.{fmt}?{RANGE}")
    assert rows[0] == list(KINDS["questions"][1])
    expected = sorted((q for q in await store.find(Question)
                       if DAY0 <= q.created_at < DAY0 + 2 * 86400),
                      key=lambda q: (q.created_at, q.id))
    assert [r[0] for r in rows[1:]] == [q.id for q in expected]
    assert len(rows) == 14
    evil = rows[1]
    assert evil[7] == "'=HYPERLINK(\"x\")"  # never a formula in a spreadsheet
    item = site.app[keys.LIBRARY].catalog.get("vehicle-inspection")
    assert item is not None and evil[6] == item.name
    flat = "".join("".join(r) for r in rows)
    assert "secret-viewer" not in flat and "张三" not in flat
    only = await exported(client, f"/api/export/questions.{fmt}?{RANGE}&item=vehicle-inspection")
    assert [r[0] for r in only[1:]] == ["evil"]


@both_backends
async def test_audit_sessions_and_clips_export(site: Site) -> None:
    store = site.app[keys.STORE]
    await fixture(store)
    client = await staff(site)
    rows = await exported(client, f"/api/export/audit.csv?{RANGE}")
    audit = [a for a in await store.find(AuditEntry, order_by=("at",))
             if DAY0 <= a.at < DAY0 + 2 * 86400]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [(a.actor, a.action, a.target)
                                                      for a in audit]
    for kind in ("sessions", "clips"):
        rows = await exported(client, f"/api/export/{kind}.xlsx?{RANGE}")
        assert rows == [list(KINDS[kind][1])]


async def test_review_and_stats_pages_render_for_staff(site: Site) -> None:
    await fixture(site.app[keys.STORE])
    client = await staff(site)
    response = await client.get("/staff/review?period=week&date=2026-05-04")
    html = await response.text()
    assert response.status == 200, html
    assert 'data-chart="review-days"' in html and "驾照到期怎么换" in html
    response = await client.get(f"/staff/stats?by=host&{RANGE}")
    html = await response.text()
    assert response.status == 200, html
    assert 'data-chart="stats-questions"' in html and "<td>h1</td>" in html
    bad = await client.get("/staff/review?period=range&date=2026-05-04&to=2026-05-01")
    assert bad.status == 400
    anonymous = await site.first.get("/staff/review", allow_redirects=False)
    assert anonymous.status in (302, 303)


async def test_chart_js_comes_from_node_modules(site: Site) -> None:
    response = await site.first.get("/vendor/chart.js")
    assert response.status == 200
    assert response.content_type == "application/javascript"
    assert b"Chart" in await response.read()


@both_backends
async def test_a_cluster_becomes_a_notice_on_the_library_front_page(site: Site) -> None:
    store = site.app[keys.STORE]
    await fixture(store)
    client = await staff(site)
    page = await client.get("/staff/review?period=day&date=2026-05-04")
    html = await page.text()
    form = {"_csrf": csrf_of(html), "back": "/staff/review?period=day&date=2026-05-04",
            "title": "驾照到期换证：带身份证到任一车管所", "body": "也可在交管12123办理。",
            "category": "驾驶证", "item_id": "driving", "source_text": "驾照到期怎么换",
            "asked": "5", "period": "2026-05-04..2026-05-04"}
    made = await client.post("/staff/review/notices", data=form, allow_redirects=False)
    assert made.status == 303
    assert made.headers["Location"] == ("/staff/review?period=day&date=2026-05-04"
                                        "&made=notice#notices")
    front = await (await site.first.get("/clips")).text()
    assert "车管资讯" in front and "驾照到期换证：带身份证到任一车管所" in front
    searched = await (await site.first.get("/clips?q=驾照")).text()
    assert "驾照到期换证：带身份证到任一车管所" not in searched  # the front page only
    (notice,) = await store.find(Notice)
    assert (notice.asked, notice.created_by, notice.published) == (5, "mod", True)
    actions = [a.action for a in await store.find(AuditEntry, {"target": f"notice:{notice.id}"},
                                                  order_by=("at",))]
    assert actions == ["notice.create"]
    review_html = await (await client.get("/staff/review?made=notice")).text()
    assert "已发布到小贴士视频首页" in review_html
    gone = await client.post(f"/staff/notices/{notice.id}/withdraw",
                             data={"_csrf": csrf_of(review_html)}, allow_redirects=False)
    assert gone.status == 303
    assert "驾照到期换证" not in await (await site.first.get("/clips")).text()
    empty = await client.post("/staff/review/notices",
                              data={**form, "title": "  ", "_csrf": csrf_of(review_html)})
    assert empty.status == 400
    assert "标题不能为空" in await empty.text()
