"""What the public library's pages and its JSON API share: reading the query string, the
一键办理 action of a clip, and the plain values (durations, dates, absolute URLs) both show.

Parameters are read strictly — a repeated parameter, an unknown category or item, a page
number that is not a plain integer in range is a ``BadParameter`` (400) naming the
parameter — and text is never refused: the query is cut at ``MAX_QUERY_CHARS`` and the page
says so. Parameters this module does not know (``q[$ne]``, tracking tags) are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from multidict import MultiMapping

from clips.library import ClipLibrary, media_url
from clips.search import SearchResult
from clips.search_query import MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS, SORTS, BadSearchRequest
from moderation.catalog import Catalog, CatalogItem
from store.records import Clip
from web.render import format_time

PAGE_SIZE = 24  # clips per page of /clips: fills rows of 2, 3 or 4 cards
API_PAGE_SIZE = 20
SORT_LABELS = {"relevance": "相关度", "newest": "最新", "popular": "最多观看"}
ONLINE_SCHEMES = ("https://", "http://", "12123://", "zlb://")
APP_SCHEMES = {"12123://": "交管12123", "zlb://": "浙里办"}
CHANNEL_LABELS = {"12123": "交管12123", "浙里办": "浙里办"}
WINDOW_SCHEME = "window://"
_DIGITS = re.compile(r"[1-9][0-9]{0,8}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class BadParameter(BadSearchRequest):
    """A query parameter that cannot be used: answered with 400, naming the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class LibraryQuery:
    """The parameters of /clips and /api/clips, checked; empty strings mean "not given"."""

    q: str = ""
    category: str = ""
    item: str = ""
    sort: str = ""  # empty: relevance with a query, newest without
    page: int = 1
    per_page: int = PAGE_SIZE
    truncated: bool = False  # q was longer than MAX_QUERY_CHARS and has been cut
    default_per_page: int = PAGE_SIZE  # left out of URLs

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "newest")

    @property
    def filtered(self) -> bool:
        return bool(self.category or self.item)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string's pairs for this query with ``changes``, in a fixed order, the
        defaults left out (so equal queries have one URL)."""
        query = replace(self, **changes)
        pairs = [("q", query.q), ("category", query.category), ("item", query.item),
                 ("sort", query.sort),
                 ("page", str(query.page) if query.page > 1 else "")]
        if query.per_page != self.default_per_page:
            pairs.append(("per_page", str(query.per_page)))
        return [(name, value) for name, value in pairs if value]

    def url(self, path: str = "/clips", **changes: Any) -> str:
        pairs = self.params(**changes)
        return f"{path}?{urlencode(pairs)}" if pairs else path


def _single(params: MultiMapping[str], name: str) -> str:
    values = params.getall(name, [])
    if len(values) > 1:
        raise BadParameter(name, f"参数 {name} 只能出现一次。")
    return values[0] if values else ""


def _integer(params: MultiMapping[str], name: str, default: int, highest: int,
             what: str) -> int:
    raw = _single(params, name)
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= highest:
        raise BadParameter(name, f"{what}必须是 1 到 {highest} 之间的整数。")
    return int(raw)


def clean_text(text: str) -> str:
    """Whitespace collapsed, control and other unprintable characters dropped."""
    return "".join(ch for ch in " ".join(text.split()) if ch.isprintable())


def parse_query(params: MultiMapping[str], catalog: Catalog, *,
                per_page: int = PAGE_SIZE, allow_per_page: bool = False) -> LibraryQuery:
    """Read and check the library's parameters; raises ``BadParameter``."""
    q = clean_text(_single(params, "q"))
    truncated = len(q) > MAX_QUERY_CHARS
    q = q[:MAX_QUERY_CHARS].strip()
    # Filters are taken exactly as the site's own links and forms send them (the OpenAPI
    # document lists the values: web.openapi); empty means no filter.
    category = _single(params, "category")
    if category and category not in catalog.categories:
        raise BadParameter("category",
                           f"没有这个分类；可选的分类：{'、'.join(catalog.categories)}。")
    item_id = _single(params, "item")
    if item_id:
        item = catalog.get(item_id)
        if item is None:
            raise BadParameter("item", "没有这个业务事项，它可能已从业务目录中移除。")
        category = item.category  # the item decides its category
    sort = _single(params, "sort")
    if sort and sort not in SORTS:
        labels = "、".join(f"{s}（{SORT_LABELS[s]}）" for s in SORTS)
        raise BadParameter("sort", f"排序方式只能是 {labels}。")
    page = _integer(params, "page", 1, MAX_PAGE, "页码")
    default = per_page
    if allow_per_page:
        per_page = _integer(params, "per_page", per_page, MAX_PER_PAGE, "每页条数")
    return LibraryQuery(q=q, category=category, item=item_id, sort=sort, page=page,
                        per_page=per_page, truncated=truncated, default_per_page=default)


async def run_search(library: ClipLibrary, query: LibraryQuery) -> SearchResult:
    """The search for ``query``; an item filter alone (its category follows from it: a clip
    filed before the catalog moved its item still belongs to the item)."""
    return await library.search(
        query.q, category=None if query.item else (query.category or None),
        item_id=query.item or None, sort=query.effective_sort, page=query.page,
        per_page=query.per_page)


# --- the 一键办理 button ------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAction:
    """What 一键办理 does for a clip: open an online service, or show counter guidance."""

    kind: str  # "online" | "window"
    item_name: str
    channel: str  # 交管12123, 浙里办, 网上办理; 窗口 for counter-only items
    url: str = ""  # online: what the button opens (https, or an app link such as zlb://)
    opens_app: bool = False  # the link opens a phone app
    app: str = ""  # the phone app that handles the item, when there is one
    portal: str = ""  # a web page to use instead of the app
    guide: str = ""  # window: the item's description (what the counter handles and needs)
    guide_url: str = ""  # window: a web page about the item, when the link is one


def service_action(item: CatalogItem | None, link: str = "",
                   name: str = "") -> ServiceAction | None:
    """The action behind 一键办理: ``link`` (a clip's own) or else the item's; None when
    there is none. Counter-only items (a ``window://`` link or the channel 窗口) show
    guidance instead of opening anything.

    Only links with the schemes above become links on the page: a catalog edited by hand
    cannot put a ``javascript:`` URL behind the button. The catalog's ``12123://service/…``
    placeholders are not URLs at all (a scheme starts with a letter; a browser resolves them
    as a path on this site), so for those the button opens the item's web portal and the
    page names the app."""
    link = link.strip() or (item.link.strip() if item else "")
    name = item.name if item else name
    if link.startswith(WINDOW_SCHEME) or (item is not None and item.channel == "窗口"):
        return ServiceAction(
            kind="window", item_name=name, channel="窗口",
            guide=item.description if item else "",
            guide_url=link if link.startswith(("https://", "http://")) else "")
    if not link.startswith(ONLINE_SCHEMES):
        return None
    app_scheme = next((s for s in APP_SCHEMES if link.startswith(s)), "")
    app = APP_SCHEMES.get(app_scheme, "")
    channel = app or CHANNEL_LABELS.get(item.channel if item else "", "网上办理")
    portal = item.portal if item and item.portal.startswith("https://") else ""
    if app and not _URL_SCHEME.match(link):
        return ServiceAction(kind="online", item_name=name, channel=channel, url=portal,
                             app=app)
    return ServiceAction(kind="online", item_name=name, channel=channel, url=link,
                         opens_app=bool(app), app=app, portal="" if portal == link else portal)


# --- plain values ---------------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def views_text(views: int) -> str:
    if views >= 10_000:
        return f"{views / 10_000:.1f}".rstrip("0").rstrip(".") + " 万次观看"
    return f"{views} 次观看"


def date_text(epoch: float, zone: dt.tzinfo) -> str:
    return format_time(epoch, "%Y-%m-%d", zone)


def iso_time(epoch: float, zone: dt.tzinfo) -> str:
    """ISO 8601 in the desk's time zone, e.g. 2026-05-04T09:30:00+08:00."""
    return dt.datetime.fromtimestamp(epoch, zone).isoformat(timespec="seconds")


def clip_path(clip_id: str) -> str:
    return f"/clips/{quote(clip_id, safe='')}"


def absolute(origin: str, path: str) -> str:
    return f"{origin}{path}" if path else ""


@dataclass(frozen=True)
class ClipCard:
    """One clip as a card in a list: from a search hit (with highlights) or a plain clip."""

    id: str
    url: str
    title: tuple[tuple[str, bool], ...]  # (text, match) pieces
    excerpt: tuple[tuple[str, bool], ...]
    poster: str
    duration: str
    date: str
    date_iso: str
    views: str
    item_name: str


def plain(text: str) -> tuple[tuple[str, bool], ...]:
    return ((text, False),) if text else ()


def clip_action(clip: Clip, catalog: Catalog) -> ServiceAction | None:
    return service_action(catalog.get(clip.item_id), clip.service_link, clip.title)


def card(clip: Clip, catalog: Catalog, zone: dt.tzinfo,
         highlights: Mapping[str, tuple[tuple[str, bool], ...]] | None = None) -> ClipCard:
    title = plain(clip.title)
    excerpt: tuple[tuple[str, bool], ...] = ()
    if highlights:
        title = tuple(highlights.get("title", ())) or title
        # The first other field the query matched, so the card shows why it was found.
        for name in ("question", "summary", "captions"):
            pieces = tuple(highlights.get(name, ()))
            if any(match for _, match in pieces):
                excerpt = pieces
                break
    item = catalog.get(clip.item_id)
    return ClipCard(
        id=clip.id, url=clip_path(clip.id), title=title, excerpt=excerpt,
        poster=media_url(clip.poster_path), duration=duration_text(clip.duration),
        date=date_text(clip.published_at, zone), date_iso=iso_time(clip.published_at, zone),
        views=views_text(clip.views), item_name=item.name if item else "")


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page links to show: the first, the last and ``around`` each side of ``page``; None
    where pages are skipped."""
    wanted = {1, pages, *range(page - around, page + around + 1)}
    shown = sorted(n for n in wanted if 1 <= n <= pages)
    numbers: list[int | None] = []
    for n in shown:
        if numbers and n - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(n)
    return numbers
