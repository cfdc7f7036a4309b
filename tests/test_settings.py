"""Settings: typed, validated, documented in settings.toml, secrets masked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from settings import (
    DEFAULT_SETTINGS_PATH,
    Secret,
    Settings,
    SettingsError,
    documented_keys,
    load_settings,
    mask_uri,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_equals_the_defaults() -> None:
    shipped = load_settings(env={})
    assert shipped.replace() == Settings(source=shipped.source).replace()


def test_every_key_is_documented_with_a_comment_in_settings_toml() -> None:
    lines = DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8").splitlines()
    section = ""
    found: dict[tuple[str, str], bool] = {}
    for i, line in enumerate(lines):
        if m := re.fullmatch(r"\[(\w+)\]", line.strip()):
            section = m.group(1)
        elif m := re.match(r"(\w+)\s*=", line):
            found[(section, m.group(1))] = i > 0 and lines[i - 1].startswith("#")
    for key in documented_keys():
        assert key in found, f"{key} is missing from settings.toml"
        assert found[key], f"{key} has no comment above it in settings.toml"
    assert set(found) == set(documented_keys())


def test_unknown_key_names_the_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nprot = 80\n")
    with pytest.raises(SettingsError, match=r"s\.toml: unknown key \[server\] prot"):
        load_settings(path, env={})


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"unknown section \[srever\]"):
        load_settings(write(tmp_path, "[srever]\nport = 1\n"), env={})


@pytest.mark.parametrize("text, message", [
    ('[server]\nport = "8080"\n', r"\[server\] port must be int, got str"),
    ("[server]\nport = true\n", r"\[server\] port must be int, got bool"),
    ("[server]\nport = -1\n", r"must not be negative"),
    ('[store]\nbackend = "postgres"\n', r"\[store\] backend must be one of sqlite, mongodb"),
    ("[store]\nmongodb_journal = 1\n", r"mongodb_journal must be bool"),
    ("server = 1\n", r"\[server\] must be a table"),
    ("[server\n", r"not valid TOML"),
    ('[overlay]\ntext_color = "red; background: url(x)"\n', r"\[overlay\] text_color must be a"),
    ('[overlay]\npanel_color = "rgba(0,0,0,2)"\n', r"\[overlay\] panel_color must be a"),
    ("[overlay]\nfont_px = 5\n", r"\[overlay\] font_px must be between"),
    ('[server]\ntrusted_proxies = "10.0.0.1, nonsense"\n', r"\[server\] trusted_proxies: "),
    ('[overlay]\nposition = "left"\n', r"\[overlay\] position must be one of bottom, top"),
    ('[cluster]\nredis_url = "redis://r"\n', r"a cluster needs mongodb"),
    ('[server]\ntime_zone = "Mars/Olympus"\n', r"\[server\] time_zone: unknown time zone"),
    ('[server]\ntime_zone = "../../etc/passwd"\n', r"\[server\] time_zone: not an IANA"),
    ('[server]\ntime_zone = ""\n', r"\[server\] time_zone: not an IANA"),
])
def test_wrong_values_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(write(tmp_path, text), env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_mongodb_backend_needs_a_uri(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="mongodb_uri is empty"):
        load_settings(write(tmp_path, '[store]\nbackend = "mongodb"\n'), env={})


def test_environment_overrides_secrets_and_they_are_masked(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\nbackend = "mongodb"\n')
    settings = load_settings(path, env={
        "TIPPOCKET_MONGODB_URI": "mongodb://tp:hunter2@db.example:27017/",
        "TIPPOCKET_SECRET_KEY": "k" * 40,
    })
    assert settings.store.mongodb_uri.reveal() == "mongodb://tp:hunter2@db.example:27017/"
    assert settings.security.secret_key.reveal() == "k" * 40
    printed = repr(settings)
    assert "hunter2" not in printed and "k" * 40 not in printed
    assert "mongodb://tp:***@db.example:27017/" in printed


def test_mask_uri() -> None:
    assert mask_uri("mongodb://u:p@h/db") == "mongodb://u:***@h/db"
    assert mask_uri("mongodb://h:27017") == "mongodb://h:27017"
    assert repr(Secret("abc")) == "Secret('***')"


def test_paths_resolve_inside_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, f'[server]\ndata_dir = "{tmp_path}/d"\n'), env={})
    assert settings.sqlite_path == tmp_path / "d" / "tippocket.sqlite3"


def test_the_time_zone_is_an_iana_name(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[server]\ntime_zone = "Asia/Tokyo"\n'), env={})
    assert settings.zone.key == "Asia/Tokyo"
    assert load_settings(write(tmp_path, ""), env={}).zone.key == "Asia/Shanghai"
