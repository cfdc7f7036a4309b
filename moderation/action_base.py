"""The frame of the staff actions (``moderation.actions`` declares them): a command's fields
with their wire specs (``spec``), who sent it (``Context``), the command itself
(``Command``), its declaration (``StaffAction``, registered in ``ACTIONS`` by ``declare``)
and the role check (``allowed``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from live.protocol import Field
from moderation.questions import Refused
from moderation.service import AuditTag, Moderation
from store.records import StaffUser

Answer = dict[str, Any]
FORBIDDEN = ("forbidden", "你的角色不能执行这个操作。")


def spec(wire: Field, note: str = "", choices: tuple[str, ...] = ()) -> Any:
    """A command field: its wire spec, a note for people, the values allowed (if listed).
    An optional field defaults to None (absent)."""
    metadata = {"spec": wire, "note": note, "choices": choices}
    if wire.required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=None, metadata=metadata)


@dataclass(frozen=True)
class Context:
    """Who sent a command, where, and how it is audited."""

    moderation: Moderation
    session_id: str
    user: StaffUser
    audit: AuditTag


@dataclass(frozen=True, kw_only=True)
class Command:
    """A staff action's request, its fields checked against their specs."""

    answer: ClassVar[tuple[str, ...]] = ()  # the fields of the ack (besides "re")
    # ``validate``'s rules as JSON Schema, for the API document (web.openapi): what a client
    # may send is described exactly, rules across fields included.
    rules: ClassVar[tuple[dict[str, Any], ...]] = ()

    def validate(self) -> None:
        """What the field specs cannot say (rules across fields); raises ``Refused``."""

    async def run(self, ctx: Context) -> Answer:
        raise NotImplementedError


@dataclass(frozen=True)
class StaffAction:
    name: str
    summary: str  # English, one line: the docs table and the OpenAPI operation
    command: type[Command]
    roles: frozenset[str]
    audit: str  # the audit entry's action; "{field}" is filled in from the request
    target: str  # the audit entry's target, e.g. "question:{question_id}"

    @property
    def fields(self) -> dict[str, Field]:
        return {f.name: f.metadata["spec"] for f in dataclasses.fields(self.command)}

    @property
    def notes(self) -> dict[str, str]:
        return {f.name: f.metadata["note"] for f in dataclasses.fields(self.command)
                if f.metadata["note"]}

    @property
    def choices(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.metadata["choices"] for f in dataclasses.fields(self.command)
                if f.metadata["choices"]}

    @property
    def answer(self) -> tuple[str, ...]:
        return self.command.answer

    def tag(self, session_id: str, command: Command) -> AuditTag:
        values = {**dataclasses.asdict(command), "session_id": session_id}
        return AuditTag(self.audit.format(**values), self.target.format(**values))

    def parse(self, fields: Mapping[str, Any]) -> Command:
        """The command for fields already checked against ``fields`` (by
        ``live.protocol.check_fields``); refuses values outside the listed choices."""
        for name, allowed_values in self.choices.items():
            if fields.get(name) is not None and fields[name] not in allowed_values:
                raise Refused("bad_field", f"{name} 只能是 {' 或 '.join(allowed_values)}。")
        command = self.command(**fields)
        command.validate()
        return command


ACTIONS: dict[str, StaffAction] = {}
C = TypeVar("C", bound=type[Command])


def declare(name: str, roles: frozenset[str], summary: str, *, audit: str = "",
            target: str = "") -> Callable[[C], C]:
    """Register a command class as the staff action ``name``."""

    def register(command: C) -> C:
        assert name not in ACTIONS, f"two staff actions are called {name}"
        assert dataclasses.is_dataclass(command)
        label = audit or f"question.{name}"
        ACTIONS[name] = StaffAction(name, summary, command, roles, label,
                                    target or "question:{question_id}")
        return command

    return register


def allowed(action: StaffAction, user: StaffUser) -> bool:
    return user.role in action.roles
