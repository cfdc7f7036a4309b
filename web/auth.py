"""Staff authentication over HTTP: the login cookie, role checks on every route, and the
login/logout pages. The account logic itself lives in ``moderation.staff`` and
``moderation.logins``."""

from __future__ import annotations

import ipaddress
import json
import unicodedata
from collections.abc import Sequence
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from moderation.logins import ActiveLogin, token_digest
from moderation.staff import LoginFailed, LoginThrottled, StaffError
from web import keys
from web.render import render
from web.security import CSRF_COOKIE, cookie_secure, login_csrf_token, set_login_csrf_cookie

LOGIN_COOKIE = "tp_staff"
PASSWORD_PAGE = "/account/password"  # noqa: S105 - a path
# What an account that must change its password may still reach among staff routes.
PASSWORD_CHANGE_PATHS = frozenset({PASSWORD_PAGE, "/logout"})
CLOSE_PASSWORD_CHANGE = 4403


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: web.Request) -> str:
    """The client's address: the connecting one, unless that is a trusted proxy
    (``[server] trusted_proxies``); then the last address in X-Forwarded-For that is not a
    trusted proxy itself (addresses further left are the client's own claim, not believed)."""
    remote = request.remote or "unknown"
    trusted = request.app[keys.SETTINGS].server.trusted_networks
    if not trusted or not _within(remote, trusted):
        return remote
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", [])
            for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _is_address(hop) else remote
    return remote


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _within(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


DEFAULT_NEXT = "/staff"
MAX_NEXT = 2000
# Characters a Location may carry as they are; everything else is percent-encoded, so the
# header holds plain ASCII and a browser reads exactly the path we checked.
NEXT_SAFE = "/?&=#%+-._~!$'()*,;:@"


def _suspicious(text: str) -> bool:
    """A form a browser might read as another site: not one leading slash, a second slash
    or a backslash right after it, or any backslash or control/invisible character (browsers
    drop tabs and newlines inside URLs, so ``/\t/evil.com`` becomes ``//evil.com``)."""
    if not text.startswith("/") or text.startswith(("//", "/\\")) or "\\" in text:
        return True
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def safe_next(target: str) -> str:
    """The post-login destination: a path on this site, else ``/staff``.

    The value is checked as sent and once fully percent-decoded (``/%09/evil.com``,
    ``/%2F/evil.com``, ``/%5Cevil.com``), must parse with no scheme and no host, and is
    sent back re-encoded."""
    if not target or len(target) > MAX_NEXT:
        return DEFAULT_NEXT
    decoded = target
    for _ in range(3):  # double and triple encodings too
        decoded = unquote(decoded)
    if _suspicious(target) or _suspicious(decoded):
        return DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or urlsplit(decoded).netloc:
        return DEFAULT_NEXT
    return quote(target, safe=NEXT_SAFE)


async def authenticate(request: web.Request) -> None:
    """The login behind the request (``keys.LOGIN``), and the route's roles enforced: a
    redirect to the login page, 401/403 for the API. A guard of ``web.errors.edge_middleware``."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    login = await request.app[keys.LOGINS].resolve(token) if token else None
    if login is not None:
        request[keys.LOGIN] = login
    roles = request.app[keys.ROUTE_ROLES].get(request.match_info.route)
    if roles is None:
        return
    if login is None:
        if request.path.startswith("/api/"):
            raise web.HTTPUnauthorized(text="login required")
        code = "expired" if token else "login"
        target = request.path_qs if request.method == "GET" else "/staff"
        location = f"/login?msg={code}&next={quote(target)}"
        response = web.HTTPFound(location)
        if token:
            response.del_cookie(LOGIN_COOKIE, path="/")
        raise response
    if login.user.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
        if request.path.startswith("/api/"):
            raise web.HTTPForbidden(reason="password_change_required")
        raise web.HTTPSeeOther(PASSWORD_PAGE)
    if login.user.role not in roles:
        raise web.HTTPForbidden(reason="role")


async def refuse_until_password_changed(ws: web.WebSocketResponse, login: ActiveLogin) -> bool:
    """Close a prepared staff socket whose account must first change its password (error
    ``password_change_required``, close code 4403); True when it was closed."""
    if not login.user.must_change_password:
        return False
    await ws.send_str(json.dumps({"type": "error", "code": "password_change_required",
                                  "message": "请先修改密码，再打开工作台。"}, ensure_ascii=False))
    await ws.close(code=CLOSE_PASSWORD_CHANGE, message=b"password change required")
    return True


async def login_form(request: web.Request) -> web.StreamResponse:
    if keys.LOGIN in request:
        raise web.HTTPFound(safe_next(request.query.get("next", "/staff")))
    login_csrf_token(request)
    response = render(request, "login.html", error="", name="",
                      next=safe_next(request.query.get("next", "/staff")))
    set_login_csrf_cookie(request, response)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/staff")))
    request[keys.CSRF_TOKEN] = request.cookies.get(CSRF_COOKIE, "")
    try:
        user = await request.app[keys.ACCOUNTS].authenticate(
            name, password, client_address(request)
        )
    except LoginThrottled as exc:
        response = render(request, "login.html", status=429, next=target, error=str(exc),
                          name=name)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (LoginFailed, StaffError) as exc:
        return render(request, "login.html", status=401, next=target, error=str(exc),
                      name=name)
    token, _ = await request.app[keys.LOGINS].start(user, client_address(request))
    response = web.HTTPSeeOther(PASSWORD_PAGE if user.must_change_password else target)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Lax", path="/",
                        secure=cookie_secure(request))
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(LOGIN_COOKIE, "")
    if token:
        await request.app[keys.LOGINS].end(token)
        request.app[keys.HUB].drop_login(token_digest(token), "logged_out")
    response = web.HTTPSeeOther("/login?msg=loggedout")
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response
