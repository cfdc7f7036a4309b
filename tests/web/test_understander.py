"""The engine in the app (``moderation.understander``): a question a moderator files under an
item teaches it, and what it learned survives a restart (read back from the store at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moderation.catalog import Catalog
from moderation.knowledge import KnowledgeBase
from moderation.questions import OFF_TOPIC, SESSION_ENDED_REASON
from moderation.understander import OUTSIDE, Examples, Understander, stored_examples
from moderation.understanding import Understanding, WordListLike
from settings import Settings
from store.records import Question
from store.sqlite import SQLiteStore
from tests.support import ClientFactory, Site, staff_csrf, until
from tests.web.test_ask import leave, scheduled
from tests.web.understanding import shared_engine
from web import keys
from web.app import create_app

TAUGHT = "蓝色小本本上的钢印看不清了怎么弄"
DECLINED = "楼下新开的奶茶店哪款好喝"


class RecordingBuilder:
    """Builds the shared engine and keeps the examples each build was given."""

    def __init__(self) -> None:
        self.given: list[list[tuple[str, str]]] = []

    def __call__(self, catalog: Catalog, words: WordListLike, knowledge: KnowledgeBase,
                 examples: Examples) -> Understanding:
        self.given.append(list(examples))
        return shared_engine()


async def started(settings: Settings, aiohttp_client: ClientFactory,
                  builder: RecordingBuilder) -> Site:
    app = create_app(settings)
    app[keys.UNDERSTANDER] = Understander(build=builder)
    client = await aiohttp_client(app)
    await until(app[keys.UNDERSTANDER].ready.is_set, "the understanding engine", timeout=240)
    return Site(app, client, aiohttp_client)


async def approve(site: Site, session_id: str, item_id: str) -> None:
    (question,) = (await site.app[keys.MODERATION].board(session_id)).questions.values()
    await site.add_user("mod", "moderator")
    mod = await site.login("mod")
    response = await mod.post(
        f"/api/sessions/{session_id}/actions/approve",
        json={"question_id": question.id, "version": question.version, "category": "机动车",
              "item_id": item_id},
        headers={"X-CSRF-Token": await staff_csrf(mod)})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body


async def test_examples_learned_from_approvals_survive_a_restart(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    settings = settings.replace(understanding={"enabled": True})
    first = RecordingBuilder()
    site = await started(settings, aiohttp_client, first)
    assert all(TAUGHT not in text for text, _ in first.given[0])
    session = await scheduled(site)
    assert (await leave(await site.new_client(), TAUGHT)).status == 303
    await approve(site, session.id, "registration-cert")
    assert (TAUGHT, "registration-cert") in site.app[keys.UNDERSTANDER].learned
    await site.first.close()  # the server stops: its cleanup contexts run

    again = RecordingBuilder()
    restarted = await started(settings, aiohttp_client, again)
    assert (TAUGHT, "registration-cert") in again.given[0]
    assert (TAUGHT, "registration-cert") in restarted.app[keys.UNDERSTANDER].learned
    # A question nobody filed under an item (nor declined as not ours) teaches nothing.
    assert all(item_id for _, item_id in again.given[0])




async def test_a_question_declined_as_not_ours_teaches_it_and_survives_a_restart(
        settings: Settings, aiohttp_client: ClientFactory) -> None:
    settings = settings.replace(understanding={"enabled": True})
    site = await started(settings, aiohttp_client, RecordingBuilder())
    session = await scheduled(site)
    for text in (DECLINED, "今天风好大"):
        assert (await leave(await site.new_client(), text)).status == 303
    board = await site.app[keys.MODERATION].board(session.id)
    by_text = {question.text: question for question in board.questions.values()}
    await site.add_user("mod", "moderator")
    mod = await site.login("mod")
    token = await staff_csrf(mod)
    for text, off_topic in ((DECLINED, True), ("今天风好大", None)):
        body = {"question_id": by_text[text].id, "version": by_text[text].version,
                "reason": "与本场直播的主题无关"}
        if off_topic is not None:
            body["off_topic"] = off_topic
        response = await mod.post(f"/api/sessions/{session.id}/actions/decline", json=body,
                                  headers={"X-CSRF-Token": token})
        assert response.status == 200, await response.text()
    learned = site.app[keys.UNDERSTANDER].learned
    assert (DECLINED, OUTSIDE) in learned
    assert all(text != "今天风好大" for text, _ in learned)  # declined, but not as off-topic
    await site.first.close()

    again = RecordingBuilder()
    await started(settings, aiohttp_client, again)
    assert (DECLINED, OUTSIDE) in again.given[0]
    assert all(text != "今天风好大" for text, _ in again.given[0])


async def test_off_topic_must_be_a_boolean(settings: Settings,
                                           aiohttp_client: ClientFactory) -> None:
    site = await started(settings.replace(understanding={"enabled": True}), aiohttp_client,
                         RecordingBuilder())
    session = await scheduled(site)
    assert (await leave(await site.new_client(), DECLINED)).status == 303
    (question,) = (await site.app[keys.MODERATION].board(session.id)).questions.values()
    await site.add_user("mod", "moderator")
    mod = await site.login("mod")
    response = await mod.post(
        f"/api/sessions/{session.id}/actions/decline",
        json={"question_id": question.id, "version": question.version, "reason": "无关",
              "off_topic": "yes"}, headers={"X-CSRF-Token": await staff_csrf(mod)})
    assert response.status == 400
    assert site.app[keys.UNDERSTANDER].learned == ()


async def test_stored_examples_read_back_both_kinds_newest_first_without_session_ends(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    try:
        rows = [  # (text, state, item, flags, decline reason)
            ("年检带什么", "queued", "vehicle-inspection", {}, ""),
            ("奶茶哪家好", "declined", "", {OFF_TOPIC: True}, "无关"),
            ("驾照到期了", "declined", "", {}, SESSION_ENDED_REASON),  # a session's end
            ("股票涨了吗", "declined", "license-renewal", {OFF_TOPIC: True}, "无关"),  # filed first
            ("重复的问题", "declined", "", {}, "重复"),  # declined, not as off-topic
            ("罚款怎么交", "answered", "fine-payment", {}, ""),
        ]
        for n, (text, state, item_id, flags, reason) in enumerate(rows):
            await store.insert(Question(id=f"q{n}", session_id="s", viewer_id="v",
                                        client_id=f"c{n}", text=text, state=state,
                                        item_id=item_id, flags=flags, decline_reason=reason,
                                        created_at=1000.0 + n))
        assert await stored_examples(store) == [
            ("年检带什么", "vehicle-inspection"), ("奶茶哪家好", OUTSIDE),
            ("股票涨了吗", OUTSIDE), ("罚款怎么交", "fine-payment")]
        assert await stored_examples(store, limit=2) == [
            ("股票涨了吗", OUTSIDE), ("罚款怎么交", "fine-payment")]
    finally:
        await store.close()
