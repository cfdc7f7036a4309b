"""Admin pages: staff accounts (add, role, disable/enable, reset password) and the audit log."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from aiohttp import web

from moderation.staff import StaffError, generate_password
from store.aggregates import local_midnight
from store.base import Store
from store.records import ROLES, AuditEntry, LiveSession, Question, StaffUser
from web import keys
from web.audit_view import Names, describe, target_label
from web.render import format_time, render

AUDIT_PAGE = 50


def actor(request: web.Request) -> str:
    return request[keys.LOGIN].user.name


async def staff_list(request: web.Request, *, error: str = "", created: str = "",
                     created_password: str = "", status: int = 200) -> web.Response:
    accounts = await request.app[keys.ACCOUNTS].list()
    return render(request, "admin/staff.html", status=status, accounts=accounts, roles=ROLES,
                  error=error, created=created, created_password=created_password)


async def staff_create(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    role = str(form.get("role", ""))
    password = str(form.get("password", ""))[:512]
    generated = not password
    if generated:
        password = generate_password()
    try:
        await request.app[keys.ACCOUNTS].create(
            name, role, password, actor=actor(request),
            display_name=str(form.get("display_name", ""))[:80],
            must_change_password=True,  # the admin knows it: the user must replace it
        )
    except StaffError as exc:
        return await staff_list(request, error=str(exc), status=400)
    return await staff_list(request, created=name.strip().lower(),
                            created_password=password if generated else "")


async def staff_update(request: web.Request) -> web.Response:
    accounts = request.app[keys.ACCOUNTS]
    user_id = request.match_info["user_id"]
    await request.app[keys.STORE].get(StaffUser, user_id)  # 404 for unknown ids
    form = await request.post()
    action = str(form.get("action", ""))
    me = actor(request)
    new_password = ""
    try:
        if action == "role":
            await accounts.set_role(user_id, str(form.get("role", "")), actor=me)
        elif action in ("disable", "enable"):
            await accounts.set_disabled(user_id, action == "disable", actor=me)
        elif action == "reset_password":
            new_password = generate_password()
            await accounts.set_password(user_id, new_password, actor=me,
                                        must_change_password=True)
        else:
            raise web.HTTPBadRequest(text="未知操作")
    except StaffError as exc:
        return await staff_list(request, error=str(exc), status=400)
    if user_id == request[keys.LOGIN].user.id and action != "enable":
        # Changing one's own account revoked one's own login too.
        raise web.HTTPSeeOther("/login?msg=expired")
    target = await request.app[keys.STORE].get(StaffUser, user_id)
    return await staff_list(request, created=target.name if new_password else "",
                            created_password=new_password)


def _day(text: str, zone: dt.tzinfo) -> float | None:
    """The start of a YYYY-MM-DD day in the desk's time zone, or None for an empty or bad
    date."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return local_midnight(zone, day)


async def audit_log(request: web.Request) -> web.Response:
    """The audit log, newest first, filtered by actor, action, session and dates, with the
    people, broadcasts and questions it names shown by name."""
    where: dict[str, Any] = {}
    filters: dict[str, str] = {}
    for param, key in (("actor", "actor"), ("action", "action"), ("session", "session_id")):
        value = request.query.get(param, "").strip()[:64]
        if value:
            where[key] = filters[param] = value
    zone = request.app[keys.SETTINGS].zone
    for param, key, days in (("from", "at__gte", 0), ("to", "at__lt", 1)):
        text = request.query.get(param, "").strip()[:10]
        start = _day(text, zone)
        if start is not None:
            # The start of the next day for "to" (not +86400: a day can be 23 or 25 hours).
            where[key] = _day((dt.date.fromisoformat(text) + dt.timedelta(days=1))
                              .isoformat(), zone) if days else start
            filters[param] = request.query[param].strip()[:10]
    try:
        page = max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        raise web.HTTPBadRequest(text="页码无效") from None
    store = request.app[keys.STORE]
    found = await store.find(AuditEntry, where, order_by=["-at", "-id"],
                             limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE)
    entries = found[:AUDIT_PAGE]
    staff = await store.find(StaffUser, order_by=["name"])
    sessions = await store.find(LiveSession, order_by=["-scheduled_start"], limit=200)
    names = await _names(store, request, entries, staff, sessions)
    shown = functools.partial(format_time, zone=zone)
    rows = [{
        "entry": e, "actor": names.person(e.actor), "target": target_label(e.target, names),
        "session": names.sessions.get(e.session_id, e.session_id),
        "before": describe(e.before, shown, names),
        "after": describe(e.after, shown, names),
    } for e in entries]
    return render(request, "admin/audit.html", rows=rows, page=page,
                  has_next=len(found) > AUDIT_PAGE, filters=filters, staff=staff,
                  sessions=sessions)


async def _names(store: Store, request: web.Request, entries: list[AuditEntry],
                 staff: list[StaffUser], sessions: list[LiveSession]) -> Names:
    names = Names(staff={u.name: u.display_name or u.name for u in staff},
                  staff_ids={u.id: u.display_name or u.name for u in staff},
                  sessions={b.id: b.title for b in sessions})
    question_ids: set[str] = set()
    session_ids: set[str] = set()
    for e in entries:
        kind, _, ident = e.target.partition(":")
        if kind == "question":
            question_ids.add(ident)
        elif kind == "session":
            session_ids.add(ident)
        if e.session_id:
            session_ids.add(e.session_id)
        for side in (e.before or {}, e.after or {}):
            if side.get("merged_into"):
                question_ids.add(str(side["merged_into"]))
    missing = sorted(session_ids - set(names.sessions))
    if missing:
        names.sessions.update({b.id: b.title for b in await store.find(
            LiveSession, {"id": missing})})
    if question_ids:
        names.questions = {q.id: q.text for q in await store.find(
            Question, {"id": sorted(question_ids)})}
    names.items = dict(request.app[keys.MODERATION].item_names)
    return names
