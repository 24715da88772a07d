"""Cache policy: which Cache-Control (and optional edge TTL headers) each kind of object gets.

Every response carries an explicit policy, 404s included, because a 404 is heuristically
cacheable (RFC 9111 §4.2.2) and a CDN left to guess would hide a live part that appears a moment
later. The live kinds scale with the stream's target duration (llhls-rules.md, http-rules.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from fractions import Fraction

from origin.config import CacheConfig
from origin.mediatypes import content_type_for, is_playlist


class ObjectKind(enum.Enum):
    IMMUTABLE = "immutable"  # VOD media/playlists, live parts/segments/init, progressive MP4
    PLAYLIST = "playlist"  # a static playlist outside live/ and vod/
    OTHER = "other"  # any other file (images, subtitles, JSON, pages)
    LIVE_PLAYLIST = "live_playlist"  # LL-HLS media playlist without directives
    LIVE_PLAYLIST_BLOCKED = "live_playlist_blocked"  # answered after _HLS_msn: unique URL
    LIVE_MULTIVARIANT = "live_multivariant"
    BLOCKING_ERROR = "blocking_error"  # 4xx to a blocking playlist request
    PLAYLIST_ERROR = "playlist_error"  # 4xx to a non-blocking live playlist request
    NOT_FOUND = "not_found"  # 404, including not-yet-available media
    ERROR = "error"  # 400/405/412/416/500/503: never stored


# Directory prefixes (relative to the media root) whose objects have a fixed lifecycle.
LIVE_PREFIX = "live/"
VOD_PREFIX = "vod/"


def classify_path(rel_path: str) -> ObjectKind:
    """Given a path relative to the media root, return the kind of the file served from disk."""
    ctype = content_type_for(rel_path)
    if rel_path.startswith(LIVE_PREFIX):
        # Live parts and segments have unique URLs and never change once renamed into place.
        return ObjectKind.LIVE_PLAYLIST if is_playlist(rel_path) else ObjectKind.IMMUTABLE
    if rel_path.startswith(VOD_PREFIX):
        return ObjectKind.IMMUTABLE  # packaged titles are written once, atomically
    if is_playlist(rel_path):
        return ObjectKind.PLAYLIST
    if ctype.startswith(("video/", "audio/")):
        return ObjectKind.IMMUTABLE
    return ObjectKind.OTHER


def _seconds(value: Fraction) -> str:
    return str(max(1, int(value)))  # max-age is whole seconds; never round a live TTL to 0


def cache_control(kind: ObjectKind, cfg: CacheConfig, target_duration: int = 0) -> str:
    """Given an object kind, return its Cache-Control value (TD-scaled for live kinds)."""
    td = Fraction(target_duration)
    match kind:
        case ObjectKind.IMMUTABLE:
            return cfg.immutable
        case ObjectKind.PLAYLIST:
            return cfg.playlist
        case ObjectKind.OTHER:
            return cfg.other
        case ObjectKind.LIVE_PLAYLIST:
            return cfg.live_playlist
        case ObjectKind.LIVE_PLAYLIST_BLOCKED:
            return f"public, max-age={_seconds(6 * td)}"  # the URL is unique per msn/part
        case ObjectKind.LIVE_MULTIVARIANT:
            return f"public, max-age={_seconds(td / 2)}"
        case ObjectKind.BLOCKING_ERROR:
            return f"public, max-age={_seconds(4 * td)}"
        case ObjectKind.PLAYLIST_ERROR:
            return f"public, max-age={_seconds(td)}"
        case ObjectKind.NOT_FOUND:
            return cfg.not_found
        case ObjectKind.ERROR:
            return cfg.error


_EDGE: Mapping[ObjectKind, str] = {
    ObjectKind.IMMUTABLE: "edge_immutable",
    ObjectKind.PLAYLIST: "edge_playlist",
    ObjectKind.OTHER: "edge_other",
    ObjectKind.LIVE_PLAYLIST: "edge_live_playlist",
    ObjectKind.NOT_FOUND: "edge_not_found",
}


def cache_headers(
    kind: ObjectKind, cfg: CacheConfig, target_duration: int = 0
) -> list[tuple[str, str]]:
    """Given an object kind, return Cache-Control plus any configured edge TTL headers."""
    headers = [("cache-control", cache_control(kind, cfg, target_duration))]
    if cfg.edge_headers:
        attr = _EDGE.get(kind)
        if attr is not None:
            edge = getattr(cfg, attr)
        else:
            # TD-scaled kinds: the edge keeps the same lifetime as the browser (RFC 9213 §2).
            edge = cache_control(kind, cfg, target_duration).removeprefix("public, ")
        headers.extend((name.lower(), edge) for name in cfg.edge_headers)
    return headers
