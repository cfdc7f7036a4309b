"""Typed application keys: everything the handlers reach through ``request.app``."""

from __future__ import annotations

import jinja2
from aiohttp import web

from clips.library import ClipLibrary
from clips.replay_retention import RecordingRetention
from clips.replays import Replays
from clips.review import ClipReview
from clips.search_sync import SearchSync
from live.broker import Broker
from live.browser_ingest import PhoneFeeds
from live.eventlog import EventLog
from live.hub import Hub
from live.media_store import MediaStore
from live.recordings import Recordings
from live.redis_link import Redis
from live.relay import Relay
from live.sessions import Sessions
from live.simulcast_push import Simulcasts
from live.viewer_counts import ViewerCounts
from live.viewer_samples import ViewerSampler
from moderation.logins import ActiveLogin, Logins
from moderation.service import Moderation
from moderation.staff import StaffAccounts
from moderation.understander import Understander
from settings import Settings
from store.base import Store
from web.caps import Caps
from web.drain import Drain

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", StaffAccounts)
LOGINS = web.AppKey("logins", Logins)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SECRET_KEY = web.AppKey("secret_key", bytes)
HUB = web.AppKey("hub", Hub)
# How events reach the hubs (live.broker), and what producers append them with.
BROKER = web.AppKey("broker", Broker)
EVENTLOG = web.AppKey("eventlog", EventLog)
# A clustered node's relay candidate (live.relay); read with ``app.get(keys.RELAY)``.
RELAY = web.AppKey("relay", Relay)
MODERATION = web.AppKey("moderation", Moderation)
SESSIONS = web.AppKey("sessions", Sessions)
UNDERSTANDER = web.AppKey("understander", Understander)
RECORDINGS = web.AppKey("recordings", Recordings)
# Phones' camera streams on their way to the recorders (live.browser_ingest; web.phone_pages).
PHONES = web.AppKey("phones", PhoneFeeds)
LIBRARY = web.AppKey("library", ClipLibrary)
CAPS = web.AppKey("caps", Caps)
NODE_ID = web.AppKey("node_id", str)
# Set only on a clustered node ([cluster] redis_url); read with ``app.get(keys.REDIS)``.
REDIS = web.AppKey("redis", Redis)
REVIEW = web.AppKey("review", ClipReview)
# Recordings and clips ([media] storage): a directory or an S3 bucket.
MEDIA = web.AppKey("media", MediaStore)
# Viewers and staff watching a session, over every node (live.viewer_counts).
VIEWER_COUNTS = web.AppKey("viewer_counts", ViewerCounts)
# Set at start; ``web.drain.drain`` marks it on SIGTERM and /healthz reports it.
DRAIN = web.AppKey("drain", Drain)
# Keeps this node's search index current; ``poke()`` on a clip event from another node.
SEARCH_SYNC = web.AppKey("search_sync", SearchSync)
# Which roles may use each route: None for public routes. Filled by web.routes.
ROUTE_ROLES = web.AppKey("route_roles", dict[object, frozenset[str] | None])
VIEWER_SAMPLER = web.AppKey("viewer_sampler", ViewerSampler)
# Replays of ended sessions and the retention of their recordings ([replays]).
REPLAYS = web.AppKey("replays", Replays)
RETENTION = web.AppKey("retention", RecordingRetention)
# The simulcast pushes of the sessions this node records (live.simulcast_push).
SIMULCASTS = web.AppKey("simulcasts", Simulcasts)

# Per-request storage.
LOGIN = web.RequestKey("login", ActiveLogin)  # absent for anonymous requests
CSRF_TOKEN = web.RequestKey("csrf_token", str)
