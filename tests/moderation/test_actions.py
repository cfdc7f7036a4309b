"""The staff action declarations: the wire vocabulary they make, the roles, the audit labels,
and the table in docs/protocol.md that must say the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from live.protocol import B, Field, I, S
from moderation.action_docs import markdown_table
from moderation.actions import (
    ACTIONS,
    STAFF_MESSAGES,
    ApproveCommand,
    allowed,
)
from moderation.questions import Refused
from store.records import ROLES, StaffUser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
REF = {"question_id": S(), "version": I(1_000_000_000, min_value=1)}

# The staff vocabulary as the wire protocol has it (docs/protocol.md): declaring the actions
# in moderation.actions must not change a single field.
WIRE: dict[str, dict[str, Field]] = {
    "approve": {**REF, "category": S(20), "item_id": S(required=False),
                "host_id": S(required=False)},
    "edit": {**REF, "text": S(2000)},
    "merge": {**REF, "into": S()},
    "reply": {**REF, "text": S(2000)},
    "decline": {**REF, "reason": S(400), "off_topic": Field(bool, required=False)},
    "pin": {**REF, "pinned": B},
    "move": {**REF, "before": S(required=False)},
    "on_air": REF, "answered": REF, "requeue": REF, "skip": REF,
    "note": {**REF, "text": S(1000)},
    "move_to_host": {**REF, "host_id": S()},
    "bulk_approve": {"questions": S(8000), "category": S(20, required=False)},
    "bulk_decline": {"questions": S(8000), "reason": S(400),
                     "off_topic": Field(bool, required=False)},
    "slow_mode": {"seconds": I(3600)},
    "me_too_order": {"raises": B},
    "restrict": {"viewer_id": S(), "kind": S(10), "minutes": I(60 * 24 * 365, required=False),
                 "reason": S(200, required=False)},
    "unrestrict": {"viewer_id": S()},
    "questions": {"after": S(100)},  # a read: the next page after a snapshot
    "caption": {"text": S(1000)},
    "ping": {},
}
TRIAGE = {"approve", "edit", "merge", "reply", "decline", "pin", "move", "slow_mode",
          "me_too_order", "restrict", "unrestrict", "note", "move_to_host", "bulk_approve",
          "bulk_decline"}
AIR = {"on_air", "answered", "requeue", "skip"}
CAPTIONS = {"caption"}


def user(role: str) -> StaffUser:
    return StaffUser(id=role, name=role, role=role, password_hash="")


def test_the_staff_vocabulary_is_the_wire_protocol() -> None:
    assert {name: dict(fields) for name, fields in STAFF_MESSAGES.items()} == WIRE


@pytest.mark.parametrize("role", ROLES)
def test_moderators_triage_hosts_run_the_air_admins_do_everything(role: str) -> None:
    may = {name for name, action in ACTIONS.items() if allowed(action, user(role))}
    expected = {"moderator": TRIAGE, "host": AIR, "captioner": CAPTIONS, "expert": {"note"},
                "admin": TRIAGE | AIR | CAPTIONS}[role]
    assert may == expected


def test_audit_tags_come_from_the_declarations() -> None:
    def tag(name: str, **fields: object) -> tuple[str, str]:
        action = ACTIONS[name]
        return action.tag("s1", action.parse(fields))

    assert tag("approve", question_id="q1", version=3, category="驾驶证") == (
        "question.approve", "question:q1")
    assert tag("restrict", viewer_id="v9", kind="ban") == ("viewer.ban", "viewer:v9")
    assert tag("slow_mode", seconds=5) == ("session.slow_mode", "session:s1")
    assert tag("me_too_order", raises=True) == ("session.me_too_order", "session:s1")
    assert tag("caption", text="您好") == ("caption.add", "session:s1")


def test_commands_are_typed_with_optional_fields_absent() -> None:
    command = ACTIONS["approve"].parse({"question_id": "q1", "version": 3, "category": "机动车"})
    assert isinstance(command, ApproveCommand)
    assert (command.question_id, command.version, command.item_id) == ("q1", 3, None)


def test_validation_beyond_the_field_specs() -> None:
    restrict = ACTIONS["restrict"]
    restrict.parse({"viewer_id": "v", "kind": "ban"})
    restrict.parse({"viewer_id": "v", "kind": "timeout", "minutes": 5})
    for fields in ({"viewer_id": "v", "kind": "forever"}, {"viewer_id": "v", "kind": "timeout"}):
        with pytest.raises(Refused) as info:
            restrict.parse(fields)
        assert info.value.code == "bad_field"


def test_docs_table_is_the_declarations() -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("<!-- staff-actions")
    start = text.index("\n", start) + 1
    end = text.index("<!-- /staff-actions -->")
    assert text[start:end] == markdown_table(), (
        "docs/protocol.md's staff table differs from moderation/actions.py: paste "
        "moderation.action_docs.markdown_table() between the markers")
