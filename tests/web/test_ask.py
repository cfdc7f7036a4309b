"""/ask (事事有回音): the page answers from the knowledge base and the clips with the 一键办理
button, says when a question is not ours, and lets the citizen leave the question for the
next broadcast. Left questions go through the live intake into that broadcast's moderation
queue (with the understanding engine's top three items on them), the citizen's own page
follows the moderators' decisions, and the approval teaches the engine."""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from live.sessions import SessionForm
from store.records import LiveSession, Question
from tests.support import Site, csrf_of, staff_csrf
from web import keys

Client = TestClient[web.Request, web.Application]
QUESTION = "我的驾驶证弄丢了，要怎么补办？"
PHONE = "13812345678"


def no_inline_script(html: str) -> None:
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
    assert " on" not in "".join(re.findall(r"<[a-z]+ [^>]*\bon[a-z]+=", html))


async def scheduled(site: Site) -> LiveSession:
    return await site.app[keys.SESSIONS].create(
        SessionForm("交警视频帮 周五场", scheduled_start=time.time() + 86400), actor="test")


async def leave(client: Client, q: str) -> Any:
    page = await client.get("/ask", params={"q": q})
    assert page.status == 200
    form = {"_csrf": csrf_of(await page.text()), "q": q, "client_id": "c-" + str(time.time())}
    return await client.post("/ask", data=form, allow_redirects=False)


async def test_the_page_answers_with_the_service_button(answers_site: Site) -> None:
    client = answers_site.first
    page = await client.get("/ask")
    assert page.status == 200
    html = await page.text()
    assert 'action="/ask"' in html and 'href="/ask"' in html  # the form; the site's nav
    no_inline_script(html)
    page = await client.get("/ask", params={"q": QUESTION})
    html = await page.text()
    no_inline_script(html)
    assert 'class="answer answer-faq"' in html and "一键办理" in html
    faq = re.findall(r'href="(/ask/faq/[^"]+)"', html)
    assert faq, html
    entry = await client.get(faq[0])
    assert entry.status == 200 and "一键办理" in await entry.text()
    assert 'id="ask-leave"' in html  # always offered
    off = await (await client.get("/ask", params={"q": "今天天气怎么样"})).text()
    assert 'id="ask-not-understood"' in off and 'class="answer ' not in off


async def test_a_left_question_reaches_the_queue_and_its_page_follows_it(
        answers_site: Site) -> None:
    site = answers_site
    session = await scheduled(site)
    citizen = await site.new_client()
    response = await leave(citizen, f"{QUESTION}电话{PHONE}")
    assert response.status == 303
    follow = response.headers["Location"]
    assert follow.startswith("/ask/q/")

    moderation = site.app[keys.MODERATION]
    await moderation.hints_settled()  # the engine's reading follows the ack
    board = await moderation.board(session.id)
    (question,) = board.questions.values()
    assert question.state == "pending" and PHONE not in question.text
    flags = question.flags
    assert flags["suggested_items"][0]["id"] == "license-reissue"
    assert len(flags["suggested_items"]) == 3
    assert all(0 <= s["confidence"] <= 1 for s in flags["suggested_items"])
    assert flags["suggested_item"] == "license-reissue"

    page = await (await citizen.get(follow)).text()
    assert "等待审核" in page and PHONE not in page
    assert 'http-equiv="refresh"' in page
    # Someone else with the URL sees it too (it is the citizen's to share); a forged one is 404.
    assert (await (await site.new_client()).get(follow)).status == 200
    assert (await citizen.get(follow[:-2] + "xx")).status == 404
    assert (await citizen.get(f"/ask/q/{question.id}")).status == 404

    await site.add_user("mod", "moderator")
    mod = await site.login("mod")
    token = await staff_csrf(mod)

    async def act(name: str, **fields: Any) -> dict[str, Any]:
        current = site.app[keys.MODERATION].boards[session.id].questions[question.id]
        response = await mod.post(f"/api/sessions/{session.id}/actions/{name}",
                                  json={"question_id": question.id, "version": current.version,
                                        **fields},
                                  headers={"X-CSRF-Token": token})
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    await act("approve", category="驾驶证", item_id="license-reissue")
    assert (question.text, "license-reissue") in site.app[keys.UNDERSTANDER].learned
    page = await (await citizen.get(follow)).text()
    assert "已进入队列" in page and "一键办理" in page
    await act("reply", text="请在交管12123申请补领，邮寄到家。")
    page = await (await citizen.get(follow)).text()
    assert "已文字回复" in page and "邮寄到家" in page
    assert 'http-equiv="refresh"' not in page
    stored = await site.app[keys.STORE].get(Question, question.id)
    assert stored.state == "replied"


async def test_leaving_questions_is_rate_limited_like_live_questions(
        answers_site: Site) -> None:
    site = answers_site
    await scheduled(site)
    citizen = await site.new_client()
    limit = site.app[keys.SETTINGS].live.viewer_questions_per_minute
    for n in range(limit):
        assert (await leave(citizen, f"罚款怎么交第{n}次问")).status == 303
    refused = await leave(citizen, "罚款怎么交再问一次")
    assert refused.status == 200
    assert 'id="ask-error"' in await refused.text()


async def test_without_a_broadcast_the_page_says_so(answers_site: Site) -> None:
    page = await answers_site.first.get("/ask", params={"q": QUESTION})
    html = await page.text()
    assert "目前没有安排直播" in html and 'id="ask-leave-button"' not in html


async def test_leaving_needs_the_csrf_token(answers_site: Site) -> None:
    await scheduled(answers_site)
    citizen = await answers_site.new_client()
    await citizen.get("/ask")
    response = await citizen.post("/ask", data={"q": QUESTION}, allow_redirects=False)
    assert response.status == 403


async def test_an_off_topic_question_left_carries_no_suggested_item(answers_site: Site) -> None:
    session = await scheduled(answers_site)
    citizen = await answers_site.new_client()
    assert (await leave(citizen, "公积金怎么提取出来")).status == 303
    await answers_site.app[keys.MODERATION].hints_settled()
    board = await answers_site.app[keys.MODERATION].board(session.id)
    (question,) = board.questions.values()
    assert question.flags["understood"] is False
    assert "suggested_item" not in question.flags
    assert len(question.flags["suggested_items"]) == 3  # still shown, with low confidences
