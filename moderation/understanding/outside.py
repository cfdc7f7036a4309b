"""Topics that are not traffic administration (社保, 公积金, 户口, the weather …): the engine
learns them as one more class, so that a question about them is recognised as "not a
traffic-administration question" and can be pointed elsewhere, instead of being filed under
the business item it shares a word with ("房子过户" is not 二手车过户).

A topic may also list the documents its department issues (``documents``: 身份证, 护照,
不动产证 …): a question that names one of them and none of the traffic administration's is
about that document, not about the traffic document it shares the verbs with ("身份证丢了去哪补办"
is not 驾驶证遗失补证; see ``engine``).

The list is data (``outside.toml`` next to this module), validated on loading.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


class OutsideTopicsError(ValueError):
    """The topics file cannot be used; the message names the file and the topic."""


@dataclass(frozen=True)
class OutsideTopic:
    name: str
    where: str  # whom to ask instead
    phrases: tuple[str, ...]
    documents: tuple[str, ...] = ()  # the documents its department issues


def load_outside(path: Path | None = None) -> tuple[OutsideTopic, ...]:
    if path is None:
        source = "moderation/understanding/outside.toml"
        text = resources.files("moderation.understanding").joinpath("outside.toml").read_text(
            encoding="utf-8")
    else:
        source = str(path)
        text = path.read_text(encoding="utf-8")
    return parse_outside(text, source=source)


def parse_outside(text: str, *, source: str = "<outside>") -> tuple[OutsideTopic, ...]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OutsideTopicsError(f"{source} 不是有效的 TOML：{exc}") from exc
    raw_topics = document.get("topic", [])
    if set(document) - {"topic"} or not isinstance(raw_topics, list):
        raise OutsideTopicsError(f"{source} 只能包含 [[topic]] 列表")
    topics: list[OutsideTopic] = []
    for index, raw in enumerate(raw_topics, start=1):
        where = f"{source} 第 {index} 个话题"
        if not (isinstance(raw, dict) and {"name", "where", "phrases"} <= set(raw)
                <= {"name", "where", "phrases", "documents"}):
            raise OutsideTopicsError(
                f"{where} 必须有 name、where、phrases 三个字段，可选 documents")
        name, place, phrases = raw["name"], raw["where"], raw["phrases"]
        documents = raw.get("documents", [])
        if not (isinstance(name, str) and name.strip() and isinstance(place, str)):
            raise OutsideTopicsError(f"{where} 的 name、where 必须是字符串")
        if not (isinstance(phrases, list) and phrases
                and all(isinstance(p, str) and p.strip() for p in phrases)):
            raise OutsideTopicsError(f"{where}（{name}）的 phrases 必须是非空字符串列表")
        if not (isinstance(documents, list)
                and all(isinstance(d, str) and d.strip() for d in documents)):
            raise OutsideTopicsError(f"{where}（{name}）的 documents 必须是非空字符串列表")
        topics.append(OutsideTopic(name.strip(), place.strip(),
                                   tuple(p.strip() for p in phrases),
                                   tuple(d.strip() for d in documents)))
    return tuple(topics)
