"""Configuration: typed settings, the embedded defaults, and validation of `config.toml`.

Every key has a default here; `config.toml` at the repository root documents each one and must
parse to exactly these defaults (a test holds the two together). A bad value raises `ConfigError`
whose message names the key and the reason, so the CLI can print one line and exit non-zero.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from typing import Any

SERVERS = ("uvicorn", "hypercorn", "granian")
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)  # fmt: skip


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    server: str = "uvicorn"
    workers: int = 0  # 0 = one per CPU core
    certfile: str = ""
    keyfile: str = ""
    access_log: bool = True


@dataclass(frozen=True, slots=True)
class MediaConfig:
    root: str = "media"
    directory_listing: bool = False
    gzip: bool = True


@dataclass(frozen=True, slots=True)
class HttpConfig:
    max_ranges: int = 16
    chunk_size: int = 65536
    small_file_max: int = 1048576
    small_file_cache: int = 67108864
    cors: bool = True
    preview_page: bool = True


@dataclass(frozen=True, slots=True)
class CacheConfig:
    immutable: str = "public, max-age=31536000, immutable"
    live_playlist: str = "public, max-age=1"
    playlist: str = "public, max-age=2"
    other: str = "public, max-age=3600"
    not_found: str = "public, max-age=1"
    error: str = "no-store"
    edge_headers: tuple[str, ...] = ()
    edge_immutable: str = "max-age=31536000"
    edge_live_playlist: str = "max-age=1"
    edge_playlist: str = "max-age=2"
    edge_other: str = "max-age=3600"
    edge_not_found: str = "max-age=1"


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int


@dataclass(frozen=True, slots=True)
class LiveChannel:
    name: str = "test"
    input: str = "testsrc"
    loop: bool = True
    frame_rate: int = 30
    segment_duration: int = 2
    part_target: str = "0.2"
    window_segments: int = 15
    audio_kbps: int = 96
    preset: str = "veryfast"
    renditions: tuple[Rendition, ...] = (
        Rendition("360p", 640, 360, 800),
        Rendition("540p", 960, 540, 1600),
    )


@dataclass(frozen=True, slots=True)
class LadderRung:
    name: str  # rendition directory, e.g. "720p"
    height: int  # the picture's short side, pixels (even)
    video_kbps: int


@dataclass(frozen=True, slots=True)
class PackageConfig:
    """`origin package` (VOD) settings: see [package] in config.toml."""

    segment_target: int = 4  # seconds
    audio_kbps: int = 128
    preset: str = "veryfast"
    ladder: tuple[LadderRung, ...] = (
        LadderRung("1080p", 1080, 5000),
        LadderRung("720p", 720, 2800),
        LadderRung("480p", 480, 1400),
        LadderRung("360p", 360, 800),
    )


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    live: tuple[LiveChannel, ...] = (LiveChannel(),)
    package: PackageConfig = field(default_factory=PackageConfig)


_SECTIONS: Mapping[str, type[Any]] = {
    "server": ServerConfig,
    "media": MediaConfig,
    "http": HttpConfig,
    "cache": CacheConfig,
}

_EDGE_HEADERS = ("CDN-Cache-Control", "Surrogate-Control")


def _positive(key: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{key} = {value}: must be a positive integer")


def _check_server(cfg: ServerConfig) -> None:
    if cfg.server not in SERVERS:
        raise ConfigError(f"server.server = {cfg.server!r}: must be one of {', '.join(SERVERS)}")
    if not 0 < cfg.port < 65536:
        raise ConfigError(f"server.port = {cfg.port}: must be between 1 and 65535")
    if cfg.workers < 0:
        raise ConfigError(f"server.workers = {cfg.workers}: must be 0 (one per core) or more")
    if bool(cfg.certfile) != bool(cfg.keyfile):
        raise ConfigError("server.certfile and server.keyfile: give both for TLS, or neither")


def _check_http(cfg: HttpConfig) -> None:
    for name in ("max_ranges", "chunk_size", "small_file_max"):
        _positive(f"http.{name}", getattr(cfg, name))
    if cfg.small_file_cache < 0:
        raise ConfigError(f"http.small_file_cache = {cfg.small_file_cache}: must be 0 or more")


def _check_cache(cfg: CacheConfig) -> None:
    for name in cfg.edge_headers:
        if name not in _EDGE_HEADERS:
            raise ConfigError(
                f"cache.edge_headers: {name!r} is not one of {', '.join(_EDGE_HEADERS)}"
            )
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, str) and ("\r" in value or "\n" in value):
            raise ConfigError(f"cache.{f.name}: a header value cannot contain a line break")


_CHECKS: Mapping[str, Callable[[Any], None]] = {
    "server": _check_server,
    "http": _check_http,
    "cache": _check_cache,
}


def _coerce(key: str, default: object, value: object) -> object:
    """Given a TOML value and the field's default, return the value typed like the default."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: must be true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} = {value!r}: must be an integer")
        return value
    if isinstance(default, str):
        if key.endswith(".part_target") and isinstance(value, int | float):
            value = str(value)  # accept 0.2 as well as "0.2"; Fraction("0.2") is exact
        if not isinstance(value, str):
            raise ConfigError(f"{key} = {value!r}: must be a string")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} = {value!r}: must be a list of strings")
        return tuple(value)
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - a programming error


def _build_section(name: str, cls: type[Any], raw: object, base: object) -> object:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    changes: dict[str, object] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(known)})")
        changes[key] = _coerce(f"{name}.{key}", getattr(base, key), value)
    return replace(base, **changes)  # type: ignore[type-var]


def build_config(data: Mapping[str, object], base: Config | None = None) -> Config:
    """Given parsed TOML, return a validated Config layered over `base` (the defaults)."""
    cfg = base or Config()
    sections: dict[str, object] = {}
    for name, raw in data.items():
        if name == "live":
            sections[name] = _build_live(raw)
            continue
        if name == "package":
            sections[name] = _build_package(raw)
            continue
        if name not in _SECTIONS:
            raise ConfigError(
                f"[{name}]: unknown section (known: {', '.join(_SECTIONS)}, live, package)"
            )
        sections[name] = _build_section(name, _SECTIONS[name], raw, getattr(cfg, name))
    cfg = replace(cfg, **sections)  # type: ignore[arg-type]
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first bad key of `cfg`."""
    for name, check in _CHECKS.items():
        check(getattr(cfg, name))
    names = [ch.name for ch in cfg.live]
    if len(set(names)) != len(names):
        raise ConfigError(f"live: channel names must be unique (got {', '.join(names)})")


_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _check_name(key: str, value: str) -> None:
    # Names become directory and URL segments: keep them plain.
    if not value or not set(value) <= _NAME_OK or value.startswith("-"):
        raise ConfigError(f"{key} = {value!r}: use letters, digits, '-' and '_' only")


def _build_rendition(key: str, raw: object) -> Rendition:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{key}: each rendition must be a table {{name, width, height, video_kbps}}"
        )
    base = Rendition("", 0, 0, 0)
    r = _build_section(key, Rendition, raw, base)
    assert isinstance(r, Rendition)
    _check_name(f"{key}.name", r.name)
    for dim in ("width", "height"):
        v = getattr(r, dim)
        if v <= 0 or v % 2:
            raise ConfigError(f"{key}.{dim} = {v}: must be a positive even number of pixels")
    _positive(f"{key}.video_kbps", r.video_kbps)
    return r


def _build_live(raw: object) -> tuple[LiveChannel, ...]:
    """Given the [[live]] array of tables, return the validated channels."""
    if not isinstance(raw, list):
        raise ConfigError("live: must be an array of tables ([[live]])")
    channels = []
    for i, item in enumerate(raw):
        key = f"live[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: must be a table")
        item = dict(item)
        renditions = item.pop("renditions", None)
        ch = _build_section(key, LiveChannel, item, LiveChannel())
        assert isinstance(ch, LiveChannel)
        if renditions is not None:
            if not isinstance(renditions, list) or not renditions:
                raise ConfigError(f"{key}.renditions: must be a non-empty array of tables")
            ch = replace(
                ch,
                renditions=tuple(
                    _build_rendition(f"{key}.renditions[{j}]", r) for j, r in enumerate(renditions)
                ),
            )
        _check_live(key, ch)
        channels.append(ch)
    return tuple(channels)


def _check_live(key: str, ch: LiveChannel) -> None:
    _check_name(f"{key}.name", ch.name)
    if not ch.input.strip():
        raise ConfigError(f"{key}.input: empty; give testsrc, a file, or an rtmp/srt/udp URL")
    _positive(f"{key}.frame_rate", ch.frame_rate)
    _positive(f"{key}.segment_duration", ch.segment_duration)
    _positive(f"{key}.audio_kbps", ch.audio_kbps)
    if ch.window_segments < 6:  # Apple HLS authoring §14: at least six segments in the window
        raise ConfigError(f"{key}.window_segments = {ch.window_segments}: must be at least 6")
    try:
        part = Fraction(ch.part_target)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(
            f"{key}.part_target = {ch.part_target!r}: not a number of seconds"
        ) from None
    if not Fraction(1, 20) <= part <= Fraction(ch.segment_duration, 2):
        raise ConfigError(
            f"{key}.part_target = {ch.part_target}: must be between 0.05 s and half the "
            f"segment_duration ({ch.segment_duration} s)"
        )
    names = [r.name for r in ch.renditions]
    if len(set(names)) != len(names):
        raise ConfigError(f"{key}.renditions: names must be unique (got {', '.join(names)})")
    if ch.preset not in X264_PRESETS:
        raise ConfigError(f"{key}.preset = {ch.preset!r}: one of {', '.join(X264_PRESETS)}")


_X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo",
)  # fmt: skip


def _build_package(raw: object) -> PackageConfig:
    """Given the [package] table, return the validated VOD packaging settings."""
    if not isinstance(raw, dict):
        raise ConfigError("[package] must be a table")
    item = dict(raw)
    ladder = item.pop("ladder", None)
    cfg = _build_section("package", PackageConfig, item, PackageConfig())
    assert isinstance(cfg, PackageConfig)
    if ladder is not None:
        if not isinstance(ladder, list) or not ladder:
            raise ConfigError("package.ladder: must be a non-empty array of tables")
        rungs = []
        for j, r in enumerate(ladder):
            key = f"package.ladder[{j}]"
            if not isinstance(r, dict):
                raise ConfigError(f"{key}: each rung must be a table {{name, height, video_kbps}}")
            rung = _build_section(key, LadderRung, r, LadderRung("", 0, 0))
            assert isinstance(rung, LadderRung)
            _check_name(f"{key}.name", rung.name)
            if rung.height <= 0 or rung.height % 2:
                raise ConfigError(f"{key}.height = {rung.height}: must be a positive even number")
            _positive(f"{key}.video_kbps", rung.video_kbps)
            rungs.append(rung)
        if len({r.name for r in rungs}) != len(rungs):
            raise ConfigError("package.ladder: rung names must be unique")
        cfg = replace(cfg, ladder=tuple(rungs))
    if not 1 <= cfg.segment_target <= 30:
        raise ConfigError(f"package.segment_target = {cfg.segment_target}: must be 1 to 30 seconds")
    _positive("package.audio_kbps", cfg.audio_kbps)
    if cfg.preset not in _X264_PRESETS:
        raise ConfigError(f"package.preset = {cfg.preset!r}: one of {', '.join(_X264_PRESETS)}")
    return cfg


def parse_config_text(text: str, source: str = "config") -> dict[str, Any]:
    """Given TOML text, return the parsed table or raise ConfigError naming `source`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None


def with_live(cfg: Config, channels: tuple[LiveChannel, ...]) -> Config:
    """Return `cfg` with its live channels replaced, validated."""
    new = replace(cfg, live=channels)
    validate(new)
    return new


def with_overrides(cfg: Config, section: str, **values: object) -> Config:
    """Return `cfg` with the non-None `values` set in `section`, validated."""
    changes = {k: v for k, v in values.items() if v is not None}
    if not changes:
        return cfg
    new = replace(cfg, **{section: replace(getattr(cfg, section), **changes)})
    validate(new)
    return new


DEFAULT_CONFIG_FILE = "config.toml"


def load_config(path: str | None) -> Config:
    """Load `path` (or ./config.toml when present, else the embedded defaults) and validate it."""
    if path is None:
        path = os.environ.get("ORIGIN_CONFIG")
    if path is None:
        if not os.path.isfile(DEFAULT_CONFIG_FILE):
            return Config()
        path = DEFAULT_CONFIG_FILE
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return build_config(parse_config_text(text, path))


def config_to_json(cfg: Config) -> str:
    """Serialise a Config for worker processes."""
    return json.dumps(asdict(cfg))


def config_from_json(text: str) -> Config:
    """Inverse of config_to_json."""
    data = json.loads(text)
    live = data.pop("live", [])
    return replace(build_config(data), live=_build_live(live))
