"""Staff login, logout, sessions and CSRF over real HTTP."""

from __future__ import annotations

import time

from store.records import LoginSession
from tests.support import PASSWORD, Site, csrf_of, staff_csrf
from web import keys


async def test_login_page_is_chinese_and_sets_csrf_cookie(site: Site) -> None:
    response = await site.first.get("/login")
    html = await response.text()
    assert response.status == 200
    assert "工作人员登录" in html and 'lang="zh-CN"' in html
    assert response.cookies["tp_csrf"].value == csrf_of(html)


async def test_login_then_staff_home_then_logout(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.login("mod")
    home = await client.get("/staff")
    assert home.status == 200 and "审核员" in await home.text()
    token = await staff_csrf(client)
    out = await client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login?msg=loggedout"
    after = await client.get("/staff", allow_redirects=False)
    assert after.status == 302 and after.headers["Location"].startswith("/login?msg=login")
    assert await site.app[keys.STORE].count(LoginSession) == 0


async def test_wrong_password_says_so_without_revealing_which_part(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.new_client()
    token = csrf_of(await (await client.get("/login")).text())
    for name in ("mod", "nobody"):
        response = await client.post("/login", data={"name": name, "password": "wrong-pass-1",
                                                      "_csrf": token})
        assert response.status == 401
        assert "账号或密码不正确" in await response.text()


async def test_repeated_failures_are_throttled(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.new_client()
    token = csrf_of(await (await client.get("/login")).text())
    limit = site.app[keys.SETTINGS].security.login_max_failures
    for _ in range(limit):
        await client.post("/login", data={"name": "mod", "password": "nope-nope-1", "_csrf": token})
    blocked = await client.post("/login", data={"name": "mod", "password": PASSWORD,
                                                "_csrf": token})
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "次数过多" in await blocked.text()


async def test_login_without_or_with_forged_csrf_is_refused(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.new_client()
    await client.get("/login")
    missing = await client.post("/login", data={"name": "mod", "password": PASSWORD})
    forged = await client.post("/login", data={"name": "mod", "password": PASSWORD,
                                               "_csrf": "x" * 43})
    for response in (missing, forged):
        assert response.status == 403
        assert "页面已过期" in await response.text()


async def test_staff_form_needs_the_logins_own_csrf_token(site: Site) -> None:
    await site.add_user("boss", "admin")
    client = await site.login("boss")
    login_cookie_token = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    assert "tp_csrf" in login_cookie_token
    # The pre-login double-submit token is not valid once logged in.
    stale = login_cookie_token["tp_csrf"].value
    refused = await client.post("/admin/staff", data={"_csrf": stale, "name": "x1",
                                                      "role": "host"})
    assert refused.status == 403
    ok = await client.post("/admin/staff", data={"_csrf": await staff_csrf(client),
                                                 "name": "x1", "role": "host"})
    assert ok.status == 200


async def test_cross_origin_post_is_refused_even_with_a_token(site: Site) -> None:
    await site.add_user("boss", "admin")
    client = await site.login("boss")
    token = await staff_csrf(client)
    response = await client.post("/admin/staff", data={"_csrf": token, "name": "evil1",
                                                       "role": "admin"},
                                 headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert await site.app[keys.STORE].user_by_name("evil1") is None


async def test_expired_login_redirects_with_a_message(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.login("mod")
    store = site.app[keys.STORE]
    (session,) = await store.find(LoginSession)
    await store.update(LoginSession, session.id, {"expires_at": time.time() - 1}, now=time.time())
    response = await client.get("/staff")
    assert response.status == 200
    assert response.url.path == "/login"
    assert "登录已过期" in await response.text()
    assert await store.count(LoginSession) == 0


async def test_role_change_and_disable_take_effect_at_once(site: Site) -> None:
    admin = await site.add_user("boss", "admin")
    mod = await site.add_user("mod", "moderator")
    mod_client = await site.login("mod")
    admin_client = await site.login("boss")
    token = await staff_csrf(admin_client, "/admin/staff")
    changed = await admin_client.post(f"/admin/staff/{mod.id}",
                                      data={"_csrf": token, "action": "role", "role": "host"})
    assert changed.status == 200
    kicked = await mod_client.get("/staff", allow_redirects=False)
    assert kicked.status == 302 and "msg=expired" in kicked.headers["Location"]
    mod_client = await site.login("mod")
    assert "主持人" in await (await mod_client.get("/staff")).text()
    await admin_client.post(f"/admin/staff/{mod.id}", data={"_csrf": token, "action": "disable"})
    assert (await mod_client.get("/staff", allow_redirects=False)).status == 302
    page = await mod_client.get("/login")
    refused = await mod_client.post("/login", data={"name": "mod", "password": PASSWORD,
                                                    "_csrf": csrf_of(await page.text())})
    assert refused.status == 401 and "已停用" in await refused.text()
    assert admin.role == "admin"


async def test_open_redirect_after_login_is_refused(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.new_client()
    token = csrf_of(await (await client.get("/login")).text())
    response = await client.post("/login", allow_redirects=False, data={
        "name": "mod", "password": PASSWORD, "_csrf": token, "next": "//evil.example/x"})
    assert response.headers["Location"] == "/staff"


async def test_change_own_password(site: Site) -> None:
    await site.add_user("mod", "moderator")
    client = await site.login("mod")
    token = await staff_csrf(client, "/account/password")
    mismatch = await client.post("/account/password", data={
        "_csrf": token, "current": PASSWORD, "new": "new-password-1", "repeat": "other-pass-1"})
    assert mismatch.status == 400 and "不一致" in await mismatch.text()
    wrong = await client.post("/account/password", data={
        "_csrf": token, "current": "not-my-password", "new": "new-password-1",
        "repeat": "new-password-1"})
    assert wrong.status == 400 and "当前密码不正确" in await wrong.text()
    done = await client.post("/account/password", allow_redirects=False, data={
        "_csrf": token, "current": PASSWORD, "new": "new-password-1", "repeat": "new-password-1"})
    assert done.status == 303
    await site.login("mod", "new-password-1")


async def test_expired_logins_are_purged_at_start(settings, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    from store import make_store
    from web.app import create_app

    store = make_store(settings)
    await store.open()
    await store.insert(LoginSession(id="old", user_id="u", csrf_token="t", created_at=1.0,
                                    last_seen=1.0, expires_at=2.0))
    await store.insert(LoginSession(id="live", user_id="u", csrf_token="t", created_at=1.0,
                                    last_seen=1.0, expires_at=time.time() + 600))
    await store.close()
    client = await aiohttp_client(create_app(settings))
    remaining = await client.server.app[keys.STORE].find(LoginSession)
    assert [s.id for s in remaining] == ["live"]
