"""Admin pages: staff accounts (add, role, disable/enable, reset password) and the audit log."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from moderation.staff import StaffError, generate_password
from store.records import ROLES, AuditEntry, StaffUser
from web import keys
from web.render import render

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


async def audit_log(request: web.Request) -> web.Response:
    where: dict[str, Any] = {}
    for param, key in (("actor", "actor"), ("action", "action"), ("session", "session_id")):
        value = request.query.get(param, "").strip()[:64]
        if value:
            where[key] = value
    try:
        page = max(1, min(int(request.query.get("page", "1")), 10_000))
    except ValueError:
        raise web.HTTPBadRequest(text="页码无效") from None
    store = request.app[keys.STORE]
    entries = await store.find(AuditEntry, where, order_by=["-at", "-id"],
                               limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE)
    return render(request, "admin/audit.html", entries=entries[:AUDIT_PAGE], page=page,
                  has_next=len(entries) > AUDIT_PAGE, filters=where)
