"""The staff actions for people: the roles in words and the table in docs/protocol.md,
derived from the declarations in ``moderation.actions``."""

from __future__ import annotations

from live.protocol import Field
from moderation.actions import ACTIONS, StaffAction
from store.records import ROLES

# --- for people -----------------------------------------------------------------------------

ROLE_ORDER = ("moderator", "host", "expert", "captioner", "admin")
assert set(ROLE_ORDER) == set(ROLES)


def roles_text(roles: frozenset[str]) -> str:
    return ", ".join(role for role in ROLE_ORDER if role in roles)


def field_text(name: str, wire: Field, action: StaffAction) -> str:
    """One field as docs/protocol.md lists it: `name` (kind, limits; note), ? if optional."""
    if wire.kind is bool:
        kind = "bool"
    elif wire.kind is int:
        kind = f"integer {wire.min_value}–{wire.max_len}"
    else:
        kind = f"string ≤ {wire.max_len}"
    if name in action.choices:
        kind = " or ".join(f"`{value}`" for value in action.choices[name])
    note = action.notes.get(name)
    return f"`{name}`{'' if wire.required else '?'} ({kind}{'; ' + note if note else ''})"


def markdown_table() -> str:
    """The staff actions as docs/protocol.md shows them (a test keeps them equal)."""
    rows = ["| type | fields | role | audited as | ack |", "| --- | --- | --- | --- | --- |"]
    for action in ACTIONS.values():
        fields = ", ".join(field_text(name, wire, action) for name, wire in action.fields.items())
        answer = ", ".join(f"`{name}`" for name in action.answer) or "—"
        rows.append(f"| `{action.name}` | {fields} | {roles_text(action.roles)} | "
                    f"`{action.audit}` on `{action.target}` | {answer} |")
    rows.append("| `questions` | `after` (string ≤ 100; the snapshot's or the last page's "
                "`next`) | any | — (changes nothing) | `questions`, `next` |")
    rows.append("| `ping` | — | any | — | `pong: true` |")
    return "\n".join(rows) + "\n"
