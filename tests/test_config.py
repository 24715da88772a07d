"""config.toml documents and equals the embedded defaults; bad values fail naming their key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from origin.config import (
    CacheConfig,
    Config,
    ConfigError,
    HttpConfig,
    LadderRung,
    LiveChannel,
    MediaConfig,
    PackageConfig,
    Rendition,
    ServerConfig,
    build_config,
    config_from_json,
    config_to_json,
    load_config,
    parse_config_text,
)

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=")
SECTION_LINE = re.compile(r"^\[\[?([a-z_]+)\]\]?\s*$")

# Section (as written in config.toml) → the dataclass whose every field it must document.
SECTIONS: dict[str, type[Any]] = {
    "server": ServerConfig,
    "media": MediaConfig,
    "http": HttpConfig,
    "cache": CacheConfig,
    "package": PackageConfig,
    "live": LiveChannel,
}
# Dataclasses written as inline tables inside an array key of a section.
INLINE: dict[str, tuple[str, type[Any]]] = {
    "package": ("ladder", LadderRung),
    "live": ("renditions", Rendition),
}


def documented_keys() -> dict[str, dict[str, int]]:
    """Return section → key → line number of each `key = value` line in config.toml."""
    out: dict[str, dict[str, int]] = {}
    section = ""
    for number, line in enumerate(REPO_CONFIG.read_text().splitlines()):
        if m := SECTION_LINE.match(line):
            section = m[1]
            out.setdefault(section, {})
        elif (m := KEY_LINE.match(line)) and section:
            out[section][m[1]] = number
    return out


def test_config_toml_equals_defaults() -> None:
    assert load_config(str(REPO_CONFIG)) == Config()


def test_no_config_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORIGIN_CONFIG", raising=False)
    assert load_config(None) == Config()


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_key_documented(section: str) -> None:
    keys = documented_keys()
    assert section in keys, f"[{section}] missing from config.toml"
    lines = REPO_CONFIG.read_text().splitlines()
    for f in dataclasses.fields(SECTIONS[section]):
        assert f.name in keys[section], f"{section}.{f.name} missing from config.toml"
        # Walk up over the other keys of a group sharing one comment (certfile/keyfile).
        n = keys[section][f.name] - 1
        while n >= 0 and KEY_LINE.match(lines[n]):
            n -= 1
        assert n >= 0 and lines[n].startswith("#"), f"{section}.{f.name} has no comment above"
    if section in INLINE:
        array, cls = INLINE[section]
        text = "\n".join(lines)
        for f in dataclasses.fields(cls):
            assert re.search(rf"[{{,]\s*{f.name} = ", text), f"{section}.{array}[].{f.name}"


def test_no_undocumented_extra_keys() -> None:
    """Every key in config.toml is a real one (a typo there would fail at load anyway)."""
    for section, keys in documented_keys().items():
        names = {f.name for f in dataclasses.fields(SECTIONS[section])}
        assert set(keys) <= names, set(keys) - names


def test_json_round_trip() -> None:
    cfg = Config()
    assert config_from_json(config_to_json(cfg)) == cfg


BAD = [
    pytest.param({"server": {"port": 0}}, "server.port", id="port-zero"),
    pytest.param({"server": {"port": 65536}}, "server.port", id="port-too-big"),
    pytest.param({"server": {"port": "8080"}}, "server.port", id="port-string"),
    pytest.param({"server": {"port": True}}, "server.port", id="port-bool"),
    pytest.param({"server": {"port": 80.5}}, "server.port", id="port-float"),
    pytest.param({"server": {"server": "nginx"}}, "server.server", id="unknown-server"),
    pytest.param({"server": {"workers": -1}}, "server.workers", id="negative-workers"),
    pytest.param({"server": {"certfile": "c.pem"}}, "server.certfile", id="cert-without-key"),
    pytest.param({"server": {"keyfile": "k.pem"}}, "server.keyfile", id="key-without-cert"),
    pytest.param({"server": {"access_log": "yes"}}, "server.access_log", id="bool-as-string"),
    pytest.param({"server": {"bogus": 1}}, "server.bogus", id="unknown-key"),
    pytest.param({"server": 1}, "[server]", id="section-not-a-table"),
    pytest.param({"bogus": {}}, "[bogus]", id="unknown-section"),
    pytest.param({"media": {"root": 1}}, "media.root", id="root-not-string"),
    pytest.param({"media": {"gzip": 1}}, "media.gzip", id="gzip-int"),
    pytest.param({"http": {"max_ranges": 0}}, "http.max_ranges", id="max-ranges-zero"),
    pytest.param({"http": {"chunk_size": -1}}, "http.chunk_size", id="chunk-size-negative"),
    pytest.param({"http": {"small_file_max": 0}}, "http.small_file_max", id="small-max-zero"),
    pytest.param({"http": {"small_file_cache": -1}}, "http.small_file_cache", id="cache-negative"),
    pytest.param({"cache": {"edge_headers": ["X-Foo"]}}, "cache.edge_headers", id="edge-unknown"),
    pytest.param(
        {"cache": {"edge_headers": "CDN-Cache-Control"}}, "cache.edge_headers", id="edge-not-a-list"
    ),
    pytest.param(
        {"cache": {"immutable": "a\r\nSet-Cookie: x"}}, "cache.immutable", id="header-injection"
    ),
    pytest.param({"cache": {"not_found": 1}}, "cache.not_found", id="policy-not-string"),
    pytest.param({"live": {"name": "x"}}, "live", id="live-not-array"),
    pytest.param({"live": [{"name": "a/b"}]}, "live[0].name", id="live-bad-name"),
    pytest.param(
        {"live": [{"window_segments": 5}]}, "live[0].window_segments", id="live-window-too-short"
    ),
    pytest.param({"live": [{"part_target": "abc"}]}, "live[0].part_target", id="live-part-nan"),
    pytest.param(
        {"live": [{"part_target": "5"}]}, "live[0].part_target", id="live-part-over-half-segment"
    ),
    pytest.param({"live": [{"name": "a"}, {"name": "a"}]}, "live", id="live-duplicate-names"),
    pytest.param(
        {"live": [{"renditions": [{"name": "x", "width": 641, "height": 360, "video_kbps": 1}]}]},
        "live[0].renditions[0].width",
        id="live-odd-width",
    ),
    pytest.param(
        {"package": {"segment_target": 0}}, "package.segment_target", id="package-segment-zero"
    ),
    pytest.param({"package": {"preset": "quick"}}, "package.preset", id="package-preset"),
    pytest.param({"package": {"ladder": []}}, "package.ladder", id="package-empty-ladder"),
]


@pytest.mark.parametrize(("data", "key"), BAD)
def test_bad_value_names_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(data)
    message = str(info.value)
    assert key in message, message
    assert "\n" not in message


def test_invalid_toml_names_source() -> None:
    with pytest.raises(ConfigError, match=r"^my\.toml: not valid TOML"):
        parse_config_text("[server\nport = 1", "my.toml")


def test_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_config(str(missing))


def test_overrides_layer_over_defaults() -> None:
    cfg = build_config({"server": {"port": 9000}, "http": {"max_ranges": 4}})
    assert cfg.server.port == 9000 and cfg.http.max_ranges == 4
    assert cfg.server.host == ServerConfig().host and cfg.media == MediaConfig()
