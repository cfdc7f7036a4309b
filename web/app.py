"""The composition root: ``create_app(settings)`` builds the whole application.

Each long-lived resource owns its lifetime in one cleanup context, so start-up and shut-down
order reads top to bottom here. Nothing else constructs stores, clients or workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from clips.library import ClipLibrary
from clips.replay_retention import RecordingRetention
from clips.replays import Replays
from clips.review import ClipReview
from clips.search_sync import SearchSync
from clips.worker import ClipWorker, node_name
from live.broker import Broker, LocalBroker
from live.browser_ingest import PhoneFeeds
from live.eventlog import EventLog
from live.ffmpeg import FFmpegNotFound, find_ffmpeg
from live.hub import Hub
from live.media_store import make_media_store
from live.outbox_trim import OutboxTrim
from live.recordings import make_recordings, rtmp_listen_base
from live.redis_broker import RedisBroker
from live.redis_link import node_id, open_redis
from live.relay import Relay
from live.sessions import Sessions
from live.simulcast_keys import seal_plaintext
from live.simulcast_push import make_simulcasts
from live.viewer_counts import LocalViewerCounts, RedisViewerCounts
from live.viewer_samples import ViewerSampler
from moderation import data_files
from moderation.board_sync import StoreBoardSync
from moderation.logins import Logins, LoginThrottle
from moderation.redis_limits import RedisAskLimits, RedisWindow
from moderation.redis_logins import RedisLoginThrottle
from moderation.service import Limits, Moderation
from moderation.staff import StaffAccounts
from moderation.vocabulary import Vocabulary
from settings import Settings, ensure_secret_key
from store import make_store
from store.aggregates import rollup_offset
from web import keys
from web.answers import understanding
from web.auth import authenticate
from web.caps import Caps
from web.drain import Drain
from web.errors import edge_middleware
from web.render import make_templates
from web.routes import setup_routes
from web.security import add_security_headers, check_request, warn_without_public_url

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        # Errors answered in one shape around two guards: the login and roles, then Host,
        # Origin and CSRF (one middleware: web.errors.edge_middleware says why).
        middlewares=[edge_middleware(authenticate, check_request)],
        client_max_size=settings.server.max_request_kib * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.TEMPLATES] = make_templates(settings.zone)
    app[keys.ROUTE_ROLES] = {}
    app[keys.CAPS] = Caps(settings.live)
    app[keys.DRAIN] = Drain()  # SIGTERM: /healthz says 503 draining (web.server.drain)
    app[keys.PHONES] = PhoneFeeds()  # phones' camera streams (web.phone_pages)
    setup_routes(app)
    app.on_response_prepare.append(add_security_headers)
    app.on_startup.append(_check_public_url)
    app.cleanup_ctx.append(_secret_key)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(_live)
    app.cleanup_ctx.append(_shared_state)
    app.cleanup_ctx.append(_viewer_samples)
    app.cleanup_ctx.append(_recording)
    app.cleanup_ctx.append(_simulcast)
    app.cleanup_ctx.append(_clips)
    app.cleanup_ctx.append(_replays)
    app.cleanup_ctx.append(understanding)
    app.on_shutdown.append(_close_sockets)
    return app


async def _check_public_url(app: web.Application) -> None:
    warn_without_public_url(app[keys.SETTINGS])


async def _close_sockets(app: web.Application) -> None:
    """Tell every websocket client to come back later (1001) before the server stops
    waiting for handlers; clients resume from their cursor once it is back. Each socket's
    handler sends the Close and gives the client a bounded time to answer
    (``web.ws.SHUTDOWN_CLOSE_TIMEOUT``) before cutting it off."""
    app[keys.HUB].drop_all("server_shutdown")


async def _secret_key(app: web.Application) -> AsyncIterator[None]:
    app[keys.SECRET_KEY] = ensure_secret_key(app[keys.SETTINGS])
    yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """A clustered node's Redis client ([cluster] redis_url); absent on a single process."""
    settings = app[keys.SETTINGS]
    app[keys.NODE_ID] = node_id(settings.cluster, settings.server)
    if not settings.cluster.enabled:
        yield
        return
    client = open_redis(settings.cluster.redis_url.reveal())
    app[keys.REDIS] = client
    try:
        yield
    finally:
        await client.aclose()


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    store = make_store(settings)
    await store.open()
    app[keys.STORE] = store
    # The desk's days follow [server] time_zone: rollups recount if its offset changed.
    if await store.use_rollup_offset(rollup_offset(settings.zone, time.time())):
        log.info("desk rollups recounted in %s days", settings.server.time_zone)
    security = settings.security
    throttle = LoginThrottle(security.login_max_failures, security.login_lockout_seconds)
    app[keys.ACCOUNTS] = StaffAccounts(store, throttle)
    app[keys.LOGINS] = Logins(store, idle_seconds=security.session_idle_minutes * 60,
                              max_seconds=security.session_max_hours * 3600)
    # Expired logins are deleted when presented; those never presented again go here.
    await app[keys.LOGINS].purge_expired()
    try:
        yield
    finally:
        await store.close()


async def _media(app: web.Application) -> AsyncIterator[None]:
    """Where recordings and clips are kept ([media] storage): media_dir or an S3 bucket."""
    media = make_media_store(app[keys.SETTINGS])
    await media.open()
    app[keys.MEDIA] = media
    try:
        yield
    finally:
        await media.close()


async def _live(app: web.Application) -> AsyncIterator[None]:
    """The hub and its broker, the moderation service and broadcast sessions; sockets close
    first. One process delivers events straight to its hub (LocalBroker); a clustered node
    (``app.get(keys.REDIS)``) through Redis, and runs a relay candidate (live.relay)."""
    live = app[keys.SETTINGS].live
    store = app[keys.STORE]
    hub = Hub(buffer_size=live.resume_buffer_events, queue_size=live.send_queue_frames)
    redis = app.get(keys.REDIS)
    relay: Relay | None = None
    broker: Broker
    if redis is None:
        broker = LocalBroker(hub, store)
    else:
        broker = RedisBroker(redis, hub, store, stream_max=live.resume_buffer_events)
        relay = app[keys.RELAY] = Relay(redis, store, broker, app[keys.NODE_ID])
    hub.history = broker
    eventlog = EventLog(store, broker)
    app[keys.BROKER] = broker
    app[keys.EVENTLOG] = eventlog
    catalog = await data_files.load_catalog(app[keys.STORE])
    moderation = Moderation(app[keys.STORE], eventlog, catalog, Limits.of(live))
    # One word list for suggestions, duplicate hints (here) and search (the clip library).
    moderation.set_vocabulary(Vocabulary(await data_files.load_word_list(app[keys.STORE])))
    await moderation.start()
    app[keys.HUB] = hub
    app[keys.MODERATION] = moderation
    app[keys.SESSIONS] = Sessions(app[keys.STORE], moderation.session_changed,
                                  audit=moderation.audit,
                                  rtmp_listen=rtmp_listen_base(app[keys.SETTINGS].media),
                                  on_end=moderation.session_ending)
    app[keys.ACCOUNTS].on_revoke.append(lambda user_id: hub.drop_user(user_id, "logged_out"))
    await broker.start()
    if relay is not None:
        await relay.start()
    try:
        yield
    finally:
        if relay is not None:
            await relay.stop()
        await eventlog.drain()
        await broker.close()
        await hub.close()


async def _shared_state(app: web.Application) -> AsyncIterator[None]:
    """Live state several nodes share. One process: everything stays in its memory. A
    cluster: asking limits, the session question rate and the sign-in throttle in Redis
    (atomic scripts), boards and restrictions reread from the store when they may be stale,
    and viewer counts summed over the nodes (docs/architecture.md)."""
    redis = app.get(keys.REDIS)
    hub = app[keys.HUB]
    if redis is None:
        app[keys.VIEWER_COUNTS] = LocalViewerCounts(hub)
        yield
        return
    settings = app[keys.SETTINGS]
    live, security = settings.live, settings.security
    moderation = app[keys.MODERATION]
    moderation.ask_limits = RedisAskLimits(redis, live.viewer_questions_per_minute,
                                           live.address_questions_per_minute)
    moderation.sync = StoreBoardSync()
    app[keys.CAPS].use_shared_rate(RedisWindow(
        redis, "session", max(live.session_questions_per_minute, 1), 60.0))
    app[keys.ACCOUNTS].throttle = RedisLoginThrottle(redis, security.login_max_failures,
                                                     security.login_lockout_seconds)
    counts = RedisViewerCounts(redis, hub, app[keys.NODE_ID])
    app[keys.VIEWER_COUNTS] = counts
    counts.start()
    try:
        yield
    finally:
        await counts.stop()


async def _viewer_samples(app: web.Application) -> AsyncIterator[None]:
    """Viewer counts of live sessions, stored once a minute for the desk's figures."""
    counts = app[keys.VIEWER_COUNTS]  # over every node of a cluster

    async def viewers(session_id: str) -> int:
        return (await counts.counts(session_id))["viewers"]

    sampler = app[keys.VIEWER_SAMPLER] = ViewerSampler(app[keys.STORE], viewers)
    task = asyncio.create_task(sampler.run(), name="viewer-samples")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _clips(app: web.Application) -> AsyncIterator[None]:
    """The public clip library (with its search index), the review lifecycle (drafts, review,
    publishing) and the worker that cuts clips."""
    settings = app[keys.SETTINGS]
    store = app[keys.STORE]
    words = app[keys.MODERATION].vocabulary.words
    library = ClipLibrary(store, app[keys.MODERATION].catalog, words,
                          index_path=settings.data_dir / "search.sqlite3", zone=settings.zone)
    await library.open()
    # Clips published or unpublished through other nodes reach this node's index within
    # seconds (clips.search_sync); a single process finds nothing to do.
    search_sync = SearchSync(library, store)
    await search_sync.start()
    app[keys.SEARCH_SYNC] = search_sync
    app[keys.HUB].listeners.append(search_sync.on_event)  # a clip event: sync now
    review = ClipReview(store, app[keys.EVENTLOG], library, media_dir=settings.media_dir,
                        media=settings.media, media_store=app[keys.MEDIA])
    app[keys.LIBRARY] = library
    app[keys.REVIEW] = review
    app[keys.MODERATION].on_answered.append(review.answered)
    review.on_visibility.append(app[keys.MODERATION].clip_changed)
    worker: ClipWorker | None = None
    if settings.media.clip_workers == 0:  # `run.py worker` processes cut the clips
        log.info("[media] clip_workers = 0: this server cuts no clips itself")
    else:
        try:
            ffmpeg = find_ffmpeg(settings.media.ffmpeg)
        except FFmpegNotFound as exc:
            log.warning("clips will not be cut: %s", exc)
        else:
            worker = ClipWorker(store, review, ffmpeg=ffmpeg, media=settings.media,
                                name=node_name(settings.data_dir))
            await worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await worker.stop()
        await search_sync.stop()
        await library.close()


async def _replays(app: web.Application) -> AsyncIterator[None]:
    """Replays of ended sessions ([replays] publish) and the retention of recordings
    ([replays] retention_days), swept from the viewer sampler's minute tick."""
    settings = app[keys.SETTINGS]
    audit = app[keys.MODERATION].audit
    app[keys.REPLAYS] = Replays(app[keys.STORE], app[keys.MEDIA],
                                publish=settings.replays.publish, audit=audit)
    retention = app[keys.RETENTION] = RecordingRetention(
        app[keys.STORE], app[keys.MEDIA], days=settings.replays.retention_days, audit=audit,
        spool=settings.media_dir if app[keys.MEDIA].kind != "local" else None)
    # The event outbox is trimmed on the same tick ([live] event_history_days).
    outbox = OutboxTrim(app[keys.STORE], settings.live.event_history_days)
    ticks = app[keys.VIEWER_SAMPLER].ticks
    ticks.extend((retention.tick, outbox.tick))
    yield
    ticks.remove(retention.tick)
    ticks.remove(outbox.tick)


async def _recording(app: web.Application) -> AsyncIterator[None]:
    """One recorder per live session ([media] record): sessions that go live are recorded,
    those that end are finalized, those left live by a restart resume; all stop here."""
    recordings = make_recordings(app[keys.SETTINGS], app[keys.STORE],
                                 app[keys.EVENTLOG].emit_later, app[keys.MEDIA],
                                 node=app[keys.NODE_ID], phones=app[keys.PHONES])
    app[keys.RECORDINGS] = recordings
    listeners = app[keys.SESSIONS].listeners
    listeners.append(recordings.session_changed)
    await recordings.resume()
    recordings.watch()  # leases renewed; sessions of other nodes (and dead ones) followed
    try:
        yield
    finally:
        listeners.remove(recordings.session_changed)
        await recordings.close()


async def _simulcast(app: web.Application) -> AsyncIterator[None]:
    """The sessions this node records are pushed to their simulcast destinations; the
    pushes stop before the recorders do."""
    recordings = app[keys.RECORDINGS]
    simulcasts = make_simulcasts(app[keys.SETTINGS], app[keys.STORE],
                                 app[keys.EVENTLOG].emit_later, recordings.recording,
                                 signing_key=app[keys.SECRET_KEY])
    app[keys.SIMULCASTS] = simulcasts
    # Stream keys stored as given before they were encrypted (migration 0016) are sealed.
    await seal_plaintext(app[keys.STORE], simulcasts.keys)
    simulcasts.watch()
    try:
        yield
    finally:
        await simulcasts.close()
