"""The hosts' air and the queue's order, pure: one question on air per host, whose air a
question goes on, the session's pointers, and "me too" raising a question (issue 15)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moderation.questions import (
    ON_AIR,
    OnAir,
    Refused,
    host_queue,
    latest_on_air,
    on_air_after,
    on_air_host,
    on_air_slots,
    position_before,
    queue_order,
    rank,
    transition,
)
from store.records import LiveSession, Question

NOW = 1000.0
SESSION = LiveSession(id="s", title="两位主持人", host_ids=["officer", "presenter"])


def q(id: str = "q1", state: str = "queued", **kw: object) -> Question:
    base = Question(id=id, session_id="s", viewer_id="v", client_id=id, text="年审要带什么",
                    state=state)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_each_host_has_one_question_on_air_and_two_hosts_may_have_one_each() -> None:
    air = {"officer": "a"}
    assert transition(q("b", host_id="presenter"), OnAir("presenter"), now=NOW,
                      on_air=air) == {"state": ON_AIR, "on_air_at": NOW}
    with pytest.raises(Refused) as info:
        transition(q("b", host_id="officer"), OnAir("officer"), now=NOW, on_air=air)
    assert info.value.code == "air_busy"
    # The question already on air for that host is no obstacle to itself.
    assert transition(q("a", host_id="officer"), OnAir("officer"), now=NOW, on_air=air)


def test_a_question_for_no_host_goes_on_the_air_of_the_host_who_takes_it() -> None:
    unrouted = q("u")
    assert on_air_host(SESSION, unrouted, "presenter", "host") == "presenter"
    changes = transition(unrouted, OnAir("presenter"), now=NOW, on_air={"officer": "a"})
    assert changes == {"state": ON_AIR, "on_air_at": NOW, "host_id": "presenter"}
    # An admin, or a host not listed for the session, takes it for no host.
    assert on_air_host(SESSION, unrouted, "admin1", "admin") == ""
    assert on_air_host(SESSION, unrouted, "stranger", "host") == ""


def test_a_host_may_not_take_another_hosts_question_but_an_admin_may() -> None:
    theirs = q("t", host_id="officer")
    with pytest.raises(Refused) as info:
        on_air_host(SESSION, theirs, "presenter", "host")
    assert info.value.code == "other_host"
    assert on_air_host(SESSION, theirs, "officer", "host") == "officer"
    assert on_air_host(SESSION, theirs, "admin1", "admin") == "officer"


def test_the_pointers_follow_the_question_in_the_order_questions_went_on_air() -> None:
    air = on_air_after({}, q("a", ON_AIR, host_id="officer"))
    air = on_air_after(air, q("b", ON_AIR, host_id="presenter"))
    assert air == {"officer": "a", "presenter": "b"} and latest_on_air(air) == "b"
    air = on_air_after(air, q("b", "answered", host_id="presenter"))
    assert air == {"officer": "a"} and latest_on_air(air) == "a"
    air = on_air_after(air, q("a", "queued", host_id="officer"))  # requeued
    assert air == {} and latest_on_air(air) == ""


def test_a_session_stored_before_per_host_air_counts_its_question_under_its_host() -> None:
    old = replace(SESSION, on_air_id="a")
    assert on_air_slots(old, {"a": "officer"}) == {"officer": "a"}
    assert on_air_slots(old) == {"": "a"}
    assert on_air_slots(replace(SESSION, on_air_ids={"presenter": "b"}, on_air_id="b")) == {
        "presenter": "b"}


def test_without_the_setting_me_too_counts_do_not_change_the_order() -> None:
    qs = [q("a", position=1.0), q("b", position=2.0, me_too=50), q("c", position=3.0)]
    assert [x.id for x in queue_order(qs)] == ["a", "b", "c"]


def test_with_the_setting_each_me_too_lifts_a_question_one_place_and_pinned_stay_first() -> None:
    qs = [q("a", position=1.0), q("b", position=2.0), q("c", position=3.0, me_too=2),
          q("p", position=9.0, pinned=True)]
    # c: 3 − 2 = 1, level with a; the older (equal created_at: the id) stays ahead.
    assert [x.id for x in queue_order(qs, raises=True)] == ["p", "a", "c", "b"]
    more = [replace(x, me_too=3) if x.id == "c" else x for x in qs]
    assert [x.id for x in queue_order(more, raises=True)] == ["p", "c", "a", "b"]
    # A pinned question stays first however many ask the others.
    most = [replace(x, me_too=500) if x.id == "b" else x for x in qs]
    assert queue_order(most, raises=True)[0].id == "p"


def test_a_move_lands_where_it_was_made_with_the_setting_on() -> None:
    # The queue as shown: a (rank 1), c (rank 3 − 1 = 2), b (rank 4 − 1 = 3).
    qs = [q("a", position=1.0), q("b", position=4.0, me_too=1), q("c", position=3.0, me_too=1),
          q("m", position=5.0, me_too=5)]
    shown = queue_order(qs, raises=True)
    assert [x.id for x in shown] == ["m", "a", "c", "b"]
    moving = next(x for x in shown if x.id == "m")
    others = [x for x in shown if x.id != "m"]
    for before, expected in (("c", ["a", "m", "c", "b"]), ("b", ["a", "c", "m", "b"]),
                             (None, ["a", "c", "b", "m"])):
        moved = replace(moving, position=position_before(others, before, moving, True))
        result = queue_order([*others, moved], raises=True)
        assert [x.id for x in result] == expected, before
    # Later "me too"s raise it from there.
    moved = replace(moving, position=position_before(others, None, moving, True))
    assert rank(replace(moved, me_too=7), True) == rank(moved, True) - 2


def test_each_host_queue_keeps_the_same_rule() -> None:
    qs = [q("a", position=1.0, host_id="officer"), q("b", position=2.0, me_too=3),
          q("c", position=3.0, host_id="presenter")]
    assert [x.id for x in host_queue(qs, "officer")] == ["a", "b"]
    assert [x.id for x in host_queue(qs, "officer", raises=True)] == ["b", "a"]
    assert [x.id for x in host_queue(qs, "presenter", raises=True)] == ["b", "c"]
