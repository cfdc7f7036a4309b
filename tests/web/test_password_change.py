"""Staff given a password by an admin must choose their own before any staff page opens;
those who chose theirs are never asked."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from live.sessions import SessionForm
from store.base import Store
from store.records import StaffUser
from tests.support import PASSWORD, Site, csrf_of, staff_csrf
from web import keys
from web.auth import CLOSE_PASSWORD_CHANGE

GIVEN = "given-by-admin-1"
OWN = "my-own-password-2"


async def admin_creates(site: Site, name: str, password: str = GIVEN) -> None:
    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/staff")
    response = await admin.post("/admin/staff", data={
        "_csrf": token, "name": name, "role": "moderator", "password": password})
    assert response.status == 200


async def test_first_sign_in_with_an_admins_password_must_change_it(site: Site) -> None:
    await admin_creates(site, "wangli")
    client = await site.new_client()
    token = csrf_of(await (await client.get("/login")).text())
    signed = await client.post("/login", allow_redirects=False, data={
        "name": "wangli", "password": GIVEN, "_csrf": token, "next": "/admin/audit"})
    assert signed.status == 303 and signed.headers["Location"] == "/account/password"

    session = await site.app[keys.SESSIONS].create(SessionForm("场次", scheduled_start=1.8e9),
                                                   actor="t")
    for path in ("/staff", f"/staff/sessions/{session.id}/moderate", "/admin/staff"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/account/password"
    page = await client.get("/account/password")
    html = await page.text()
    assert page.status == 200 and "请先设置自己的新密码" in html
    # A state-changing staff request is turned back too.
    posted = await client.post("/admin/staff", allow_redirects=False,
                               data={"_csrf": csrf_of(html), "name": "x1", "role": "host"})
    assert posted.status == 303 and await site.app[keys.STORE].user_by_name("x1") is None
    # Staff JSON says so in its own error shape.
    api = await client.post(f"/api/sessions/{session.id}/actions/approve", json={})
    assert api.status == 403
    assert (await api.json())["code"] == "password_change_required"
    # Public pages stay public.
    assert (await client.get("/", allow_redirects=False)).status == 200

    # The staff websocket refuses with a code the console can explain.
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect(f"/ws/staff/{session.id}", origin=origin)
    frame = json.loads((await ws.receive(timeout=5)).data)
    assert frame["code"] == "password_change_required" and frame["message"]
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == CLOSE_PASSWORD_CHANGE
    await ws.close()

    # The same password again is not a change.
    same = await client.post("/account/password", data={
        "_csrf": csrf_of(html), "current": GIVEN, "new": GIVEN, "repeat": GIVEN})
    assert same.status == 400 and "不能与当前密码相同" in await same.text()
    changed = await client.post("/account/password", allow_redirects=False, data={
        "_csrf": csrf_of(html), "current": GIVEN, "new": OWN, "repeat": OWN})
    assert changed.status == 303 and changed.headers["Location"] == "/login?msg=password"
    stored = await site.app[keys.STORE].user_by_name("wangli")
    assert stored is not None and not stored.must_change_password
    again = await site.login("wangli", OWN)
    assert (await again.get("/staff", allow_redirects=False)).status == 200


async def test_an_admin_reset_asks_again_and_a_self_chosen_password_never(site: Site) -> None:
    mod = await site.add_user("mod", "moderator")  # chose their own password
    client = await site.login("mod")
    assert (await client.get("/staff", allow_redirects=False)).status == 200
    # Changing it oneself does not ask for another change.
    token = await staff_csrf(client, "/account/password")
    await client.post("/account/password", data={
        "_csrf": token, "current": PASSWORD, "new": OWN, "repeat": OWN})
    client = await site.login("mod", OWN)
    assert (await client.get("/staff", allow_redirects=False)).status == 200

    await site.add_user("boss", "admin")
    admin = await site.login("boss")
    token = await staff_csrf(admin, "/admin/staff")
    reset = await admin.post(f"/admin/staff/{mod.id}",
                             data={"_csrf": token, "action": "reset_password"})
    match = re.search(r'<code class="password">([^<]+)</code>', await reset.text())
    assert match
    client = await site.login("mod", match.group(1))
    response = await client.get("/staff", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/account/password"
    # The admin who reset it is not affected.
    assert (await admin.get("/staff", allow_redirects=False)).status == 200


@pytest.mark.parametrize("flag", [True, False])
async def test_the_flag_is_stored_by_every_backend(store: Store, flag: bool) -> None:
    user = StaffUser(id="u1", name="wangli", role="moderator", password_hash="h",
                     must_change_password=flag)
    await store.insert(user)
    assert (await store.get(StaffUser, "u1")).must_change_password is flag
    updated = await store.update(StaffUser, "u1", {"must_change_password": not flag}, now=1.0)
    assert updated.must_change_password is (not flag)
    assert (await store.get(StaffUser, "u1")).must_change_password is (not flag)
