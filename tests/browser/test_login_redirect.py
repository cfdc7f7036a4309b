"""After signing in, Chromium lands on this site whatever ``next=`` the link carried.

Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so a
``next`` that looks like a path to a server can be another site to a browser: these cases
are checked where it matters, in the browser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page

from tests.browser.conftest import Credentials, LiveServer, PageFactory

# Login links as an attacker would send them (typed into the address bar as they are).
FOREIGN_LINKS = [
    "/login?next=/%09/evil.example",
    "/login?next=%2F%09%2Fevil.example",
    "/login?next=/%0a/evil.example",
    "/login?next=/%0d/evil.example",
    "/login?next=/\\evil.example",
    "/login?next=/%5Cevil.example",
    "/login?next=//evil.example",
    "/login?next=%2F%2Fevil.example",
    "/login?next=javascript:alert(document.domain)",
    "/login?next=https://evil.example/",
    "/login?next=https:evil.example",
]
# Values a forged form could carry in its hidden field (raw characters, not URL-encoded).
FOREIGN_FIELDS = ["/\t/evil.example", "/\n/evil.example", "/\\evil.example",
                  "\\\\evil.example", "//evil.example"]


async def sign_in(page: Page, credentials: Credentials) -> None:
    form = page.locator("form[action='/login']")
    await form.get_by_label("账号").fill(credentials.name)
    await form.get_by_label("密码").fill(credentials.password)
    async with page.expect_navigation():
        await form.get_by_role("button", name="登录").click()


def assert_on_site(page: Page, live_server: LiveServer, path: str) -> None:
    landed = urlsplit(page.url)
    ours = urlsplit(live_server.url)
    assert (landed.scheme, landed.netloc, landed.path) == (ours.scheme, ours.netloc, path), \
        page.url


@pytest.mark.parametrize("link", FOREIGN_LINKS)
async def test_a_foreign_next_in_the_link_lands_on_staff_home(
    open_page: PageFactory, live_server: LiveServer, admin: Credentials, link: str
) -> None:
    page = await open_page()
    await page.goto(link)
    await sign_in(page, admin)
    assert_on_site(page, live_server, "/staff")
    # Signed in, the same link redirects at once, to the same place.
    await page.goto(link)
    assert_on_site(page, live_server, "/staff")


@pytest.mark.parametrize("value", FOREIGN_FIELDS)
async def test_a_forged_next_field_lands_on_staff_home(
    open_page: PageFactory, live_server: LiveServer, admin: Credentials, value: str
) -> None:
    page = await open_page()
    await page.goto("/login")
    await page.locator("input[name='next']").evaluate("(field, value) => field.value = value",
                                                       value)
    await sign_in(page, admin)
    assert_on_site(page, live_server, "/staff")


async def test_a_next_on_this_site_is_followed(
    open_page: PageFactory, live_server: LiveServer, admin: Credentials
) -> None:
    page = await open_page()
    await page.goto("/login?next=/admin/audit%3Factor%3Dadmin")
    await sign_in(page, admin)
    assert_on_site(page, live_server, "/admin/audit")
    assert urlsplit(page.url).query == "actor=admin"
