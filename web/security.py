"""Security by default: response headers, Host and Origin checks and CSRF tokens.

Every response carries a Content-Security-Policy without inline scripts, frame-ancestors
'none' (the embeddable player alone sends its own, naming ``[embed] frame_ancestors``, and
then no X-Frame-Options: ``web.embed``), a strict Referrer-Policy and nosniff, and HSTS when
the public address is https
(``web.server`` puts the same headers on aiohttp's own low-level errors). Every
state-changing request and every websocket handshake must be addressed to a host we serve
and come from our own origin (when the browser says where it comes from); state-changing
requests also carry a CSRF token: the login's own token for staff, or the double-submit
cookie on the login form before there is a login.

Which hosts we serve: with ``server.public_url`` set, only its host and port. Without it,
only a literal IP address or ``localhost``: a DNS name could be rebound to this server by
any web page (its script would then send a matching foreign Host and Origin), an address
literal cannot.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from settings import Settings
from web import keys

log = logging.getLogger(__name__)

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    # hls.js runs its transmuxer in a worker it creates from a blob: URL.
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# One year; sent only when the public address is https (a browser ignores it over http, and
# it must never pin a plain-http install).
HSTS = "max-age=31536000"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_COOKIE = "tp_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every response carries under these settings."""
    if settings.server.public_url.lower().startswith("https://"):
        return {**HEADERS, "Strict-Transport-Security": HSTS}
    return HEADERS


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.status == 101:
        return  # a websocket upgrade renders nothing; 1 KiB per idle socket is better saved
    own_policy = "Content-Security-Policy" in response.headers  # the embed page's (web.embed)
    for name, value in security_headers(request.app[keys.SETTINGS]).items():
        if not (own_policy and name == "X-Frame-Options"):  # it would forbid every frame
            response.headers.setdefault(name, value)
    if request.path.startswith(("/login", "/staff", "/admin", "/account", "/moderate", "/host")):
        response.headers["Cache-Control"] = "no-store"


def own_origin(request: web.Request) -> str:
    """The origin our pages are served from: the configured public URL, or else the
    address this request was sent to."""
    public = request.app[keys.SETTINGS].server.public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def _host_port(netloc: str, default_port: int) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname.rstrip(".").lower(), port or default_port


def _literal_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_allowed(request: web.Request) -> bool:
    """Whether the request's Host is one this server answers state changes for (see the
    module docstring)."""
    public = request.app[keys.SETTINGS].server.public_url
    if public:
        parts = urlsplit(public)
        default = 443 if parts.scheme == "https" else 80
        return _host_port(request.host, default) == _host_port(parts.netloc, default)
    sent = _host_port(request.host, 80)
    return sent is not None and _literal_or_localhost(sent[0])


def warn_without_public_url(settings: Settings) -> None:
    if not settings.server.public_url:
        log.warning(
            "[server] public_url is not set: state changes are accepted only for a literal "
            "IP address or localhost as Host, cookies are not marked Secure and no HSTS is "
            "sent. Set it to the address people use, e.g. https://help.example.gov.cn")


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer is None:
            return True  # non-browser clients; the CSRF token still has to match
        origin = "/".join(referer.split("/", 3)[:3])
    return origin == own_origin(request)


def cookie_secure(request: web.Request) -> bool:
    mode = request.app[keys.SETTINGS].security.cookie_secure
    if mode == "auto":
        return own_origin(request).startswith("https://")
    return mode == "always"


def login_csrf_token(request: web.Request) -> str:
    """The double-submit token for the login form: the cookie's, or a new one."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) != 43:
        token = secrets.token_urlsafe(32)
    request[keys.CSRF_TOKEN] = token
    return token


def set_login_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.set_cookie(CSRF_COOKIE, request[keys.CSRF_TOKEN], httponly=True, samesite="Strict",
                        path="/", secure=cookie_secure(request))


async def check_request(request: web.Request) -> None:
    """Host, Origin and CSRF checks for whatever changes something (and every websocket
    handshake's Origin): 403 otherwise. A guard of ``web.errors.edge_middleware``."""
    login = request.get(keys.LOGIN)
    if login is not None:
        request[keys.CSRF_TOKEN] = login.session.csrf_token
    if request.match_info.http_exception is not None:  # 404/405: nothing to protect
        return
    handshake = request.path.startswith("/ws/")
    if request.method in SAFE_METHODS and not handshake:
        return
    if not host_allowed(request) or not same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request refused")
    if handshake:  # websockets authenticate themselves (web.ws)
        return
    if (request.body_exists and request.content_type not in FORM_TYPES
            and not request.path.startswith("/api/")):  # pages take forms; the API, JSON
        raise web.HTTPUnsupportedMediaType(text="只接受表单提交。")
    sent = request.headers.get(CSRF_HEADER, "")
    if request.content_type in FORM_TYPES:
        # Parsed here for every form POST, so that a malformed body is one 400 in one place
        # (the handlers' own ``request.post()`` then reads this parse).
        form = await read_form(request)
        if not sent:
            value = form.get(CSRF_FIELD, "")
            sent = value if isinstance(value, str) else ""
    expected = login.session.csrf_token if login else request.cookies.get(CSRF_COOKIE, "")
    if not expected or not sent or not same_token(sent, expected):
        raise web.HTTPForbidden(reason="csrf")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form, or 400 when it cannot be read: a multipart type without a
    boundary, a truncated or malformed multipart body, bytes that are not in its charset."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError):
        raise web.HTTPBadRequest(text="表单内容无法读取。") from None


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison of any text (a header may carry any characters)."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))
