"""The public clip library's pages: browse and search (/clips), one clip (/clips/{id}), and
what search engines read (/sitemap.xml, /robots.txt).

Server-rendered and small, for phones: no framework, one stylesheet and one script
(``library.css``, ``library.js``), posters loaded lazily. Search goes through
``ClipLibrary.search``; every piece of user or clip text reaches the page through jinja2's
autoescaping (matches as ``(text, match)`` pieces put in ``<mark>`` by the template).
A view is counted when playback starts, by the script, through ``POST
/api/clips/{id}/view`` (``web.api``): that is the "once per viewer per clip per day" count.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from aiohttp import web

from clips.library import ClipLibrary, media_url
from clips.replays import PUBLISHED
from clips.search import SearchResult
from clips.search_query import MAX_QUERY_CHARS, BadSearchRequest
from moderation.notices import front_notices
from store.base import NotFound
from store.records import Clip, LiveSession
from web import keys
from web.library_view import (
    SORT_LABELS,
    LibraryQuery,
    card,
    clean_text,
    clip_action,
    clip_path,
    date_text,
    duration_text,
    iso_time,
    page_numbers,
    parse_query,
    run_search,
    service_action,
    views_text,
)
from web.render import render
from web.replay_pages import replay_path
from web.routing import Route
from web.security import login_csrf_token, own_origin, set_login_csrf_cookie
from web.viewers import ensure_viewer

SITEMAP_LIMIT = 50_000  # URLs in one sitemap file (the sitemaps.org limit)
SITEMAP_REPLAYS = 1_000  # the newest public replays listed (two broadcasts a working day: 2 years)
RELATED = 4
REPLAYS_SHOWN = 4  # the newest published replays on the library's front page


def _library(request: web.Request) -> ClipLibrary:
    return request.app[keys.LIBRARY]


async def library_index(request: web.Request) -> web.Response:
    library = _library(request)
    catalog = library.catalog
    try:
        query = parse_query(request.query, catalog)
        result = await run_search(library, query)
    except BadSearchRequest as exc:
        return render(request, "library/bad_request.html", status=400, message=str(exc),
                      parameter=getattr(exc, "parameter", ""),
                      q=clean_text(request.query.get("q", ""))[:MAX_QUERY_CHARS])
    clips = await library.clips_by_ids(hit.clip_id for hit in result.hits)
    cards = [card(clips[hit.clip_id], catalog, library.zone, hit.highlights)
             for hit in result.hits if hit.clip_id in clips]
    origin = own_origin(request)
    return render(
        request, "library/index.html", query=query, result=result, cards=cards,
        categories=catalog.categories, items=catalog.items,
        item=catalog.get(query.item), item_action=service_action(catalog.get(query.item)),
        sorts=_sorts(query), notes=_notes(query, result),
        numbers=page_numbers(query.page, result.pages), suggestions=_suggestions(result),
        canonical=origin + query.url(), past_end=bool(result.total and not result.hits),
        tab_url=lambda category: query.url(category=category, item="", page=1),
        page_url=lambda page: query.url(page=page),
        notices=await front_notices(library.store) if query.url() == "/clips" else [],
        replays=(await request.app[keys.REPLAYS].published(REPLAYS_SHOWN)
                 if query.url() == "/clips" else []),
    )


def _sorts(query: LibraryQuery) -> list[dict[str, Any]]:
    names = ("relevance", "newest", "popular") if query.q else ("newest", "popular")
    return [{"label": SORT_LABELS[name], "current": query.effective_sort == name,
             "url": query.url(sort="" if name == _default_sort(query) else name, page=1)}
            for name in names]


def _default_sort(query: LibraryQuery) -> str:
    return "relevance" if query.q else "newest"


def _notes(query: LibraryQuery, result: SearchResult) -> list[str]:
    """What the page says about how the query was searched."""
    notes = []
    if query.truncated:
        notes.append(f"搜索词太长，已只按前 {len(query.q)} 个字搜索。")
    if result.corrections:
        typed = "、".join(f"“{wrong}”" for wrong, _ in result.corrections)
        fixed = "、".join(f"“{right}”" for _, right in result.corrections)
        notes.append(f"已按{fixed}搜索（你输入的是{typed}）。")
    if result.not_ours:
        notes.append(f"这个问题看起来不属于车驾管业务，建议咨询：{result.where}。")
    if result.relaxed and result.total:
        notes.append("没有同时包含全部关键词的视频，已按部分关键词搜索。")
    if query.q and not result.terms:
        notes.append("搜索词里没有可以搜索的文字，下面列出全部视频。")
    return notes


def _suggestions(result: SearchResult) -> dict[str, Any] | None:
    if result.suggestions is None:
        return None
    by_item = [{"name": s.name, "url": LibraryQuery(item=s.item_id).url(),
              "clips": [{"title": c.title, "url": clip_path(c.clip_id),
                         "views": views_text(c.views)} for c in s.clips]}
             for s in result.suggestions.items]
    popular = [{"title": c.title, "url": clip_path(c.clip_id), "views": views_text(c.views)}
               for c in result.suggestions.popular]
    return {"by_item": by_item, "popular": popular}


async def clip_page(request: web.Request) -> web.Response:
    library = _library(request)
    clip = library.with_item(await library.published(request.match_info["clip_id"]))
    catalog = library.catalog
    item = catalog.get(clip.item_id)
    related = [card(c, catalog, library.zone) for c in await library.related(clip, RELATED)]
    origin = own_origin(request)
    url = origin + clip_path(clip.id)
    # The view is counted by a same-origin POST when playback starts; an anonymous viewer
    # has no login token, so the page carries the double-submit CSRF token (web.security).
    anonymous = request.get(keys.LOGIN) is None
    token = login_csrf_token(request) if anonymous else request[keys.CSRF_TOKEN]
    description = " ".join((clip.summary or clip.question or clip.title).split())
    replay_url = await _replay_url(request, clip)
    response = render(
        request, "library/clip.html", clip=clip, item=item,
        action=clip_action(clip, catalog), related=related, url=url,
        video=media_url(clip.media_path), poster=media_url(clip.poster_path),
        captions=media_url(clip.captions_path), duration=duration_text(clip.duration),
        date=date_text(clip.published_at, library.zone),
        date_iso=iso_time(clip.published_at, library.zone),
        views=views_text(clip.views), view_token=token,
        view_url=f"/api{clip_path(clip.id)}/view",
        description=description[:150] + ("…" if len(description) > 150 else ""),
        origin=origin, category_url=LibraryQuery(category=clip.category).url(),
        item_url=LibraryQuery(item=item.id).url() if item else "",
        replay_url=replay_url,
    )
    if anonymous:
        set_login_csrf_cookie(request, response)
    ensure_viewer(request, response)
    return response


async def _replay_url(request: web.Request, clip: Clip) -> str:
    """The published replay of the clip's session, at the clip's chapter; "" when none."""
    try:
        session = await request.app[keys.STORE].get(LiveSession, clip.session_id)
    except NotFound:
        return ""
    if request.app[keys.REPLAYS].state(session) != PUBLISHED:
        return ""
    return replay_path(session.id) + (f"#q-{clip.question_id}" if clip.question_id else "")


# --- for search engines -------------------------------------------------------------------


async def sitemap(request: web.Request) -> web.Response:
    """The library, its category pages, the newest public replays (``SITEMAP_REPLAYS``) and
    every published clip (newest first; ``SITEMAP_LIMIT`` URLs in all), with absolute URLs.
    A clip's ``lastmod`` is its publication time (``updated_at`` also moves with every
    counted view); a replay's is the end of its broadcast."""
    library = _library(request)
    origin = own_origin(request)
    categories = library.catalog.categories
    replays = await request.app[keys.REPLAYS].published(limit=SITEMAP_REPLAYS)
    clips = await library.store.find(Clip, {"state": "published"}, order_by=["-published_at"],
                                     limit=SITEMAP_LIMIT - 1 - len(categories) - len(replays))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
             f"<url><loc>{escape(origin)}/clips</loc></url>"]
    for category in categories:
        loc = f"{origin}/clips?{urlencode({'category': category})}"
        lines.append(f"<url><loc>{escape(loc)}</loc></url>")
    for session in replays:
        loc = escape(origin + replay_path(session.id))
        modified = iso_time(session.ended_at, library.zone)
        lines.append(f"<url><loc>{loc}</loc><lastmod>{modified}</lastmod></url>")
    for clip in clips:
        loc = escape(origin + clip_path(clip.id))
        modified = iso_time(clip.published_at, library.zone)
        lines.append(f"<url><loc>{loc}</loc><lastmod>{modified}</lastmod></url>")
    lines.append("</urlset>")
    return web.Response(text="\n".join(lines) + "\n", content_type="application/xml",
                        charset="utf-8")


async def robots(request: web.Request) -> web.Response:
    text = "\n".join([
        "User-agent: *",
        "Disallow: /staff",
        "Disallow: /admin",
        "Disallow: /api/",
        "",
        f"Sitemap: {own_origin(request)}/sitemap.xml",
        "",
    ])
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/clips", library_index, None),
    Route("GET", "/clips/{clip_id}", clip_page, None),
    Route("GET", "/sitemap.xml", sitemap, None),
    Route("GET", "/robots.txt", robots, None),
)
