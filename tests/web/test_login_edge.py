"""The sign-in edge over real HTTP: where ``next=`` may lead, and throttling per
(account, address) seen from two loopback client addresses."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.support import PASSWORD, Site, csrf_of
from web import keys

# Each would lead a browser off this site if sent back as a Location.
FOREIGN_NEXT = [
    "//evil.example/x",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "/%2F/evil.example",
    "/%252F%252Fevil.example",
    "javascript:alert(1)",
    "https://evil.example/",
    "https:evil.example",
    "evil.example",
    "",
    " /staff",
]


async def client_at(site: Site, address: str) -> TestClient[web.Request, web.Application]:
    """A browser whose connections come from ``address`` (any 127.0.0.0/8 address works
    on loopback), so the server sees a different client address."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    return await site.make_client(site.first.server, connector=connector)


async def post_login(client: TestClient[web.Request, web.Application], name: str,
                     password: str, next_: str = "/staff") -> aiohttp.ClientResponse:
    token = csrf_of(await (await client.get("/login")).text())
    return await client.post("/login", allow_redirects=False, data={
        "name": name, "password": password, "_csrf": token, "next": next_})


@pytest.mark.parametrize("target", FOREIGN_NEXT)
async def test_next_that_could_leave_the_site_goes_to_staff_home(site: Site,
                                                                 target: str) -> None:
    await site.add_user("mod", "moderator")
    client = await site.new_client()
    # The login form carries the refusal in its hidden field...
    page = await client.get("/login", params={"next": target})
    assert 'name="next" value="/staff"' in await page.text()
    # ...and a forged field is refused again when the form comes back.
    response = await post_login(client, "mod", PASSWORD, target)
    assert response.status == 303
    assert response.headers["Location"] == "/staff"
    # Once logged in, /login?next= redirects through the same check.
    again = await client.get("/login", params={"next": target}, allow_redirects=False)
    assert again.headers["Location"] == "/staff"


async def test_next_on_this_site_is_kept_and_encoded(site: Site) -> None:
    await site.add_user("boss", "admin")
    client = await site.new_client()
    response = await post_login(client, "boss", PASSWORD, "/admin/audit?actor=王 力")
    assert response.headers["Location"] == "/admin/audit?actor=%E7%8E%8B%20%E5%8A%9B"
    follow = await client.get(response.headers["Location"])
    assert follow.status == 200 and follow.url.path == "/admin/audit"


async def test_wrong_passwords_at_one_address_do_not_lock_out_another(site: Site) -> None:
    await site.add_user("boss", "admin")
    attacker = await client_at(site, "127.0.0.2")
    office = await client_at(site, "127.0.0.1")
    limit = site.app[keys.SETTINGS].security.login_max_failures
    for _ in range(limit):
        assert (await post_login(attacker, "boss", "wrong-password-1")).status == 401
    locked = await post_login(attacker, "boss", PASSWORD)
    assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0
    # The real admin at another address signs in at once.
    assert (await post_login(office, "boss", PASSWORD)).status == 303
    # ...and that success does not lift or reset the lock at the first address.
    still = await post_login(attacker, "boss", PASSWORD)
    assert still.status == 429


async def test_back_off_grows_with_each_further_failure(site: Site) -> None:
    await site.add_user("boss", "admin")
    attacker = await client_at(site, "127.0.0.2")
    throttle = site.app[keys.ACCOUNTS].throttle
    limit = site.app[keys.SETTINGS].security.login_max_failures
    for _ in range(limit):
        await post_login(attacker, "boss", "wrong-password-1")
    first = throttle.retry_after("boss", "127.0.0.2")
    # A lock refuses without checking the password, so back-off grows only through the
    # throttle itself; see tests/moderation/test_login_throttle.py for the whole curve.
    throttle.failed("boss", "127.0.0.2")
    assert throttle.retry_after("boss", "127.0.0.2") >= 2 * first - 1
    assert throttle.retry_after("boss", "127.0.0.1") == 0
