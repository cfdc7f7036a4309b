"""A staff snapshot of a long session comes in pages: 500 questions (open ones first, then the
newest) and a cursor, then the staff ``questions`` request for each following page. Nothing
is skipped even when questions change while the console pages, and a cursor that is not one
is refused. (The store is filled before the board is first loaded, as after a restart; the
kill -9 fault test pages 2,000 questions of a real restarted server.)"""

from __future__ import annotations

from store.records import Question, new_id
from tests.live.conftest import Live
from web import keys

TOTAL = 1_050


async def test_the_staff_snapshot_pages_through_every_question(live: Live) -> None:
    store = live.app[keys.STORE]
    ids = []
    for i in range(TOTAL):
        q = Question(id=new_id(), session_id=live.session.id, viewer_id=f"v{i % 40}",
                     client_id=f"c{i}", text=f"第{i}个问题：年审要带什么？",
                     state="declined" if i % 3 == 0 else "pending",
                     created_at=1_800_000_000.0 + i, updated_at=1_800_000_000.0 + i)
        ids.append((await store.insert_question(q))[0].id)
    mod = await live.staff("mod", "moderator")
    snapshot = next(f for f in mod.seen if f["type"] == "snapshot")
    first = snapshot["questions"]
    assert len(first) == 500 and snapshot["next"]
    # Open questions first, newest first within each group.
    states = [q["state"] for q in first]
    assert states == sorted(states, key=lambda s: s == "declined")
    # A question of the first page closes while the console pages: it moves later, so it
    # may come again (the console keeps the higher version), and nothing is skipped.
    closing = first[0]
    declined = await mod.request("decline", question_id=closing["id"],
                                 version=closing["version"], reason="重复的问题")
    assert declined["type"] == "ack", declined
    seen = [q["id"] for q in first]
    after, pages = snapshot["next"], 0
    while after:
        pages += 1
        page = await mod.request("questions", after=after)
        assert page["type"] == "ack", page
        assert len(page["questions"]) <= 500
        seen += [q["id"] for q in page["questions"]]
        after = page["next"]
    assert pages == 2 and set(seen) == set(ids)
    assert len(seen) - len(set(seen)) <= 1  # at most the one that closed, once more

    for bad in ("x", "2:1.0:id", "0:nan:id", "0:1.0:"):
        refused = await mod.request("questions", after=bad)
        assert refused["type"] == "error" and refused["code"] == "bad_field", refused
