"""Admin pages for broadcast sessions (schedule, edit, start, end) and for the lists the
moderators work with (blocked terms, decline reason templates)."""

from __future__ import annotations

import datetime as dt
import functools

from aiohttp import web

from clips.replays import STATE_LABELS as REPLAY_LABELS
from clips.replays import ReplayError
from live import simulcast
from live.recordings import INGEST_LABELS, rtmp_push_address
from live.sessions import (
    MAX_SOURCE,
    SOURCE_KINDS,
    STATUS_LABELS,
    SessionError,
    SessionForm,
    source_kind,
    stream_key,
)
from live.simulcast_push import SIMULCAST_LABELS, PushHealth
from moderation import lists as moderator_lists
from store.records import HOSTS, LiveSession, StaffUser
from web import keys
from web.admin import actor
from web.render import render

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def parse_local(value: str, zone: dt.tzinfo) -> float:
    """A ``datetime-local`` value, read in the desk's time zone, to epoch seconds (0 when
    empty)."""
    value = value.strip()
    if not value:
        return 0.0
    try:
        moment = dt.datetime.strptime(value[:16], LOCAL_FORMAT).replace(tzinfo=zone)
    except ValueError:
        raise SessionError("时间格式不正确。") from None
    return moment.timestamp()


def format_local(epoch: float, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(epoch, zone).strftime(LOCAL_FORMAT) if epoch else ""


async def _form(request: web.Request) -> SessionForm:
    data = await request.post()
    zone = request.app[keys.SETTINGS].zone
    return SessionForm(
        title=str(data.get("title", ""))[:200],
        description=str(data.get("description", ""))[:2000],
        scheduled_start=parse_local(str(data.get("scheduled_start", "")), zone),
        scheduled_end=parse_local(str(data.get("scheduled_end", "")), zone),
        host_ids=tuple(str(v)[:64] for v in data.getall("host_ids", [])[:10]),
        presenter=str(data.get("presenter", ""))[:100],
        source_kind=str(data.get("source_kind", ""))[:10],
        # One past the limit, so that a longer value is refused rather than cut.
        source_url=str(data.get("source_url", ""))[:MAX_SOURCE + 1],
        source_path=str(data.get("source_path", ""))[:MAX_SOURCE + 1],
        new_key=data.get("new_key") == "1",
    )


async def _hosts(request: web.Request) -> list[StaffUser]:
    return await request.app[keys.STORE].find(
        StaffUser, {"role": sorted(HOSTS), "disabled": False}, order_by=["name"])


async def sessions_list(request: web.Request, *, error: str = "",
                        status: int = 200) -> web.Response:
    sessions = request.app[keys.SESSIONS]
    groups = await sessions.listing()
    figures = {b.id: await sessions.figures(b.id) for group in groups.values() for b in group}
    replays = request.app[keys.REPLAYS]
    return render(request, "admin/sessions.html", status=status, groups=groups,
                  figures=figures, replay_states={
                      b.id: replays.state(b) for b in groups["past"]},
                  replay_labels=REPLAY_LABELS, hosts=await _hosts(request), error=error,
                  status_labels=STATUS_LABELS, format_local=functools.partial(
                      format_local, zone=request.app[keys.SETTINGS].zone),
                  source_kinds=SOURCE_KINDS, source_kind=source_kind)


async def session_create(request: web.Request) -> web.Response:
    try:
        created = await request.app[keys.SESSIONS].create(await _form(request),
                                                          actor=actor(request))
    except SessionError as exc:
        return await sessions_list(request, error=str(exc), status=400)
    raise web.HTTPSeeOther(f"/admin/sessions/{created.id}?msg=saved")


async def session_detail(request: web.Request, *, error: str = "",
                         status: int = 200) -> web.Response:
    session = await request.app[keys.STORE].get(LiveSession, request.match_info["session_id"])
    figures = await request.app[keys.SESSIONS].figures(session.id)
    recordings = request.app[keys.RECORDINGS]
    return render(request, "admin/session.html", status=status, session=session,
                  figures=figures, hosts=await _hosts(request), error=error,
                  status_labels=STATUS_LABELS, format_local=functools.partial(
                      format_local, zone=request.app[keys.SETTINGS].zone),
                  counts=await request.app[keys.VIEWER_COUNTS].counts(session.id),
                  source_kinds=SOURCE_KINDS, source_kind=source_kind,
                  video=recordings.enabled, ingest=recordings.view(session.id),
                  ingest_labels=INGEST_LABELS,
                  push_address=rtmp_push_address(request.app[keys.SETTINGS]),
                  stream_key=stream_key(session.source),
                  replay_state=request.app[keys.REPLAYS].state(session),
                  replay_labels=REPLAY_LABELS,
                  retention_days=request.app[keys.SETTINGS].replays.retention_days,
                  **await _simulcast_view(request, session.id))


async def _simulcast_view(request: web.Request, session_id: str) -> dict[str, object]:
    """The session's simulcast destinations (masked keys) and their health, if pushing."""
    pushes = request.app[keys.SIMULCASTS]
    targets = [{**simulcast.target_view(t, pushes.keys),
                **(pushes.health(session_id, t.id) or PushHealth()).as_dict()}
               for t in await simulcast.targets(request.app[keys.STORE], session_id)]
    return {"simulcast_targets": targets, "simulcast_labels": SIMULCAST_LABELS,
            "simulcast_max": simulcast.MAX_TARGETS}


async def _simulcast_update(request: web.Request, session_id: str, action: str) -> None:
    data = await request.post()
    store, audit = request.app[keys.STORE], request.app[keys.SESSIONS].audit
    stream_keys = request.app[keys.SIMULCASTS].keys
    target_key = str(data.get("target_key", ""))[:simulcast.MAX_KEY + 1]
    target_id = str(data.get("target_id", ""))[:64]
    if action == "add_target":
        form = simulcast.TargetForm(str(data.get("target_name", ""))[:200],
                                    str(data.get("target_url", ""))[:simulcast.MAX_URL + 1],
                                    target_key)
        await simulcast.add_target(store, audit, session_id, form, keys=stream_keys,
                                   actor=actor(request))
    elif action == "replace_key":
        await simulcast.replace_key(store, audit, session_id, target_id, target_key,
                                    keys=stream_keys, actor=actor(request))
    else:
        await simulcast.remove_target(store, audit, session_id, target_id, keys=stream_keys,
                                      actor=actor(request))
    request.app[keys.SIMULCASTS].targets_changed(session_id)


async def session_update(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    sessions = request.app[keys.SESSIONS]
    data = await request.post()
    action = str(data.get("action", "edit"))
    try:
        if action == "start":
            await sessions.start(session_id, actor=actor(request))
        elif action == "end":
            await sessions.end(session_id, actor=actor(request))
        elif action in ("publish_replay", "unpublish_replay"):
            await request.app[keys.REPLAYS].set_published(
                session_id, action == "publish_replay", actor=actor(request))
        elif action == "edit":
            await sessions.edit(session_id, await _form(request), actor=actor(request))
        elif action in ("add_target", "remove_target", "replace_key"):
            await _simulcast_update(request, session_id, action)
        else:
            raise web.HTTPBadRequest(text="未知操作")
    except (SessionError, ReplayError, simulcast.SimulcastError) as exc:
        return await session_detail(request, error=str(exc), status=400)
    notice = {"start": "started", "end": "ended", "publish_replay": "replay_published",
              "unpublish_replay": "replay_unpublished"}.get(action, "saved")
    raise web.HTTPSeeOther(f"/admin/sessions/{session_id}?msg={notice}")


async def lists_page(request: web.Request, *, error: str = "",
                     status: int = 200) -> web.Response:
    terms, templates = await moderator_lists.lists(request.app[keys.MODERATION])
    return render(request, "admin/lists.html", status=status, terms=terms,
                  reasons=[t for t in templates if t.kind != "reply"],
                  replies=[t for t in templates if t.kind == "reply"], error=error)


async def lists_update(request: web.Request) -> web.Response:
    moderation = request.app[keys.MODERATION]
    data = await request.post()
    action = str(data.get("action", ""))
    who = actor(request)
    try:
        if action == "add_term":
            await moderator_lists.add_term(moderation, str(data.get("term", ""))[:200],
                                           str(data.get("rule", ""))[:10], who)
        elif action == "delete_term":
            await moderator_lists.delete_term(moderation, str(data.get("id", ""))[:64], who)
        elif action == "add_reason":
            await moderator_lists.add_reason(moderation, str(data.get("text", ""))[:1000], who,
                                             str(data.get("kind", "decline"))[:10])
        elif action == "delete_reason":
            await moderator_lists.delete_reason(moderation, str(data.get("id", ""))[:64], who)
        else:
            raise web.HTTPBadRequest(text="未知操作")
    except moderator_lists.ListError as exc:
        return await lists_page(request, error=str(exc), status=400)
    raise web.HTTPSeeOther("/admin/lists?msg=saved")
