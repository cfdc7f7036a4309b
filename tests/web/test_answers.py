"""GET /api/answers: the understanding engine wired into the app. The answer's shape (checked
against the OpenAPI document), ranked items with confidences, knowledge-base answers and the
item's clips; an off-topic question understood as not ours; personal data in ``q`` never
logged nor stored; bad input as 400 problem details; 503 until the engine is ready."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from clips.answers import MAX_QUESTION_CHARS
from moderation import data_files
from moderation.data_files import WORD_LIST
from moderation.knowledge import load_knowledge
from tests.support import Site, until
from tests.web.clip_seed import add_clip, reindex
from tests.web.test_admin_catalog import open_form, post_text
from tests.web.test_api import check_schema, get_json, openapi
from web import keys

PHONE = "13812345678"
ID_NUMBER = "330106199001011234"


def url(q: str) -> str:
    return "/api/answers?q=" + quote(q)


async def test_a_question_gets_ranked_items_faq_answers_and_clips(answers_site: Site) -> None:
    site = answers_site
    clip = await add_clip(site.app, "license-reissue", "驾驶证丢了怎么补领",
                          question="驾照丢了怎么办", summary="在交管12123上申请补领。")
    await add_clip(site.app, "fine-payment", "罚款怎么交", question="罚款在哪交")
    await reindex(site.app)
    body = await get_json(site, url("我的驾驶证弄丢了，要怎么补办？"))
    check_schema(await openapi(site), "Answers", body)
    assert body["understood"] is True
    items = body["items"]
    assert items[0]["id"] == "license-reissue" and items[0]["name"]
    assert 1 <= len(items) <= 5
    confidences = [item["confidence"] for item in items]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 1 for c in confidences)
    kinds = [(a["kind"], a["item"]) for a in body["answers"]]
    assert ("faq", "license-reissue") in kinds
    assert [a["id"] for a in body["answers"] if a["kind"] == "clip"] == [clip.id]
    published = {e.id for e in load_knowledge().published()}
    for answer in body["answers"]:
        if answer["kind"] == "faq":
            assert answer["id"] in published  # never a draft
            page = await site.first.get(answer["url"].split(str(site.first.server.port))[1])
            assert page.status == 200
            assert answer["text"] in await page.text()
        else:
            assert answer["url"].endswith(f"/clips/{clip.id}")


async def test_an_off_topic_question_is_not_understood_and_gets_no_answers(
        answers_site: Site) -> None:
    await add_clip(answers_site.app, "fine-payment", "罚款怎么交", question="今天罚款在哪交")
    await reindex(answers_site.app)
    for q in ("今天天气怎么样", "公积金怎么提取"):
        body = await get_json(answers_site, url(q))
        assert body["understood"] is False, q
        assert body["answers"] == [], q


async def test_personal_data_in_q_is_neither_logged_nor_stored(
        answers_site: Site, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    for q in (f"我手机{PHONE}驾驶证丢了怎么补", f"身份证{ID_NUMBER}的罚款怎么交",
              f"{PHONE} 天气"):
        body = await get_json(answers_site, url(q))
        assert PHONE not in str(body) and ID_NUMBER not in str(body)
    # Every log line of the app; not the test client's access log: the served app has none
    # (run.py starts its runner with access_log=None), so a request line is never logged.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert PHONE not in logged and ID_NUMBER not in logged
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PHONE.encode() not in data and ID_NUMBER.encode() not in data, path


@pytest.mark.parametrize("query", [
    "", "?q=", "?q=%20%20", "?q=a&q=b", "?q=%FF%FE", "?q=%E9%A9",
    "?q=" + quote("驾" * (MAX_QUESTION_CHARS + 1)),
])
async def test_bad_q_is_a_400_problem_naming_it(answers_site: Site, query: str) -> None:
    body = await get_json(answers_site, "/api/answers" + query, status=400)
    assert body["code"] == "bad_parameter" and body["parameter"] == "q"


async def test_the_openapi_document_states_the_enforced_limit(answers_site: Site) -> None:
    document = await openapi(answers_site)
    operation = document["paths"]["/api/answers"]["get"]
    (q,) = operation["parameters"]
    assert q["required"] is True and q["schema"]["maxLength"] == MAX_QUESTION_CHARS
    assert set(operation["responses"]) == {"200", "400", "503"}
    await get_json(answers_site, url("驾" * MAX_QUESTION_CHARS))


async def test_until_the_engine_is_built_answers_are_503_not_ready(site: Site) -> None:
    # ``site`` runs with [understanding] enabled = false: never built.
    response = await site.first.get(url("驾驶证丢了怎么补办"))
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    body = await response.json(content_type="application/problem+json")
    assert body["code"] == "not_ready"


async def test_an_edit_of_the_word_list_rebuilds_the_engine_from_it(answers_site: Site) -> None:
    understander = answers_site.app[keys.UNDERSTANDER]
    assert understander.inputs is not None
    first = understander.inputs
    await answers_site.add_user("boss", "admin")
    client = await answers_site.login("boss")
    _, token, version = await open_form(client, "/admin/synonyms")
    words = data_files.shipped_text(WORD_LIST).replace(
        '"驾驶证" = ["驾照",', '"驾驶证" = ["小蓝本本", "驾照",', 1)
    assert (await post_text(client, "/admin/synonyms", token, version, words)).status == 303

    def rebuilt() -> bool:
        inputs = understander.inputs
        return inputs is not None and inputs is not first and any(
            "小蓝本本" in group for group in inputs[1].equivalent)

    await until(rebuilt, "the engine rebuilt with the edited word list", timeout=60)
    assert understander.inputs is not None
    assert understander.inputs[0] == answers_site.app[keys.MODERATION].catalog


async def test_library_search_shows_no_unrelated_clips_for_a_question_not_ours(
        answers_site: Site) -> None:
    # "今天" is in this clip's question: a relaxed plain search would show it for the weather.
    await add_clip(answers_site.app, "fine-payment", "罚款怎么交", question="今天罚款在哪交")
    await reindex(answers_site.app)
    site = answers_site
    body = await get_json(site, "/api/clips?q=" + quote("今天天气怎么样"))
    check_schema(await openapi(site), "SearchPage", body)
    assert (body["hits"], body["total"], body["not_ours"]) == ([], 0, True)
    page = await site.first.get("/clips?q=" + quote("今天天气怎么样"))
    html = await page.text()
    assert page.status == 200 and 'id="not-ours"' in html and "罚款怎么交" not in html
    assert f'href="/ask?q={quote("今天天气怎么样")}"' in html
    # The engine recognised the topic: the page says whom to ask.
    page = await site.first.get("/clips?q=" + quote("公积金怎么提取"))
    assert "住房公积金中心" in await page.text()
    # A question that is ours still finds the clip.
    body = await get_json(site, "/api/clips?q=" + quote("今天罚款在哪交"))
    assert body["not_ours"] is False and body["hits"][0]["title"] == "罚款怎么交"
