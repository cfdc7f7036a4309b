"""Error pages, security headers, health, request limits."""

from __future__ import annotations

from aiohttp import web

from settings import Settings
from store.records import new_id
from tests.support import ClientFactory, Site
from web.app import create_app


async def test_not_found_page_is_chinese_with_security_headers(site: Site) -> None:
    response = await site.first.get("/no/such/page")
    assert response.status == 404
    assert "页面不存在" in await response.text()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_static_files_carry_security_headers(site: Site) -> None:
    response = await site.first.get("/static/style.css")
    assert response.status == 200
    assert "Content-Security-Policy" in response.headers


async def test_unexpected_error_shows_a_500_page_without_traceback(
    settings: Settings, aiohttp_client: ClientFactory
) -> None:
    app = create_app(settings)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail " + new_id())

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    response = await client.get("/boom")
    body = await response.text()
    assert response.status == 500
    assert "服务器出错了" in body
    assert "Traceback" not in body and "secret internal detail" not in body


async def test_healthz_reports_the_store(site: Site) -> None:
    response = await site.first.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["ok"] is True and body["store"]["backend"] == "sqlite"


async def test_oversize_body_is_refused_cleanly(site: Site) -> None:
    response = await site.first.post("/login", data={"name": "x" * (300 * 1024)})
    assert response.status == 413
    assert "内容太大" in await response.text()


async def test_method_not_allowed(site: Site) -> None:
    response = await site.first.delete("/login")
    assert response.status == 405
