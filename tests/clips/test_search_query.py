"""Relaxing a query that finds nothing, without an index: which words go first."""

from __future__ import annotations

from clips.search_query import Stage, match_expression, relax
from moderation.segment import Term

TOPIC = Term("驾驶证", ("驾驶证",), domain=True)
RARE_TOPIC = Term("审验", ("审验",), domain=True)
OTHER = Term("太久", ("太久",))
MISSING = Term("火星", ("火星",))
CHAR = Term("换", ("换",), strong=False)
CLIPS = {"驾驶证": 900, "审验": 40, "太久": 5, "火星": 0}


def required(stage: Stage | None) -> str:
    assert stage is not None
    return stage.core


def test_words_outside_the_domain_go_before_topic_words() -> None:
    kept: list[str] = []

    def exists(core: str) -> bool:
        kept.append(core)
        return core == match_expression([RARE_TOPIC, TOPIC], require_all=True)

    stage = relax([OTHER, TOPIC, RARE_TOPIC], lambda t: CLIPS[t.text], exists)
    # Tried with all three (rarest topic word first, the other word last), then without it.
    assert kept[0] == match_expression([RARE_TOPIC, TOPIC, OTHER], require_all=True)
    assert required(stage) == match_expression([RARE_TOPIC, TOPIC], require_all=True)
    assert stage is not None and '"太久"' in stage.extra  # a dropped word still ranks


def test_words_in_no_clip_go_at_once_and_the_rarest_topic_word_stays_last() -> None:
    stage = relax([MISSING, TOPIC, RARE_TOPIC], lambda t: CLIPS[t.text], lambda core: False)
    assert required(stage) == match_expression([RARE_TOPIC], require_all=True)


def test_lone_characters_are_the_last_resort() -> None:
    stage = relax([MISSING, CHAR], lambda t: CLIPS.get(t.text, 0), lambda core: True)
    assert required(stage) == '"换"'
    assert relax([MISSING], lambda t: 0, lambda core: True) is None
