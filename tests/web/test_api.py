"""The library's JSON API: search with highlights, one clip, the catalog, bad parameters as
400 problem details, drafts as 404, views counted once per viewer per clip per day, and the OpenAPI
document — valid, equal to the routes both ways, and describing the real answers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from store.records import Clip
from tests.support import Site, staff_csrf
from tests.web.clip_seed import DAY, add_clip, add_relevance_library, reindex
from web import keys
from web.routes import ROUTES


async def get_json(site: Site, url: str, status: int = 200) -> Any:
    response = await site.first.get(url)
    assert response.status == status, await response.text()
    # Errors are RFC 9457 problem details.
    kind = "application/json" if status < 400 else "application/problem+json"
    assert response.content_type == kind
    return await response.json(content_type=kind)


async def openapi(site: Site) -> dict[str, Any]:
    document: dict[str, Any] = await get_json(site, "/api/openapi.json")
    return document


def check_schema(document: dict[str, Any], name: str, instance: Any) -> None:
    """Validate an answer against one of the document's component schemas."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER
                         ).validate(instance)


@pytest.fixture
async def library(site: Site) -> list[Clip]:
    clips = await add_relevance_library(site.app)
    await reindex(site.app)
    return clips


# --- the OpenAPI document ----------------------------------------------------------------------


async def test_openapi_paths_are_exactly_the_api_routes(site: Site) -> None:
    document = await openapi(site)
    documented = {(path, method.upper()) for path, operations in document["paths"].items()
                  for method in operations}
    routed = {(route.path, route.method) for route in ROUTES if route.path.startswith("/api/")}
    assert documented - routed == set(), "documented but not routed"
    assert routed - documented == set(), "routed but not documented"


async def test_openapi_document_is_valid_openapi_3_1(site: Site) -> None:
    document = await openapi(site)
    assert document["openapi"].startswith("3.1.")
    validate_openapi(document)
    # Every path parameter of every route is declared.
    for path, operations in document["paths"].items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{([^}]+)\}", path)), path


async def test_openapi_states_the_enforced_limits(site: Site) -> None:
    document = await openapi(site)
    params = {p["name"]: p["schema"] for p in document["paths"]["/api/clips"]["get"]["parameters"]}
    page, per_page = (params[name]["anyOf"][0] for name in ("page", "per_page"))
    assert page["maximum"] == 10_000 and per_page["maximum"] == 100
    assert params["page"]["anyOf"][1] == {"type": "string", "enum": [""]}  # empty: default
    assert params["sort"]["enum"] == ["", "relevance", "newest", "popular"]
    assert params["category"]["enum"] == ["", "机动车", "驾驶证", "电动自行车", "线上办"]
    catalog = site.app[keys.LIBRARY].catalog
    assert params["item"]["enum"] == ["", *(item.id for item in catalog.items)]
    # The limits stated are the limits enforced.
    await get_json(site, "/api/clips?page=10000")
    await get_json(site, "/api/clips?page=10001", status=400)
    await get_json(site, "/api/clips?per_page=100")
    await get_json(site, "/api/clips?per_page=101", status=400)
    # What the document does not list is refused: padded or signed numbers, padded filters.
    for query in ("page=01", "page=+1", "page=%201", "category=%20机动车", "sort=newest%20",
                  "item=nope"):
        await get_json(site, f"/api/clips?{query}", status=400)
    await get_json(site, "/api/clips?page=&per_page=&category=&item=&sort=")


# --- search -----------------------------------------------------------------------------------


async def test_search_returns_hits_with_highlight_pieces(site: Site, library: list[Clip]) -> None:
    document = await openapi(site)
    body = await get_json(site, "/api/clips?q=" + quote("驾照快到期了在哪里换"))
    check_schema(document, "SearchPage", body)
    assert body["total"] >= 1 and body["query"]["sort"] == "relevance"
    first = body["hits"][0]
    assert first["item"]["id"] == "license-renewal"
    pieces = first["highlights"]["title"]
    assert "".join(p["text"] for p in pieces) == first["title"]
    assert any(p["match"] for hit in body["hits"] for p in hit["highlights"]["question"])
    origin = f"http://127.0.0.1:{site.first.server.port}"
    assert first["url"] == f"{origin}/clips/{first['id']}"
    assert first["poster_url"] == f"{origin}/media/clips/{first['id']}/g1.jpg"


async def test_browse_filters_sort_and_pages(site: Site, library: list[Clip]) -> None:
    body = await get_json(site, "/api/clips?category=" + quote("电动自行车") + "&per_page=5")
    assert body["per_page"] == 5 and len(body["hits"]) == 5
    assert {hit["category"] for hit in body["hits"]} == {"电动自行车"}
    assert body["pages"] == -(-body["total"] // 5)
    dates = [hit["published_at"] for hit in body["hits"]]
    assert dates == sorted(dates, reverse=True)  # newest first without a query

    body = await get_json(site, "/api/clips?sort=popular&per_page=3")
    assert [hit["views"] for hit in body["hits"]] == sorted(
        (c.views for c in library), reverse=True)[:3]

    body = await get_json(site, "/api/clips?item=license-renewal&page=2&per_page=2")
    assert body["page"] == 2 and body["query"]["category"] == "驾驶证"
    assert {hit["item"]["id"] for hit in body["hits"]} == {"license-renewal"}


async def test_no_result_carries_suggestions(site: Site, library: list[Clip]) -> None:
    document = await openapi(site)
    body = await get_json(site, "/api/clips?q=" + quote("驾照到期") + "&category="
                          + quote("电动自行车"))
    check_schema(document, "SearchPage", body)
    assert body["total"] == 0 and body["hits"] == []
    items = body["suggestions"]["items"]
    assert items[0]["id"] == "license-renewal" and items[0]["clips"]


async def test_corrections_and_truncation_are_reported(site: Site, library: list[Clip]) -> None:
    body = await get_json(site, "/api/clips?q=" + quote("驾找到期"))
    assert body["corrections"] and body["corrections"][0]["typed"] == "驾找到期"
    body = await get_json(site, "/api/clips?q=" + quote("驾照" * 80))
    assert body["truncated"] is True and len(body["query"]["q"]) == 100


@pytest.mark.parametrize(("params", "parameter"), [
    ("q=a&q=b", "q"), ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"),
    ("page=99999999999999", "page"), ("per_page=0", "per_page"), ("per_page=1e2", "per_page"),
    ("category=" + quote("火星"), "category"), ("item=nope", "item"),
    ("item=" + quote('{"$ne": ""}'), "item"), ("sort=views", "sort"), ("sort=a&sort=b", "sort"),
])
async def test_bad_parameters_are_400_json_naming_the_parameter(
    site: Site, params: str, parameter: str
) -> None:
    document = await openapi(site)
    body = await get_json(site, f"/api/clips?{params}", status=400)
    check_schema(document, "Problem", body)
    assert body["code"] == "bad_parameter" and body["status"] == 400
    assert body["parameter"] == parameter and body["detail"] and body["title"]


@pytest.mark.parametrize("params", [
    "q=" + quote('"a" OR b*'), "q=" + quote('{"$gt": ""}'), "q%5B%24ne%5D=x", "q=%00",
    "q=" + quote("！！！"), "page=10000",
])
async def test_hostile_text_is_plain_text(site: Site, library: list[Clip], params: str) -> None:
    document = await openapi(site)
    body = await get_json(site, f"/api/clips?{params}")
    check_schema(document, "SearchPage", body)


# --- one clip, the catalog -------------------------------------------------------------------


async def test_clip_detail_has_media_service_and_related(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证", question="去哪换？",
                          summary="网上办。")
    other = await add_clip(site.app, "license-renewal", "换证要体检吗")
    await reindex(site.app)
    document = await openapi(site)
    body = await get_json(site, f"/api/clips/{clip.id}")
    check_schema(document, "ClipDetail", body)
    origin = f"http://127.0.0.1:{site.first.server.port}"
    assert body["video_url"] == f"{origin}/media/clips/{clip.id}/g1.mp4"
    assert body["captions_url"] == f"{origin}/media/clips/{clip.id}/g1.vtt"
    assert body["service"] == {
        "kind": "online", "item_name": "驾驶证有效期满换证", "channel": "交管12123",
        "url": "https://zj.122.gov.cn/", "opens_app": False, "app": "交管12123",
        "portal": None, "guide": None, "guide_url": None}
    assert [c["id"] for c in body["related"]] == [other.id]


async def test_counter_only_item_has_guidance_in_the_api(site: Site) -> None:
    clip = await add_clip(site.app, "used-car-transfer", "过户")
    body = await get_json(site, f"/api/clips/{clip.id}")
    assert body["service"]["kind"] == "window" and body["service"]["url"] is None
    assert body["service"]["guide"].startswith("二手车买卖")


@pytest.mark.parametrize("state", ["draft", "unpublished", "pending", "failed"])
async def test_unpublished_clips_are_404_in_the_api(site: Site, state: str) -> None:
    clip = await add_clip(site.app, "license-renewal", "不公开", state=state)
    document = await openapi(site)
    body = await get_json(site, f"/api/clips/{clip.id}", status=404)
    check_schema(document, "Problem", body)
    assert body["code"] == "not_found"
    await get_json(site, "/api/clips/" + quote("no such clip"), status=404)


async def test_catalog_lists_public_fields_only(site: Site) -> None:
    document = await openapi(site)
    body = await get_json(site, "/api/catalog")
    check_schema(document, "Catalog", body)
    assert [c["name"] for c in body["categories"]] == ["机动车", "驾驶证", "电动自行车", "线上办"]
    items = [item for c in body["categories"] for item in c["items"]]
    assert len(items) == len(site.app[keys.LIBRARY].catalog.items)
    for item in items:
        assert set(item) == {"id", "name", "description", "service"}
    text = str(body)
    notes = [i.verify for i in site.app[keys.LIBRARY].catalog.items if i.verify]
    assert notes and not any(note in text for note in notes)  # the admins' link notes


# --- views -------------------------------------------------------------------------------------


async def view_token(client: Any, clip_id: str) -> str:
    """Open the clip page as a browser would: cookies set, the page's CSRF token."""
    response = await client.get(f"/clips/{clip_id}")
    assert response.status == 200
    match = re.search(r'data-csrf="([^"]+)"', await response.text())
    assert match
    return match.group(1)


async def count_view(client: Any, clip_id: str, token: str, status: int = 200) -> Any:
    response = await client.post(f"/api/clips/{clip_id}/view",
                                 headers={"X-CSRF-Token": token})
    assert response.status == status, await response.text()
    return await response.json() if status == 200 else None


async def test_a_view_counts_once_per_viewer_per_clip_per_day(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    other_clip = await add_clip(site.app, "license-renewal", "换证要体检吗")
    await reindex(site.app)
    first = await site.new_client()
    token = await view_token(first, clip.id)
    assert await count_view(first, clip.id, token) == {"counted": True, "views": 1}
    assert await count_view(first, clip.id, token) == {"counted": False, "views": 1}
    assert (await count_view(first, other_clip.id, token))["views"] == 1  # per clip

    second = await site.new_client()
    assert await count_view(second, clip.id, await view_token(second, clip.id)) == {
        "counted": True, "views": 2}

    # The next day (Beijing time) the first viewer counts again.
    library = site.app[keys.LIBRARY]
    now = library.clock()
    library.clock = lambda: now + DAY
    assert await count_view(first, clip.id, token) == {"counted": True, "views": 3}

    # The count reaches the page, the API and the index's most-watched order.
    body = await get_json(site, f"/api/clips/{clip.id}")
    assert body["views"] == 3
    hits = (await get_json(site, "/api/clips?sort=popular"))["hits"]
    assert [h["id"] for h in hits] == [clip.id, other_clip.id]


async def test_a_logged_in_staff_member_counts_with_the_login_token(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    await site.add_user("mod", "moderator")
    client = await site.login("mod")
    token = await view_token(client, clip.id)
    assert token == await staff_csrf(client)
    assert (await count_view(client, clip.id, token))["counted"] is True


async def test_view_needs_a_token_and_our_origin(site: Site) -> None:
    clip = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    client = await site.new_client()
    token = await view_token(client, clip.id)
    await count_view(client, clip.id, "", status=403)
    await count_view(client, clip.id, "x" * 43, status=403)
    response = await client.post(f"/api/clips/{clip.id}/view", headers={
        "X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert response.status == 403
    fresh = await site.new_client()  # no cookie to match the token
    await count_view(fresh, clip.id, token, status=403)
    assert (await site.app[keys.STORE].get(Clip, clip.id)).views == 0


async def test_views_of_unpublished_clips_are_not_counted(site: Site) -> None:
    published = await add_clip(site.app, "license-renewal", "驾驶证到期换证")
    draft = await add_clip(site.app, "license-renewal", "草稿", state="draft")
    client = await site.new_client()
    token = await view_token(client, published.id)
    response = await client.post(f"/api/clips/{draft.id}/view",
                                 headers={"X-CSRF-Token": token})
    assert response.status == 404
    assert (await response.json(content_type=None))["code"] == "not_found"
    assert (await site.app[keys.STORE].get(Clip, draft.id)).views == 0
