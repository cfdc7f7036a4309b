"""Command line: ``serve`` (default), ``worker``, ``adduser`` and ``check``.

This module only parses arguments, loads settings and starts things; the application itself
is built by ``web.app.create_app``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import cast

from settings import Settings, SettingsError, load_settings, mask_uri
from store import StoreError, make_store

log = logging.getLogger("tippocket")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Tip Pocket server")
    parser.add_argument("--settings", type=Path, default=None,
                        help="settings file (default: settings.toml beside run.py)")
    parser.add_argument("--data-dir", default=None, help="override [server] data_dir")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--host", default=None, help="override [server] host")
    serve.add_argument("--port", type=int, default=None, help="override [server] port")
    worker = commands.add_parser("worker", help="cut clips: run leased clip jobs from the "
                                 "store (any number of these, on any node)")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="clips cut at once (default: [media] clip_workers, at least 1)")
    worker.add_argument("--poll-seconds", type=float, default=2.0,
                        help="seconds between looks for new jobs (default 2)")
    add = commands.add_parser("adduser", help="create a staff account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["admin", "moderator", "host"])
    add.add_argument("--display-name", default="")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    source.add_argument("--password-file", type=Path, default=None,
                        help="read the password from the first line of this file")
    commands.add_parser("check", help="validate the settings and reach the store, Redis "
                                         "(when clustered) and ffmpeg")
    # Options may also follow the subcommand: `run.py serve --settings x.toml`.
    for sub in (serve, worker, add, commands.choices["check"]):
        sub.add_argument("--settings", type=Path, default=argparse.SUPPRESS)
        sub.add_argument("--data-dir", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.command = args.command or "serve"
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    server: dict[str, object] = {}
    if args.data_dir:
        server["data_dir"] = str(Path(args.data_dir).resolve())
    if getattr(args, "host", None):
        server["host"] = args.host
    if getattr(args, "port", None) is not None:
        server["port"] = args.port
    return settings.replace(server=server) if server else settings


def describe_store(settings: Settings) -> str:
    if settings.store.backend == "mongodb":
        uri = mask_uri(settings.store.mongodb_uri.reveal())
        return f"MongoDB {uri} (database {settings.store.mongodb_database})"
    return f"SQLite {settings.sqlite_path}"


# How to run this file again, as shown to the operator (".venv/bin/python" from make run).
PYTHON = os.path.relpath(sys.executable)


async def check(settings: Settings) -> int:
    print(f"settings: {settings.source}")
    print(f"store:    {describe_store(settings)}")
    store = make_store(settings)
    try:
        await store.open()
        status = await store.status()
    except StoreError as exc:
        print(f"error: cannot use the store: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if not status.get("ok"):
        print(f"error: the store is not healthy: {status.get('error')}", file=sys.stderr)
        return 1
    print(f"ok: store reachable in {status.get('latency_ms')} ms")
    if settings.store.backend == "mongodb" and await check_replica_set(settings) != 0:
        return 1
    if settings.cluster.enabled and await check_redis(settings) != 0:
        return 1
    from live.media_store import MediaStoreError
    from live.media_store import check as reach_media

    try:
        print(f"ok: media storage {await reach_media(settings)}")
    except MediaStoreError as exc:
        print(f"error: cannot use the media storage: {exc}", file=sys.stderr)
        return 1
    return check_media(settings)


async def check_replica_set(settings: Settings) -> int:
    """Actions commit in transactions and the relay follows a change stream: both need a
    replica set (or a sharded cluster), never a standalone server."""
    from store.mongo import MongoStore

    store = make_store(settings)
    assert isinstance(store, MongoStore)
    try:
        await store.open()
        hello = await store.database.command("hello")
    except Exception as exc:  # a probe reports every failure, never raises it
        from store.mongo_docs import short

        print(f"error: cannot use the store: {short(exc)}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if not hello.get("setName") and hello.get("msg") != "isdbgrid":  # not mongos either
        print("error: MongoDB is a standalone server: transactions and change streams need a "
              "replica set (a single-node one will do: mongod --replSet rs0, then "
              "rs.initiate())", file=sys.stderr)
        return 1
    print(f"ok: MongoDB replica set {hello.get('setName', 'of mongos')!r}: transactions and "
          "change streams")
    return 0


REDIS_MIN_VERSION = (6, 2)  # XADD NOMKSTREAM/MINID and the other stream commands used


async def check_redis(settings: Settings) -> int:
    from live.redis_link import node_id, open_redis

    url = settings.cluster.redis_url.reveal()
    print(f"cluster:  node {node_id(settings.cluster, settings.server)} · Redis "
          f"{mask_uri(url)}")
    client = open_redis(url)
    try:
        await cast("Awaitable[bool]", client.ping())  # redis-py types sync and async alike
        info = await client.info()
    except Exception as exc:  # every failure of a probe is reported, never raised
        detail = str(exc).replace(url, mask_uri(url)) or type(exc).__name__
        print(f"error: cannot reach Redis at {mask_uri(url)}: {detail}", file=sys.stderr)
        return 1
    finally:
        await client.aclose()
    version = str(info.get("redis_version", "0"))
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < REDIS_MIN_VERSION:
        print(f"error: Redis {version} is too old: the cluster needs "
              f"{'.'.join(map(str, REDIS_MIN_VERSION))} or newer", file=sys.stderr)
        return 1
    if info.get("role") != "master":
        print(f"error: Redis at {mask_uri(url)} is a {info.get('role')}, not a primary: "
              "nodes write to it", file=sys.stderr)
        return 1
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if policy.startswith("allkeys"):
        print(f"warning: Redis evicts any key when full (maxmemory-policy {policy}): leases "
              "and limits may vanish; use noeviction or a volatile-* policy", file=sys.stderr)
    print(f"ok: Redis {version}, a primary, reachable")
    return 0


def check_media(settings: Settings) -> int:
    """ffmpeg must be there for recording and clips; a named one that is missing is an error,
    none at all only a warning (the question side works without video)."""
    from live.ffmpeg import FFmpegNotFound, find_ffmpeg

    try:
        ffmpeg = find_ffmpeg(settings.media.ffmpeg)
    except FFmpegNotFound as exc:
        if settings.media.ffmpeg:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"warning: no video: {exc}", file=sys.stderr)
        return 0
    state = "on" if settings.media.record else "off ([media] record = false)"
    print(f"media:    {settings.media_dir} · ffmpeg {ffmpeg} · recording {state}")
    return 0


class PasswordUnavailable(Exception):
    """No password could be read; the message says why and what to do."""


def read_password(args: argparse.Namespace) -> str:
    """The new account's password: from ``--password-file``, ``--password-stdin`` or, when
    standard input is a terminal, typed twice without echo."""
    if args.password_file is not None:
        try:
            text = args.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PasswordUnavailable(
                f"cannot read the password file {args.password_file}: "
                f"{getattr(exc, 'strerror', None) or exc}") from None
        password = text.splitlines()[0] if text else ""
        if not password:
            raise PasswordUnavailable(f"the password file {args.password_file} is empty")
        return password
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise PasswordUnavailable("no password on standard input (--password-stdin reads "
                                      "its first line)")
        return password
    if not sys.stdin.isatty():
        raise PasswordUnavailable("standard input is not a terminal, so the password cannot "
                                  "be asked for: use --password-file FILE or --password-stdin")
    try:
        password = getpass.getpass("密码 / password: ")
        again = getpass.getpass("再输入一次 / again: ")
    except (EOFError, KeyboardInterrupt):
        raise PasswordUnavailable("no password entered") from None
    if again != password:
        raise PasswordUnavailable("the passwords differ")
    return password


def check_cli_name(name: str) -> str | None:
    """Why ``name`` cannot be used as typed (None: it can). Names are stored in lower
    case; the command line refuses rather than change what the operator typed."""
    from moderation.staff import NAME_RE

    if NAME_RE.fullmatch(name):
        return None
    lowered = name.strip().lower()
    if NAME_RE.fullmatch(lowered):
        return f"account names are lower case: use {lowered!r} instead of {name!r}"
    return (f"invalid account name {name!r}: 2-32 lower-case letters, digits or _ . -, "
            "starting with a letter")


async def adduser(settings: Settings, args: argparse.Namespace) -> int:
    from moderation.logins import LoginThrottle
    from moderation.staff import StaffAccounts, StaffError

    problem = check_cli_name(args.name)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        password = read_password(args)
    except PasswordUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    store = make_store(settings)
    try:
        await store.open()
        accounts = StaffAccounts(store, LoginThrottle(0, 0))
        user = await accounts.create(args.name, args.role, password, actor="cli",
                                     display_name=args.display_name)
    except StaffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"error: cannot use the store: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"created {user.role} account {user.name}")
    return 0


async def serve(settings: Settings) -> int:
    from aiohttp import web

    from moderation.seeds import seed_lists
    from web import keys
    from web.app import create_app
    from web.drain import drain
    from web.heap import freeze_startup_heap
    from web.server import EdgeRunner

    app = create_app(settings)
    # Handlers still running 2 s into a shutdown are cancelled: websockets close within 1 s
    # (web.ws), so SIGTERM ends the process within 3 s even with clients connected.
    runner = EdgeRunner(app, access_log=None, shutdown_timeout=2.0)
    try:
        await runner.setup()
    except StoreError as exc:
        print(f"error: cannot use the store: {exc}", file=sys.stderr)
        return 1
    # Before the banner: whoever reads "serving" may signal at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        password = await app[keys.ACCOUNTS].ensure_initial_admin()
        if password:  # a fresh install: give the moderators their usual decline reasons
            await app[keys.MODERATION].seed_reason_templates()
            await seed_lists(app[keys.MODERATION])
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        try:
            await site.start()
        except OSError as exc:
            print(f"error: cannot listen on {settings.server.host}:{settings.server.port}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 1
        port = runner.addresses[0][1] if runner.addresses else settings.server.port
        url = settings.server.public_url or f"http://{settings.server.host}:{port}"
        print(f"Tip Pocket is serving at {url}/  (store: {describe_store(settings)})")
        if password:
            print("A first administrator account was created. Log in at "
                  f"{url}/login with\n    name:     admin\n    password: {password}\n"
                  "This password is shown only once: change it after logging in.")
        else:
            print(f"Staff log in at {url}/login  (add accounts on the 账号管理 page, or: "
                  f"{PYTHON} run.py adduser NAME --role moderator)")
        sys.stdout.flush()
        heap = asyncio.create_task(freeze_startup_heap(app))  # web.heap: short full GCs
        await stop.wait()
        heap.cancel()
        if heap.done() and not heap.cancelled() and heap.exception() is None:
            heap.result().remove()
        if settings.server.drain_seconds > 0:
            print(f"draining for {settings.server.drain_seconds:g} s ([server] drain_seconds): "
                  "/healthz answers 503", flush=True)
        stop.clear()  # a second signal ends the drain
        await drain(app[keys.DRAIN], settings.server.drain_seconds, stop)
        print("shutting down", flush=True)
    finally:
        await runner.cleanup()
    return 0


STOP_SECONDS = 10.0  # the most a worker's SIGTERM waits for the store


async def work(settings: Settings, args: argparse.Namespace) -> int:
    """``run.py worker``: a clip worker process. It leases clip jobs from the store (fenced
    by their attempt, ``clips.worker``), so any number of these run on any node; SIGTERM
    cancels the cuts in progress and hands their jobs back, and a worker killed outright
    leaves its job to another after ``[media] clip_lease_seconds``."""
    from clips.library import ClipLibrary
    from clips.review import ClipReview
    from clips.worker import ClipWorker, node_name
    from live.broker import Broker, LocalBroker
    from live.eventlog import EventLog
    from live.ffmpeg import FFmpegNotFound, find_ffmpeg
    from live.hub import Hub
    from live.redis_broker import RedisBroker
    from live.redis_link import open_redis
    from moderation import data_files

    try:
        ffmpeg = find_ffmpeg(settings.media.ffmpeg)
    except FFmpegNotFound as exc:
        print(f"error: a clip worker needs ffmpeg: {exc}", file=sys.stderr)
        return 2
    if args.concurrency is not None and args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2

    store = make_store(settings)
    try:
        await store.open()
        catalog = await data_files.load_catalog(store)
        words = await data_files.load_word_list(store)
    except StoreError as exc:
        print(f"error: cannot use the store: {exc}", file=sys.stderr)
        await store.close()
        return 1
    # The library is not opened: a worker searches nothing, it only reads the catalog.
    library = ClipLibrary(store, catalog, words,
                          index_path=settings.data_dir / "search.sqlite3")
    # A cut's staff event is appended in its fenced transaction (the outbox) and published
    # after: through Redis on a cluster (the relay covers a worker that dies in between);
    # one process on SQLite has no hub here, so staff see the cut on their next look.
    redis = open_redis(settings.cluster.redis_url.reveal()) if settings.cluster.enabled \
        else None
    broker: Broker = LocalBroker(Hub(), store) if redis is None else RedisBroker(
        redis, Hub(), store)
    review = ClipReview(store, EventLog(store, broker), library, media_dir=settings.media_dir,
                        media=settings.media)
    worker = ClipWorker(store, review, ffmpeg=ffmpeg, media=settings.media,
                        name=node_name(settings.data_dir), poll_seconds=args.poll_seconds,
                        concurrency=args.concurrency)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await worker.start()
        print(f"clip worker {worker.name}: cutting up to {worker.concurrency} clip(s) at "
              f"once (store: {describe_store(settings)})", flush=True)
        await stop.wait()
        print("stopping: cuts in progress go back to the queue", flush=True)
        # Bounded: a store that does not answer must not keep the process up; a job not
        # handed back is taken over when its lease runs out.
        async with asyncio.timeout(STOP_SECONDS):
            await worker.stop()
        print("stopped", flush=True)
    except StoreError as exc:
        print(f"error: cannot use the store: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"warning: the store did not answer within {STOP_SECONDS:g} s: jobs not handed "
              "back are taken over when their lease runs out", file=sys.stderr)
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await broker.close()
                if redis is not None:
                    await redis.aclose()
                await store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        return asyncio.run(check(settings))
    if args.command == "adduser":
        return asyncio.run(adduser(settings, args))
    if args.command == "worker":
        return asyncio.run(work(settings, args))
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
