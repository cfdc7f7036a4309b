"""The question state machine, pure: no loop, no socket, no database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moderation.questions import (
    OFF_TOPIC,
    SESSION_ENDED_REASON,
    Answered,
    Approve,
    Carry,
    Close,
    Decline,
    Edit,
    Merge,
    Move,
    OnAir,
    Pin,
    Refused,
    Reply,
    Requeue,
    Skip,
    carried_copy,
    position_before,
    queue_order,
    session_end_action,
    transition,
)
from store.records import LiveSession, Question

NOW = 1000.0


def q(state: str = "pending", **kw: object) -> Question:
    base = Question(id=str(kw.pop("id", "q1")), session_id="s", viewer_id="v", client_id="c",
                    text="年审要带什么", state=state)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_happy_path_from_pending_to_answered() -> None:
    changes = transition(q(), Approve("机动车", "vehicle-inspection", "12123://x"),
                         now=NOW)
    assert changes == {"state": "queued", "category": "机动车", "item_id": "vehicle-inspection",
                       "service_link": "12123://x", "host_id": "", "position": 0.0}
    assert transition(q("queued"), OnAir(), now=NOW) == {
        "state": "on_air", "on_air_at": NOW}
    assert transition(q("on_air"), Answered(), now=NOW + 60) == {
        "state": "answered", "answered_at": NOW + 60}


@pytest.mark.parametrize("state", ["answered", "replied", "merged", "declined"])
def test_final_states_accept_no_triage(state: str) -> None:
    for action in (Approve("机动车"), Reply("好的"), Decline("无关"), Edit("x")):
        with pytest.raises(Refused) as info:
            transition(q(state), action, now=NOW)
        assert info.value.code == "invalid_state"
        assert "不能" in info.value.message


def test_only_one_question_on_air_per_host() -> None:
    with pytest.raises(Refused) as info:
        transition(q("queued"), OnAir(), now=NOW, on_air={"": "other"})
    assert info.value.code == "air_busy"


def test_requeue_and_skip() -> None:
    assert transition(q("on_air"), Requeue(), now=NOW) == {
        "state": "queued", "on_air_at": 0.0}
    assert transition(q("queued", pinned=True), Skip(9.0), now=NOW) == {
        "position": 9.0, "pinned": False}


def test_approve_needs_a_category() -> None:
    with pytest.raises(Refused) as info:
        transition(q(), Approve(""), now=NOW)
    assert info.value.code == "missing_category"


def test_merge_rules() -> None:
    target = q("queued", id="q2")
    assert transition(q(), Merge(target), now=NOW) == {
        "state": "merged", "merged_into": "q2"}
    for bad, code in [(q("queued"), "merge_self"),
                      (replace(target, session_id="other"), "merge_other_session"),
                      (replace(target, state="declined"), "merge_target_closed")]:
        with pytest.raises(Refused) as info:
            transition(q(), Merge(bad), now=NOW)
        assert info.value.code == code


def test_reply_and_decline_text_is_cleaned_and_bounded() -> None:
    assert transition(q(), Reply("  可以在 12123 上办理  "), now=NOW) == {
        "state": "replied", "reply": "可以在 12123 上办理"}
    for action in (Reply("   "), Decline("\n\t")):
        with pytest.raises(Refused) as info:
            transition(q(), action, now=NOW)
        assert info.value.code == "empty"
    with pytest.raises(Refused):
        transition(q(), Decline("长" * 201), now=NOW)


def test_a_question_declined_as_not_ours_keeps_its_flags_and_says_so() -> None:
    question = replace(q(), flags={"pii": ["phone"]})
    assert transition(question, Decline("与本场主题无关", off_topic=True), now=NOW) == {
        "state": "declined", "decline_reason": "与本场主题无关",
        "flags": {"pii": ["phone"], OFF_TOPIC: True}}
    assert "flags" not in transition(question, Decline("重复"), now=NOW)


def test_pin_and_move_only_in_queue() -> None:
    assert transition(q("queued"), Pin(True), now=NOW) == {"pinned": True}
    assert transition(q("queued"), Move(2.5), now=NOW) == {"position": 2.5}
    with pytest.raises(Refused):
        transition(q("pending"), Pin(True), now=NOW)


def test_queue_order_puts_pinned_first_then_position() -> None:
    qs = [q("queued", id="a", position=1), q("queued", id="b", position=2, pinned=True),
          q("queued", id="c", position=0.5), q("pending", id="d", position=0)]
    assert [x.id for x in queue_order(qs)] == ["b", "c", "a"]


def test_position_before() -> None:
    ordered = [q("queued", id="a", position=1), q("queued", id="b", position=2)]
    assert position_before(ordered, None) == 3.0
    assert position_before(ordered, "b") == 1.5
    assert position_before(ordered, "a") < 1
    assert position_before([], None) == 1.0
    with pytest.raises(Refused):
        position_before(ordered, "zzz")


def _next_session() -> LiveSession:
    return LiveSession(id="s2", title="下午场", scheduled_start=2e9)


@pytest.mark.parametrize("state", ["pending", "queued", "on_air"])
def test_an_open_question_is_carried_to_the_next_session(state: str) -> None:
    carry = session_end_action(_next_session(), "q9")
    assert isinstance(carry, Carry)
    changes = transition(q(state, pinned=True, flags={"pii": ["mobile"]}), carry, now=NOW)
    assert changes == {"state": "carried", "pinned": False, "flags": {
        "pii": ["mobile"], "carried_to": {"session_id": "s2", "question_id": "q9",
                                          "title": "下午场", "scheduled_start": 2e9}}}
    copy = carried_copy(q(state, flags={"pii": ["mobile"], "held_terms": ["x"]}), carry, NOW)
    assert (copy.id, copy.session_id, copy.state, copy.viewer_id) == ("q9", "s2", "pending", "v")
    assert copy.client_id == "carried:q1" and copy.text == "年审要带什么"
    assert copy.flags == {"pii": ["mobile"],
                          "carried_from": {"session_id": "s", "question_id": "q1"}}


def test_with_no_next_session_an_open_question_is_declined_with_the_standard_reason() -> None:
    close = session_end_action(None, "unused")
    assert isinstance(close, Close)
    changes = transition(q("queued"), close, now=NOW)
    assert changes["state"] == "declined" and changes["decline_reason"] == SESSION_ENDED_REASON
    assert changes["flags"] == {"closed": "session_ended"}


@pytest.mark.parametrize("state", ["answered", "replied", "merged", "declined", "carried"])
def test_a_final_question_keeps_its_outcome_when_the_session_ends(state: str) -> None:
    for action in (Close(), Carry(_next_session(), "q9")):
        with pytest.raises(Refused) as refused:
            transition(q(state), action, now=NOW)
        assert refused.value.code == "invalid_state"
