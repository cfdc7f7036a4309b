"""Personal data sent through the real websocket never comes out raw: not to the moderator,
not to the public, not into the store's SQLite file or any file of the data directory, not
into the server log. The asker sees the masked question as it was stored."""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from store.records import SearchMiss
from tests.live.conftest import Live, question_event
from web import keys

# One question per kind and a few of the hardest variants; the raw values are what must never
# be seen again (and, for numbers, their digits without separators).
QUESTIONS = [
    ("我电话 138 1234 5678，驾照快到期了在哪里换？", ["138 1234 5678", "13812345678"]),
    ("回电幺八六 幺两三四 五六七八，谢谢", ["幺八六 幺两三四 五六七八", "18612345678"]),
    ("身份证110101 19900307 1233能在外地换证吗", ["110101 19900307 1233",
                                              "110101199003071233"]),
    ("我的车浙a·8K3J2被拍了能申诉吗", ["浙a·8K3J2", "8K3J2"]),
    ("座机（0571）8765 4321转8001，年检过期了怎么办", ["8765 4321", "87654321"]),
    ("银行卡6222 0202 0011 2230扣款失败怎么办", ["6222 0202 0011 2230", "6222020200112230"]),
    ("邮箱zhang.wei88@163.com收不到验证码", ["zhang.wei88@163.com", "zhang.wei88"]),
    ("驾驶证档案编号3301 0012 3456，补证要多久", ["3301 0012 3456", "330100123456"]),
    ("车架号LSVAU218XN2183294的车能过户吗", ["LSVAU218XN2183294"]),
    ("我叫张建伟，电瓶车怎么上牌？", ["张建伟"]),
]


def raw_values() -> list[str]:
    return [value for _, values in QUESTIONS for value in values]


def leaks(text: str) -> list[str]:
    folded = text.lower()
    return [value for value in raw_values() if value.lower() in folded]


def files_of(data_dir: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}


def file_leaks(files: dict[str, bytes]) -> dict[str, list[str]]:
    found = {}
    for path, content in files.items():
        hits = [v for v in raw_values() if v.encode() in content or
                v.encode("utf-16-le") in content]
        if hits:
            found[path] = hits
    return found


def is_question(frame: dict[str, Any]) -> bool:
    return question_event(frame)


async def test_personal_data_never_leaves_the_askers_browser(
        live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mod = await live.staff("mod", "moderator")
    public = await live.viewer()
    acks = []
    for i, (text, _) in enumerate(QUESTIONS):
        if i % 2 == 0:
            asker = await live.viewer()  # a viewer may ask 5 questions a minute
        ack = await asker.request("ask", client_id=uuid.uuid4().hex, text=text)
        assert ack["type"] == "ack" and ack["created"], ack
        acks.append(ack)
        assert "**" in ack["text"] and not leaks(ack["text"]), ack
        assert ack["masked"], ack

    staff_frames = []
    for ack in acks:
        frame = await mod.until(lambda f, qid=ack["question_id"]: is_question(f) and
                                f["question"]["id"] == qid and f["question"]["state"] == "pending")
        staff_frames.append(frame)
        q = frame["question"]
        assert q["flags"]["pii"], q
        approved = await mod.request("approve", question_id=q["id"], version=q["version"],
                                     category="驾驶证")
        assert approved["type"] == "ack", approved
    public_frames = [await public.until(lambda f, qid=ack["question_id"]: is_question(f) and
                                        f["question"]["id"] == qid) for ack in acks]

    kinds = {kind for frame in staff_frames for kind in frame["question"]["flags"]["pii"]}
    assert kinds == {"mobile", "id_number", "plate", "landline", "bank_card", "email",
                     "licence_file", "vin", "name"}
    assert not leaks(json.dumps(staff_frames, ensure_ascii=False))
    assert not leaks(json.dumps(public_frames, ensure_ascii=False))
    assert not leaks(json.dumps(mod.seen + public.seen, ensure_ascii=False))
    page = await (await live.site.new_client()).get(f"/live/{live.session.id}")
    assert not leaks(await page.text())

    # Every file: the SQLite file and its write-ahead log, keys, anything else written.
    files = files_of(Path(live.app[keys.SETTINGS].server.data_dir))
    sqlite_bytes = b"".join(content for path, content in files.items() if "sqlite" in path)
    assert sqlite_bytes, list(files)
    assert file_leaks(files) == {}
    assert not leaks(caplog.text)
    assert re.search(rb"138\*{4}5678", sqlite_bytes)  # the masked text is what was stored


async def test_a_search_for_ones_own_number_is_not_kept_raw(live: Live) -> None:
    client = await live.site.new_client()
    response = await client.get("/api/clips", params={"q": "13812345678 驾照"})
    assert response.status == 200, await response.text()
    misses = await live.app[keys.STORE].find(SearchMiss, {}, order_by=["first_at"])
    assert misses, "the query found nothing, so it is counted as a missed search"
    assert not any("13812345678" in miss.query for miss in misses), misses
    # Not even the masked form's kept digits: the personal part is dropped, the topic kept.
    assert not any("138" in miss.query or "5678" in miss.query for miss in misses), misses
    assert any("驾照" in miss.query for miss in misses), misses
