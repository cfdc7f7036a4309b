"""Typed, frozen settings loaded once from ``settings.toml``.

Every key is declared here as a dataclass field with a default; ``settings.toml`` at the
repository root documents each key in place (a test checks that the two agree). An unknown
key or a value of the wrong type stops the start with a message naming the key and the
file. Secrets may come from the environment and are masked whenever printed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent
DEFAULT_SETTINGS_PATH = ROOT / "settings.toml"

# Environment variables that override secret settings (so they need not sit in a file).
ENV_SECRET_KEY = "TIPPOCKET_SECRET_KEY"  # noqa: S105 - a variable name
ENV_MONGODB_URI = "TIPPOCKET_MONGODB_URI"
ENV_REDIS_URL = "TIPPOCKET_REDIS_URL"
ENV_S3_SECRET_KEY = "TIPPOCKET_S3_SECRET_KEY"  # noqa: S105 - a variable name


class SettingsError(Exception):
    """A settings file that cannot be used; the message names the file and the key."""


class Secret(str):
    """A string that never shows itself in ``repr``/``str`` formatting of its owner."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)


def mask_uri(uri: str) -> str:
    """Hide the password in a URI such as ``mongodb://user:pw@host``."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return uri
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else uri


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    data_dir: str = "data"
    max_request_kib: int = 256
    # Addresses (or networks) of the load balancers in front of this node, comma-separated:
    # only from them is X-Forwarded-For believed (web.auth.client_address).
    trusted_proxies: str = ""

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in self.trusted_proxies.split(",") if part.strip())
    time_zone: str = "Asia/Shanghai"
    # Seconds a serve node keeps serving after SIGTERM while /healthz says 503 "draining"
    # (the load balancer stops sending it new connections); then websockets close with 1001.
    drain_seconds: float = 0.0


@dataclass(frozen=True)
class StoreSettings:
    backend: str = "sqlite"
    sqlite_path: str = ""
    sqlite_busy_timeout_ms: int = 5000
    mongodb_uri: Secret = Secret("")  # noqa: RUF009 - immutable
    mongodb_database: str = "tippocket"
    mongodb_write_concern: str = "majority"
    mongodb_journal: bool = True
    mongodb_timeout_ms: int = 5000

    def __repr__(self) -> str:
        return (
            f"StoreSettings(backend={self.backend!r}, sqlite_path={self.sqlite_path!r}, "
            f"mongodb_uri={mask_uri(self.mongodb_uri.reveal())!r}, "
            f"mongodb_database={self.mongodb_database!r})"
        )


@dataclass(frozen=True)
class SecuritySettings:
    secret_key: Secret = Secret("")  # noqa: RUF009 - immutable
    session_idle_minutes: int = 120
    session_max_hours: int = 14
    login_max_failures: int = 5
    login_lockout_seconds: int = 300
    cookie_secure: str = "auto"


@dataclass(frozen=True)
class LiveSettings:
    question_min_chars: int = 1
    question_max_chars: int = 300
    caption_max_chars: int = 120  # one line of live captions (moderation.captions)
    viewer_questions_per_minute: int = 5
    address_questions_per_minute: int = 30
    session_questions_per_minute: int = 600
    viewer_sockets_max: int = 8
    address_sockets_max: int = 64
    send_queue_frames: int = 256
    resume_buffer_events: int = 1000
    heartbeat_seconds: int = 20
    # Days a committed event stays in the store's outbox (live.outbox_trim); 0: for ever.
    event_history_days: int = 7


@dataclass(frozen=True)
class MediaSettings:
    record: bool = True
    media_dir: str = ""
    ffmpeg: str = ""
    segment_seconds: int = 2
    stall_seconds: int = 10
    test_picture_size: str = "1280x720"
    rtmp_bind: str = "127.0.0.1"
    rtmp_port: int = 1935
    rtmp_public_host: str = ""
    clip_pad_before: float = 2.0
    clip_pad_after: float = 1.0
    clip_mode: str = "copy"
    clip_workers: int = 1
    clip_timeout_seconds: int = 600
    clip_max_attempts: int = 5
    clip_max_seconds: int = 600
    # How long past an answer's end (with its padding) a clip waits for the recording to
    # hold it before it is cut with what exists; 0: three segments plus 10 s.
    clip_wait_seconds: float = 0.0
    # Where recordings and clips live (live.media_store): "local" (media_dir, which may be a
    # shared mount) or "s3" (a bucket; media_dir is then only the local spool and scratch).
    storage: str = "local"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: Secret = Secret("")  # noqa: RUF009 - immutable
    s3_prefix: str = ""
    # A clip job's lease, renewed every third of it while the cut runs: a worker killed
    # outright leaves its job to another worker after this long.
    clip_lease_seconds: float = 60.0
    # A session recorder's lease in the store, renewed every third of it: when the
    # recording node dies another node takes the recording over after this long.
    recorder_lease_seconds: float = 6.0

    @property
    def clip_wait_limit(self) -> float:
        return self.clip_wait_seconds or 3.0 * self.segment_seconds + 10.0


@dataclass(frozen=True)
class ClusterSettings:
    """Several hub nodes on one store: Redis carries fan-out and shared live state."""

    redis_url: Secret = Secret("")  # noqa: RUF009 - immutable
    node_id: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.redis_url)

    def __repr__(self) -> str:
        return (f"ClusterSettings(redis_url={mask_uri(self.redis_url.reveal())!r}, "
                f"node_id={self.node_id!r})")


@dataclass(frozen=True)
class OverlaySettings:
    """The on-air overlay for broadcast software (``/overlay/<session>``)."""

    font_px: int = 40
    text_color: str = "#ffffff"
    panel_color: str = "rgba(0, 40, 110, 0.88)"
    accent_color: str = "#ffd23f"
    position: str = "bottom"
    captions: bool = True


@dataclass(frozen=True)
class EmbedSettings:
    """The embeddable player (``/embed/<session>``, ``web.embed``): the origins whose pages
    may frame it (CSP ``frame-ancestors``), separated by spaces; empty: none may."""

    frame_ancestors: str = ""

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(self.frame_ancestors.split())


@dataclass(frozen=True)
class UnderstandingSettings:
    enabled: bool = True


@dataclass(frozen=True)
class ReplaySettings:
    """Replays of ended sessions (``/replay/<session>``, clips.replays)."""

    # Who makes a replay public: "staff" (published from the session's admin page, after a
    # look at the recording, as clips are) or "on_end" (public as soon as the session ends;
    # staff can still withdraw it).
    publish: str = "staff"
    # Days after a session ends that its recording (and so its replay) is kept; then the
    # recording's files are deleted (clips cut from it stay). 0: kept for ever.
    retention_days: int = 0


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    understanding: UnderstandingSettings = field(default_factory=UnderstandingSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    replays: ReplaySettings = field(default_factory=ReplaySettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    source: str = "<defaults>"

    @property
    def zone(self) -> ZoneInfo:
        """The desk's time zone (``[server] time_zone``): days, shown times, exports."""
        return load_zone(self.server.time_zone)

    @property
    def data_dir(self) -> Path:
        path = Path(self.server.data_dir)
        return path if path.is_absolute() else ROOT / path

    @property
    def sqlite_path(self) -> Path:
        if self.store.sqlite_path:
            path = Path(self.store.sqlite_path)
            return path if path.is_absolute() else self.data_dir / path
        return self.data_dir / "tippocket.sqlite3"

    @property
    def media_dir(self) -> Path:
        if self.media.media_dir:
            path = Path(self.media.media_dir)
            return path if path.is_absolute() else self.data_dir / path
        return self.data_dir / "media"

    def replace(self, **sections: Any) -> Settings:
        """A copy with some keys changed: ``replace(server={"port": 0})``."""
        updated: dict[str, Any] = {}
        for name, changes in sections.items():
            updated[name] = dataclasses.replace(getattr(self, name), **changes)
        return dataclasses.replace(self, **updated)


SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "store": StoreSettings,
    "security": SecuritySettings,
    "live": LiveSettings,
    "media": MediaSettings,
    "understanding": UnderstandingSettings,
    "cluster": ClusterSettings,
    "overlay": OverlaySettings,
    "replays": ReplaySettings,
    "embed": EmbedSettings,
}

# Values each choice-valued key accepts.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("store", "backend"): ("sqlite", "mongodb"),
    ("store", "mongodb_write_concern"): ("majority", "1"),
    ("security", "cookie_secure"): ("auto", "always", "never"),
    ("media", "clip_mode"): ("copy", "accurate", "reencode"),
    ("media", "storage"): ("local", "s3"),
    ("overlay", "position"): ("bottom", "top"),
    ("replays", "publish"): ("staff", "on_end"),
}

# A colour the overlay puts into CSS: #rgb, #rrggbb, #rrggbbaa or rgb()/rgba() with numbers
# only, so a settings value can never carry more CSS than a colour.
COLOR_RE = re.compile(
    r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|rgba?\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*(?:,\s*(?:0|1|0?\.\d+)\s*)?\)")


# An origin allowed to frame the embeddable player: scheme, host (optionally "*." first) and
# port, nothing else, so a settings value can never carry more than a CSP source expression.
ORIGIN_RE = re.compile(r"https?://(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?")


def _check_value(path: str, section: str, key: str, expected: Any, value: Any) -> Any:
    secret = expected is Secret
    if secret:
        expected = str
    name = f"[{section}] {key}"
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise SettingsError(
            f"{path}: {name} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    choices = CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise SettingsError(f"{path}: {name} must be one of {', '.join(choices)}, got {value!r}")
    if expected in (int, float) and value < 0:
        raise SettingsError(f"{path}: {name} must not be negative, got {value}")
    return Secret(value) if secret else value


def _build_section(path: str, section: str, raw: Any) -> Any:
    cls = SECTIONS[section]
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{path}: [{section}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise SettingsError(
                f"{path}: unknown key [{section}] {key} (known: {', '.join(sorted(known))})"
            )
        values[key] = _check_value(path, section, key, hints[key], value)
    return cls(**values)


def load_settings(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate a settings file; environment secrets override the file."""
    env = os.environ if env is None else env
    file = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{file}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{file}: cannot read: {exc}") from None
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise SettingsError(
                f"{file}: unknown section [{name}] (known: {', '.join(SECTIONS)})"
            )
        sections[name] = _build_section(str(file), name, value)
    settings = Settings(**sections, source=str(file))
    if env.get(ENV_SECRET_KEY):
        settings = settings.replace(security={"secret_key": Secret(env[ENV_SECRET_KEY])})
    if env.get(ENV_MONGODB_URI):
        settings = settings.replace(store={"mongodb_uri": Secret(env[ENV_MONGODB_URI])})
    if env.get(ENV_REDIS_URL):
        settings = settings.replace(cluster={"redis_url": Secret(env[ENV_REDIS_URL])})
    if env.get(ENV_S3_SECRET_KEY):
        settings = settings.replace(media={"s3_secret_key": Secret(env[ENV_S3_SECRET_KEY])})
    if settings.media.storage == "s3" and not settings.media.s3_bucket:
        raise SettingsError(f"{file}: [media] storage is s3 but s3_bucket is empty")
    if settings.store.backend == "mongodb" and not settings.store.mongodb_uri:
        raise SettingsError(
            f"{file}: [store] backend is mongodb but mongodb_uri is empty "
            f"(set it in the file or in ${ENV_MONGODB_URI})"
        )
    try:
        settings.server.trusted_networks  # noqa: B018 - parsed to be checked
    except ValueError as exc:
        raise SettingsError(f"{file}: [server] trusted_proxies: {exc}") from None
    for key in ("text_color", "panel_color", "accent_color"):
        if not COLOR_RE.fullmatch(getattr(settings.overlay, key)):
            raise SettingsError(f"{file}: [overlay] {key} must be a colour such as #ffffff or "
                                f"rgba(0, 40, 110, 0.88)")
    if not 12 <= settings.overlay.font_px <= 200:
        raise SettingsError(f"{file}: [overlay] font_px must be between 12 and 200")
    if settings.live.event_history_days < 0:
        raise SettingsError(f"{file}: [live] event_history_days must be 0 (keep) or more")
    if settings.replays.retention_days < 0:
        raise SettingsError(f"{file}: [replays] retention_days must be 0 (keep) or more")
    for origin in settings.embed.origins:
        if not ORIGIN_RE.fullmatch(origin):
            raise SettingsError(f"{file}: [embed] frame_ancestors: {origin!r} is not an origin "
                                f"such as https://www.example.gov.cn or https://*.example.cn")
    try:
        load_zone(settings.server.time_zone)
    except ValueError as exc:
        raise SettingsError(f"{file}: [server] time_zone: {exc}") from None
    if settings.cluster.enabled and settings.store.backend != "mongodb":
        raise SettingsError(
            f"{file}: [cluster] redis_url is set, so several nodes share one store, "
            f"but [store] backend is {settings.store.backend!r}: a cluster needs mongodb"
        )
    return settings


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. "Asia/Shanghai"); ValueError when there is none."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ValueError(f"not an IANA time zone name: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as "
                         f"\"Asia/Shanghai\")") from None


def documented_keys() -> list[tuple[str, str]]:
    """Every (section, key) the settings accept, for the documentation test."""
    return [(s, f.name) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def ensure_secret_key(settings: Settings) -> bytes:
    """The signing key: from the settings/environment, else kept in ``<data_dir>/secret_key``
    (created with mode 0600 on first run)."""
    if settings.security.secret_key:
        return settings.security.secret_key.reveal().encode()
    path = settings.data_dir / "secret_key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    import secrets

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key
