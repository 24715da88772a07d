"""Tables for origin.cache (kinds and their Cache-Control) and the edge headers on the wire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import FILES_ONLY, MediaTree, OriginServer, write_config

from origin.cache import ObjectKind, cache_control, cache_headers, classify_path
from origin.config import CacheConfig

K = ObjectKind
IMMUTABLE = "public, max-age=31536000, immutable"

CLASSIFY = [
    pytest.param("vod/title/720p/seg00001.m4s", K.IMMUTABLE, id="vod-segment"),
    pytest.param("vod/title/720p/init.mp4", K.IMMUTABLE, id="vod-init"),
    pytest.param("vod/title/index.m3u8", K.IMMUTABLE, id="vod-playlist-versioned-path"),
    pytest.param("vod/title/subs.vtt", K.IMMUTABLE, id="vod-anything"),
    pytest.param("live/ch/360p/part123.m4s", K.IMMUTABLE, id="live-part"),
    pytest.param("live/ch/360p/seg12.m4s", K.IMMUTABLE, id="live-segment"),
    pytest.param("live/ch/360p/init.mp4", K.IMMUTABLE, id="live-init"),
    pytest.param("live/ch/360p/index.m3u8", K.LIVE_PLAYLIST, id="live-media-playlist"),
    pytest.param("live/ch/index.m3u8", K.LIVE_PLAYLIST, id="live-playlist-on-disk"),
    pytest.param("sample.mp4", K.IMMUTABLE, id="progressive-mp4"),
    pytest.param("movie.M4V", K.IMMUTABLE, id="progressive-m4v-upper-case"),
    pytest.param("song.m4a", K.IMMUTABLE, id="audio"),
    pytest.param("stream.ts", K.IMMUTABLE, id="transport-stream"),
    pytest.param("p.m3u8", K.PLAYLIST, id="static-playlist"),
    pytest.param("dash/manifest.mpd", K.PLAYLIST, id="static-dash-manifest"),
    pytest.param("poster.jpg", K.OTHER, id="image"),
    pytest.param("data.json", K.OTHER, id="json"),
    pytest.param("subs.vtt", K.OTHER, id="subtitles"),
    pytest.param("f.bin", K.OTHER, id="unknown-type"),
    pytest.param("livestream.mp4", K.IMMUTABLE, id="live-prefix-needs-slash"),
    pytest.param("vodka.m3u8", K.PLAYLIST, id="vod-prefix-needs-slash"),
]


@pytest.mark.parametrize(("rel", "kind"), CLASSIFY)
def test_classify_path(rel: str, kind: ObjectKind) -> None:
    assert classify_path(rel) is kind


CFG = CacheConfig()

CONTROL = [
    pytest.param(K.IMMUTABLE, 0, IMMUTABLE, id="immutable"),
    pytest.param(K.PLAYLIST, 0, "public, max-age=2", id="static-playlist"),
    pytest.param(K.OTHER, 0, "public, max-age=3600", id="other"),
    pytest.param(K.LIVE_PLAYLIST, 4, "public, max-age=1", id="live-playlist-llhls"),
    pytest.param(K.LIVE_PLAYLIST_BLOCKED, 4, "public, max-age=24", id="blocked-6xTD"),
    pytest.param(K.LIVE_MULTIVARIANT, 4, "public, max-age=2", id="multivariant-TD/2"),
    pytest.param(K.BLOCKING_ERROR, 4, "public, max-age=16", id="blocking-4xx-4xTD"),
    pytest.param(K.PLAYLIST_ERROR, 4, "public, max-age=4", id="playlist-failure-TD"),
    pytest.param(K.LIVE_PLAYLIST_BLOCKED, 2, "public, max-age=12", id="blocked-TD2"),
    pytest.param(K.LIVE_MULTIVARIANT, 1, "public, max-age=1", id="half-second-rounds-up-to-1"),
    pytest.param(K.LIVE_MULTIVARIANT, 5, "public, max-age=2", id="TD/2-whole-seconds"),
    pytest.param(K.LIVE_MULTIVARIANT, 0, "public, max-age=1", id="never-max-age-0"),
    pytest.param(K.NOT_FOUND, 0, "public, max-age=1", id="404-max-age-1"),
    pytest.param(K.ERROR, 0, "no-store", id="error-no-store"),
]


@pytest.mark.parametrize(("kind", "td", "expected"), CONTROL)
def test_cache_control(kind: ObjectKind, td: int, expected: str) -> None:
    assert cache_control(kind, CFG, td) == expected


def test_every_kind_has_a_policy() -> None:
    for kind in ObjectKind:
        assert cache_control(kind, CFG, 4), kind


def test_configured_values_are_used() -> None:
    cfg = CacheConfig(immutable="max-age=5", not_found="no-cache", error="private")
    assert cache_control(K.IMMUTABLE, cfg) == "max-age=5"
    assert cache_control(K.NOT_FOUND, cfg) == "no-cache"
    assert cache_control(K.ERROR, cfg) == "private"


EDGE = CacheConfig(edge_headers=("CDN-Cache-Control", "Surrogate-Control"))

EDGE_ROWS = [
    pytest.param(K.IMMUTABLE, 0, "max-age=31536000", id="immutable"),
    pytest.param(K.PLAYLIST, 0, "max-age=2", id="playlist"),
    pytest.param(K.OTHER, 0, "max-age=3600", id="other"),
    pytest.param(K.LIVE_PLAYLIST, 4, "max-age=1", id="live-playlist"),
    pytest.param(K.NOT_FOUND, 0, "max-age=1", id="not-found"),
    pytest.param(K.LIVE_PLAYLIST_BLOCKED, 4, "max-age=24", id="blocked-same-as-browser"),
    pytest.param(K.LIVE_MULTIVARIANT, 4, "max-age=2", id="multivariant-same-as-browser"),
    pytest.param(K.BLOCKING_ERROR, 4, "max-age=16", id="blocking-error-same-as-browser"),
    pytest.param(K.ERROR, 0, "no-store", id="error-never-stored-at-the-edge"),
]


@pytest.mark.parametrize(("kind", "td", "edge"), EDGE_ROWS)
def test_edge_headers(kind: ObjectKind, td: int, edge: str) -> None:
    assert cache_headers(kind, EDGE, td) == [
        ("cache-control", cache_control(kind, EDGE, td)),
        ("cdn-cache-control", edge),
        ("surrogate-control", edge),
    ]


def test_no_edge_headers_by_default() -> None:
    for kind in ObjectKind:
        assert [name for name, _ in cache_headers(kind, CFG, 4)] == ["cache-control"]


@pytest.fixture(scope="module")
def edge_server(
    media: MediaTree,
    tmp_path_factory: pytest.TempPathFactory,
    start_origin: Callable[..., OriginServer],
) -> OriginServer:
    config = write_config(
        tmp_path_factory.mktemp("edge") / "edge.toml",
        media.root,
        '\n[cache]\nedge_headers = ["CDN-Cache-Control", "Surrogate-Control"]\n'
        'edge_immutable = "max-age=600"\n',
    )
    return start_origin(config, "uvicorn", FILES_ONLY)


WIRE = [
    pytest.param("/clip.mp4", {}, 200, IMMUTABLE, "max-age=600", id="200-immutable"),
    pytest.param("/clip.mp4", {"Range": "bytes=0-0"}, 206, IMMUTABLE, "max-age=600", id="206"),
    pytest.param(
        "/clip.mp4",
        {"If-None-Match": "*"},
        304,
        IMMUTABLE,
        "max-age=600",
        id="304-repeats-edge-headers",
    ),
    pytest.param(
        "/p.m3u8",
        {"Accept-Encoding": "gzip", "If-None-Match": "*"},
        304,
        "public, max-age=2",
        "max-age=2",
        id="304-gzip-playlist",
    ),
    pytest.param(
        "/live/ch/index.m3u8", {}, 200, "public, max-age=1", "max-age=1", id="live-playlist"
    ),
    pytest.param("/nope.m4s", {}, 404, "public, max-age=1", "max-age=1", id="404"),
    pytest.param("/f.bin", {}, 200, "public, max-age=3600", "max-age=3600", id="other"),
]


@pytest.mark.server
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("path", "headers", "status", "cc", "edge"), WIRE)
def test_edge_headers_on_the_wire(
    edge_server: OriginServer,
    path: str,
    headers: dict[str, str],
    status: int,
    cc: str,
    edge: str,
    method: str,
) -> None:
    resp = edge_server.request(method, path, headers)
    assert resp.status == status
    assert resp.all("cache-control") == [cc]
    assert resp.all("cdn-cache-control") == [edge]
    assert resp.all("surrogate-control") == [edge]


@pytest.mark.server
def test_errors_have_no_edge_ttl(edge_server: OriginServer) -> None:
    for resp in (
        edge_server.request("GET", "/f.bin", {"Range": "bytes=99999-"}),
        edge_server.request("GET", "/f.bin", {"If-Match": '"x"'}),
        edge_server.request("DELETE", "/f.bin"),
    ):
        assert resp.status in (416, 412, 405)
        assert resp.get("cache-control") == "no-store"
        assert resp.get("cdn-cache-control") in (None, "no-store")
        assert resp.get("surrogate-control") in (None, "no-store")
