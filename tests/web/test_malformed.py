"""Malformed requests never reach a 500 (issue 11): every POST route in the URL map, as an
anonymous visitor and as a logged-in admin, gets a multipart body without a boundary, a
truncated multipart body, a form that is not UTF-8, a non-ASCII CSRF token and a body that
is not valid JSON — and answers a 4xx (problem details under /api/, the Chinese error page
elsewhere) or, for anonymous visitors to staff pages, the redirect to the login page; nothing
is logged as an unhandled error."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from live.sessions import SessionForm
from tests.support import Site, staff_csrf
from web import keys
from web.routes import ROUTES

POSTS = [route for route in ROUTES if route.method == "POST"]
CASES: dict[str, tuple[dict[str, str], bytes]] = {
    "multipart without a boundary": (
        {"Content-Type": "multipart/form-data"}, b"_csrf=abc"),
    "truncated multipart": (
        {"Content-Type": "multipart/form-data; boundary=XyZ"},
        b'--XyZ\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\nabc'),
    "multipart cut inside a header": (
        {"Content-Type": "multipart/form-data; boundary=XyZ"},
        b"--XyZ\r\nContent-Dispos"),
    "form that is not UTF-8": (
        {"Content-Type": "application/x-www-form-urlencoded"}, b"_csrf=\xff\xfe&name=\xc3"),
    "form in an unknown charset": (
        {"Content-Type": "application/x-www-form-urlencoded; charset=klingon"}, b"a=b"),
    "non-ASCII CSRF token": (
        {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": "令牌令牌"},
        b"name=x"),
    "bad JSON": ({"Content-Type": "application/json"}, b'{"seconds": 1,'),
}


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], path)


@pytest.mark.parametrize("actor", ["anonymous", "admin"])
async def test_malformed_posts_are_4xx_everywhere(site: Site, actor: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    broadcast = await site.app[keys.SESSIONS].create(
        SessionForm("测试场", scheduled_start=1.8e9), actor="test")
    ids = {"session_id": broadcast.id, "user_id": "nobody", "clip_id": "nothing",
           "name": "index.m3u8", "notice_id": "nothing"}
    token = ""
    if actor == "admin":
        await site.add_user("boss", "admin")
        client = await site.login("boss")
        token = await staff_csrf(client)
    else:
        client = await site.new_client()
    caplog.set_level(logging.ERROR)
    for route in POSTS:
        for case, (headers, body) in CASES.items():
            sent: dict[str, Any] = {**headers}
            if token and "X-CSRF-Token" not in sent:
                sent["X-CSRF-Token"] = token  # past the CSRF check, into the handler
            response = await client.post(concrete(route.path, ids), data=body, headers=sent,
                                         allow_redirects=False)
            where = f"{case} to {route.path} as {actor}"
            if actor == "anonymous" and route.roles is not None and not route.path.startswith(
                    "/api/"):  # a staff page: to the login page, the body never read
                assert response.status == 302, where
                assert response.headers["Location"].startswith("/login"), where
                continue
            assert 400 <= response.status < 500, (where, response.status,
                                                  await response.text())
            if route.path.startswith("/api/"):
                assert response.content_type == "application/problem+json", where
                problem = await response.json(content_type=None)
                assert problem["status"] == response.status and problem["code"], where
            else:
                assert response.content_type == "text/html", where
                assert "返回首页" in await response.text(), where
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an error was logged"


async def test_login_form_errors_are_friendly_pages(site: Site) -> None:
    client = await site.new_client()
    response = await client.post("/login", data=b"--XyZ\r\nContent-Dispos",
                                 headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert response.status == 400 and response.content_type == "text/html"
    text = await response.text()
    assert "请求有误" in text and "表单内容无法读取" in text


@pytest.mark.parametrize(("path", "method", "status", "code"), [
    ("/api/clips/", "GET", 404, "not_found"),  # an empty id: the router's own 404
    ("/api/nothing-here", "GET", 404, "not_found"),
    ("/api/catalog", "POST", 405, "method_not_allowed"),
    ("/api/clips/x/view", "GET", 405, "method_not_allowed"),
])
async def test_router_errors_under_api_are_problems(site: Site, path: str, method: str,
                                                    status: int, code: str) -> None:
    response = await site.first.request(method, path)
    assert response.status == status
    assert response.content_type == "application/problem+json"
    problem = await response.json(content_type=None)
    assert problem["code"] == code and problem["status"] == status
    assert problem["type"] == f"urn:tippocket:problem:{code}"
    assert problem["title"] and problem["detail"]
    if status == 405:
        assert response.headers["Allow"]


async def test_router_errors_elsewhere_are_chinese_pages(site: Site) -> None:
    response = await site.first.get("/no/such/page")
    assert response.status == 404 and response.content_type == "text/html"
    assert "页面不存在" in await response.text()


@pytest.mark.parametrize("header", [
    b"X-CSRF-Token: \xff\xfe\xc3(",
    b"X-CSRF-Token: \xe4\xbb\xa4\xe7\x89\x8c",
    b"Cookie: tp_csrf=\xff\xfe; tp_staff=\xc3(",
    b"Cookie: tp_viewer=\xc3(.\xff\xfe",
    b"Cookie: tp_viewer=\xe4\xbb\xa4.\xe4\xbb\xa4",
])
@pytest.mark.parametrize("request_line", [b"POST /login", b"GET /live/{session_id}",
                                          b"POST /api/clips/x/view"])
async def test_header_bytes_that_are_not_ascii_are_harmless(site: Site, header: bytes,
                                                            request_line: bytes) -> None:
    """Raw bytes on the wire (a client library would refuse to send them)."""
    broadcast = await site.app[keys.SESSIONS].create(
        SessionForm("测试场", scheduled_start=1.8e9), actor="test")
    request_line = request_line.replace(b"{session_id}", broadcast.id.encode())
    server = site.first.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = b"name=x&password=y"
    writer.write(request_line + b" HTTP/1.1\r\nHost: "
                 + f"{server.host}:{server.port}".encode()
                 + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n" + header
                 + b"\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    status = int(status_line.split()[1])
    if request_line.startswith(b"GET"):
        assert status == 200, status_line  # the page, with a new viewer cookie
    else:
        assert 400 <= status < 500, status_line
