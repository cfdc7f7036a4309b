"""The lists moderators work with: blocked terms, decline reasons and canned replies
(the templates, which may hold ``{item_name}`` and ``{item_link}``).

Admins edit them at /admin/lists (``web.admin_sessions``, which only parses the form and
calls one function here). Every change commits in one transaction with its audit entry, and
a change to the blocked terms applies to the next question at once (the moderation service
reloads them after the commit).
"""

from __future__ import annotations

from moderation.service import Moderation
from store.base import Conflict, Store
from store.records import ReasonTemplate, TermRule, new_id

MAX_TERM = 30
MAX_REASON_TEXT = 200
MAX_REPLY_TEXT = 500
TEMPLATE_KINDS = ("decline", "reply")
TERM_RULES = ("hold", "reject")


class ListError(Exception):
    """A change that cannot be made; the message is for the admin, in Chinese."""


async def lists(moderation: Moderation) -> tuple[list[TermRule], list[ReasonTemplate]]:
    store = moderation.store
    return (await store.find(TermRule, order_by=["term"]),
            await store.find(ReasonTemplate, order_by=["position", "created_at"]))


async def add_term(moderation: Moderation, term: str, rule: str, actor: str) -> TermRule:
    """Block a term: ``reject`` refuses questions holding it, ``hold`` (anything else)
    flags them for the moderators. Whitespace is collapsed and the term cut to 30."""
    term = " ".join(term.split())[:MAX_TERM]
    if not term:
        raise ListError("请填写词语。")
    now = moderation.clock()
    record = TermRule(id=new_id(), term=term, action="reject" if rule == "reject" else "hold",
                      created_by=actor, created_at=now, updated_at=now)
    try:
        async with moderation.store.transaction() as tx:
            await tx.insert(record)
            await _audit(moderation, tx, actor, "terms.add", f"term:{term}", None,
                         {"action": record.action})
    except Conflict:
        raise ListError(f"“{term}”已在列表中。") from None
    await moderation.reload_terms()
    return record


async def delete_term(moderation: Moderation, rule_id: str, actor: str) -> bool:
    """Unblock a term; False when there was none with this id (already deleted)."""
    async with moderation.store.transaction() as tx:
        found = await tx.find(TermRule, {"id": rule_id})
        if not found or not await tx.delete(TermRule, rule_id):
            return False
        await _audit(moderation, tx, actor, "terms.delete", f"term:{found[0].term}",
                     {"action": found[0].action}, None)
    await moderation.reload_terms()
    return True


async def add_reason(moderation: Moderation, text: str, actor: str,
                     kind: str = "decline") -> ReasonTemplate:
    """Add a decline reason, or (``kind="reply"``) a canned reply."""
    kind = kind if kind in TEMPLATE_KINDS else "decline"
    text = " ".join(text.split())[:MAX_REPLY_TEXT if kind == "reply" else MAX_REASON_TEXT]
    if not text:
        raise ListError("请填写回复内容。" if kind == "reply" else "请填写原因。")
    now = moderation.clock()
    record = ReasonTemplate(id=new_id(), text=text, kind=kind, position=now, created_at=now,
                            updated_at=now)
    label = "replies" if kind == "reply" else "reasons"
    async with moderation.store.transaction() as tx:
        await tx.insert(record)
        await _audit(moderation, tx, actor, f"{label}.add", label, None, {"text": text})
    return record


async def delete_reason(moderation: Moderation, reason_id: str, actor: str) -> bool:
    async with moderation.store.transaction() as tx:
        found = await tx.find(ReasonTemplate, {"id": reason_id})
        if not found or not await tx.delete(ReasonTemplate, reason_id):
            return False
        label = "replies" if found[0].kind == "reply" else "reasons"
        await _audit(moderation, tx, actor, f"{label}.delete", label,
                     {"text": found[0].text}, None)
    return True


async def _audit(moderation: Moderation, tx: Store, actor: str, action: str, target: str,
                 before: dict[str, str] | None, after: dict[str, str] | None) -> None:
    """Record a list change in the transaction ``tx`` that makes it."""
    await moderation.audit(tx, actor, action, target, before=before, after=after)
