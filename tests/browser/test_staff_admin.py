"""Staff accounts in a real browser: log in, add a moderator, and the moderator's limits."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from tests.browser.conftest import Credentials, PageFactory, unexpected_errors

GENERATED_PASSWORD = re.compile(r"^[a-z2-9]{4}(-[a-z2-9]{4}){3}$")


async def log_in(page: Page, name: str, password: str) -> None:
    await page.goto("/login")
    form = page.locator("form[action='/login']")
    await form.get_by_label("账号").fill(name)
    await form.get_by_label("密码").fill(password)
    await form.get_by_role("button", name="登录").click()


async def test_admin_adds_a_moderator_who_cannot_manage_staff(
    open_page: PageFactory, admin: Credentials
) -> None:
    page = await open_page()
    await log_in(page, admin.name, admin.password)
    await expect(page).to_have_url(re.compile(r"/staff$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作台")

    nav = page.get_by_role("navigation")
    await nav.get_by_role("link", name="账号管理").click()
    await expect(page).to_have_url(re.compile(r"/admin/staff$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("账号管理")

    form = page.locator("form#add-staff")
    await form.get_by_label("账号（小写字母开头）").fill("zhang.wei")
    await form.get_by_label("姓名").fill("张伟")
    await form.get_by_label("角色").select_option(label="审核员")
    await expect(form.get_by_label("初始密码（留空则自动生成）")).to_have_value("")
    await form.get_by_role("button", name="添加").click()

    notice = page.get_by_role("status")
    await expect(notice).to_contain_text("账号 zhang.wei 已保存")
    await expect(notice).to_contain_text("只显示这一次")
    password = (await notice.locator("code.password").inner_text()).strip()
    assert GENERATED_PASSWORD.fullmatch(password), password
    row = page.locator("tr[data-account='zhang.wei']")
    await expect(row).to_contain_text("张伟")
    await expect(row.get_by_label("zhang.wei 的角色")).to_have_value("moderator")

    await page.get_by_role("button", name="退出").click()
    await expect(page).to_have_url(re.compile(r"/login\?msg=loggedout$"))
    await expect(page.get_by_role("status")).to_have_text("已退出登录。")
    await expect(page.get_by_role("link", name="账号管理")).to_have_count(0)

    moderator = await open_page()  # a fresh context: no admin cookies
    await log_in(moderator, "zhang.wei", password)
    # A password the admin handed over must be replaced before any staff page opens.
    await expect(moderator).to_have_url(re.compile(r"/account/password$"))
    await expect(moderator.get_by_role("status")).to_contain_text("请先设置自己的新密码")
    await moderator.goto("/staff")
    await expect(moderator).to_have_url(re.compile(r"/account/password$"))
    await moderator.get_by_label("当前密码").fill(password)
    await moderator.get_by_label("新密码（至少 10 位）").fill("zhang-wei-own-pw")
    await moderator.get_by_label("再输入一次").fill("zhang-wei-own-pw")
    await moderator.get_by_role("button", name="保存").click()
    await expect(moderator).to_have_url(re.compile(r"/login\?msg=password$"))
    await log_in(moderator, "zhang.wei", "zhang-wei-own-pw")
    await expect(moderator).to_have_url(re.compile(r"/staff$"))
    await expect(moderator.get_by_role("heading", level=1)).to_have_text("工作台")
    await expect(moderator.locator("main")).to_contain_text("你好，张伟。你的角色是审核员。")
    await expect(moderator.get_by_role("link", name="账号管理")).to_have_count(0)

    response = await moderator.goto("/admin/staff")
    assert response is not None and response.status == 403
    await expect(moderator.get_by_role("heading", level=1)).to_have_text("403 · 没有权限")
    await expect(moderator.locator("form#add-staff")).to_have_count(0)

    assert unexpected_errors(open_page.console_errors(page)) == []
    assert unexpected_errors(open_page.console_errors(moderator), 403) == []


async def test_wrong_password_shows_an_error_without_console_errors(
    page: Page, console_errors: list[str], admin: Credentials
) -> None:
    await page.goto("/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")
    form = page.locator("form[action='/login']")
    await form.get_by_label("账号").fill(admin.name)
    await form.get_by_label("密码").fill(admin.password + "x")
    async with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as submitted:
        await form.get_by_role("button", name="登录").click()
    assert (await submitted.value).status == 401

    await expect(page.get_by_role("alert")).to_have_text("账号或密码不正确。")
    await expect(form.get_by_label("账号")).to_have_value(admin.name)
    await expect(form.get_by_label("密码")).to_have_value("")
    assert unexpected_errors(console_errors, 401) == []


async def test_csp_blocks_inline_scripts_and_the_harness_sees_it(
    page: Page, console_errors: list[str]
) -> None:
    """The console watch must notice a CSP violation, or the tests above prove nothing."""
    await page.goto("/login")
    assert console_errors == []
    ran = await page.evaluate(
        """() => {
            window.inlineRan = false;
            const s = document.createElement("script");
            s.textContent = "window.inlineRan = true";
            document.body.append(s);
            return window.inlineRan;
        }"""
    )
    assert ran is False
    for _ in range(50):  # console events arrive asynchronously
        if console_errors:
            break
        await asyncio.sleep(0.05)
    assert any("Content Security Policy" in e for e in console_errors), console_errors
