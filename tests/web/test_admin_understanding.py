"""The confusion list (``/admin/understanding``, ``moderation.confusions``): where moderators
filed a question under another item than the engine's first suggestion, admins see the pair,
how often, and the (masked) questions."""

from __future__ import annotations

from typing import Any

from moderation.confusions import agreement
from store.records import Question
from tests.support import Site, staff_csrf
from tests.web.test_ask import PHONE, leave, scheduled
from web import keys


def filed(item_id: str, suggested: list[str], text: str = "问题") -> Question:
    return Question(id=text + item_id, session_id="s", viewer_id="v", client_id="c", text=text,
                    item_id=item_id, state="queued",
                    flags={"suggested_items": [{"id": i, "confidence": 0.5} for i in suggested]})


def test_the_pairs_moderators_corrected_are_counted_most_frequent_first() -> None:
    found = agreement([
        filed("b", ["a", "b", "c"], "一"), filed("b", ["a", "c", "d"], "二"),
        filed("a", ["a", "b", "c"]), filed("d", ["c", "a", "b"], "三"),
        filed("", ["a"]),  # not filed: no label
        filed("a", []),  # no suggestion (asked before the engine ran): nothing to compare
    ])
    assert (found.filed, found.agreed, found.in_top3) == (4, 1, 2)
    first, second = found.confusions
    assert (first.suggested, first.chosen, first.count, first.in_top3) == ("a", "b", 2, 1)
    assert first.examples == ("一", "二")
    assert (second.suggested, second.chosen, second.count) == ("c", "d", 1)


async def test_an_admin_sees_a_moderators_correction(answers_site: Site) -> None:
    site = answers_site
    session = await scheduled(site)
    # The correction teaches the engine, which every answers_site test shares
    # (tests/web/understanding.py): a topic none of them asks about.
    assert (await leave(await site.new_client(), f"电瓶车上牌要带啥材料 {PHONE}")).status == 303
    await site.app[keys.MODERATION].hints_settled()  # the engine's reading follows the ack
    (question,) = (await site.app[keys.MODERATION].board(session.id)).questions.values()
    suggested = [s["id"] for s in question.flags["suggested_items"]]
    other = site.app[keys.MODERATION].catalog.get(suggested[1])
    assert other is not None
    await site.add_user("mod", "moderator")
    mod = await site.login("mod")
    response = await mod.post(
        f"/api/sessions/{session.id}/actions/approve",
        json={"question_id": question.id, "version": question.version,
              "category": other.category, "item_id": other.id},
        headers={"X-CSRF-Token": await staff_csrf(mod)})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body

    assert (await mod.get("/admin/understanding")).status == 403
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    html = await (await admin.get("/admin/understanding")).text()
    first = site.app[keys.MODERATION].catalog.get(suggested[0])
    assert first is not None
    assert 'id="confusions"' in html and first.name in html and other.name in html
    assert "电瓶车上牌要带啥材料" in html and PHONE not in html  # masked as stored
    assert "采用了第一个建议 0 次" in html
    assert 'href="/admin/understanding"' in await (await admin.get("/staff")).text()
