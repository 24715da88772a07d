"""Blocking playlist reload, delta updates and hinted parts over the ASGI app, rule by rule.

The packager is replaced by tests/live_fakes.FakeChannel, which drives the real Window and
renderer and writes parts to disk; the HTTP side is the real app (origin.live).
Each row of each table is one rule of llhls-rules.md "Origin: delivery directives".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import m3u8
import pytest

from origin.app import create_app
from origin.config import Config, MediaConfig
from packager.hub import LiveHub
from packager.synthetic import FakeChannel

pytestmark = pytest.mark.anyio

PL = "/live/ch/low/index.m3u8"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, FakeChannel]]:
    hub = LiveHub()
    cfg = replace(Config(), media=MediaConfig(root=str(tmp_path)), live=())
    app = create_app(cfg, source=hub)
    app.access.enabled = False
    channel = FakeChannel(tmp_path, hub)
    channel.advance(4 * 7 + 2)  # seven complete segments (msn 0-6) and two parts of msn 7
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://origin") as client:
        yield client, channel


def tags(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# (query, expected status, expected Cache-Control) for requests answered at once.
IMMEDIATE = [
    pytest.param("", 200, "public, max-age=1", id="no-directives-short-ttl"),
    pytest.param("_HLS_msn=6", 200, "public, max-age=6", id="published-msn-answers-now-6xTD"),
    pytest.param("_HLS_msn=7&_HLS_part=1", 200, "public, max-age=6", id="published-part-now"),
    pytest.param("_HLS_msn=3&_HLS_part=9", 200, "public, max-age=6", id="old-part-rolls-over"),
    pytest.param("token=abc&_HLS_msn=6&x=1", 200, "public, max-age=6", id="other-params-ok"),
    pytest.param("_HLS_part=1", 400, "public, max-age=4", id="part-without-msn-400"),
    pytest.param("_HLS_msn=10", 400, "public, max-age=4", id="msn-beyond-last-plus-2-400"),
    pytest.param("_HLS_msn=7&_HLS_part=20", 400, "public, max-age=4", id="advance-part-limit"),
    pytest.param("_HLS_msn=abc", 400, "public, max-age=4", id="malformed-msn-400"),
    pytest.param("_HLS_msn=-1", 400, "public, max-age=4", id="negative-msn-400"),
    pytest.param("_HLS_skip=maybe", 400, "public, max-age=1", id="bad-skip-nonblocking-TD"),
]


@pytest.mark.parametrize(("query", "status", "cache"), IMMEDIATE)
async def test_immediate_answers(live, query: str, status: int, cache: str) -> None:
    client, _ = live
    r = await asyncio.wait_for(client.get(f"{PL}?{query}"), 1.0)
    assert r.status_code == status, r.text
    assert r.headers["cache-control"] == cache
    assert r.headers["access-control-allow-origin"] == "*"
    if status == 200:
        assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
        pl = m3u8.loads(r.text)
        assert pl.target_duration == 1
        assert tags(r.text, "#EXT-X-PRELOAD-HINT") == [
            '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part7.2.m4s"'
        ]


# (query, parts to publish before it may answer, the part that must then be in the playlist)
BLOCKING = [
    pytest.param("_HLS_msn=7&_HLS_part=2", 1, "part7.2.m4s", id="next-part"),
    pytest.param("_HLS_msn=7&_HLS_part=3", 2, "part7.3.m4s", id="two-parts-ahead"),
    pytest.param("_HLS_msn=8&_HLS_part=0", 3, "part8.0.m4s", id="next-segment-part-0"),
    pytest.param("_HLS_msn=7&_HLS_part=4", 3, "part8.0.m4s", id="part-past-end-is-next-msn-0"),
    pytest.param("_HLS_msn=8", 6, "seg8.m4s", id="msn-only-waits-for-whole-segment"),
]


@pytest.mark.parametrize(("query", "needed", "expect"), BLOCKING)
async def test_blocking_reload_waits_for_exactly_the_part(live, query, needed, expect) -> None:
    client, channel = live
    request = asyncio.ensure_future(client.get(f"{PL}?{query}"))
    for _ in range(needed - 1):
        channel.advance(1)
        await asyncio.sleep(0.05)
        assert not request.done(), "answered before the requested part existed"
    channel.advance(1)
    r = await asyncio.wait_for(request, 1.0)
    assert r.status_code == 200
    assert expect in r.text
    assert r.headers["cache-control"] == "public, max-age=6"


async def test_blocking_timeout_is_503_no_store(live) -> None:
    client, _ = live
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await client.get(f"{PL}?_HLS_msn=8&_HLS_part=0")
    waited = loop.time() - started
    assert r.status_code == 503
    assert r.headers["cache-control"] == "no-store"
    assert 2.9 <= waited < 4.5  # 3 x TD (TD = 1 s), never forever


async def test_directives_ignored_after_endlist(live) -> None:
    client, channel = live
    channel.end()
    r = await asyncio.wait_for(client.get(f"{PL}?_HLS_msn=99&_HLS_part=7"), 1.0)
    assert r.status_code == 200
    assert "#EXT-X-ENDLIST" in r.text
    assert not tags(r.text, "#EXT-X-PRELOAD-HINT")


async def test_waiters_wake_on_endlist(live) -> None:
    client, channel = live
    request = asyncio.ensure_future(client.get(f"{PL}?_HLS_msn=8&_HLS_part=1"))
    await asyncio.sleep(0.05)
    channel.end()
    r = await asyncio.wait_for(request, 1.0)
    assert r.status_code == 200 and "#EXT-X-ENDLIST" in r.text


@pytest.mark.parametrize("skip", ["YES", "v2"])
async def test_delta_update(live, skip: str) -> None:
    client, channel = live
    channel.advance(4 * 8)  # enough history that segments lie beyond CAN-SKIP-UNTIL (6 s)
    full = await client.get(PL)
    delta = await client.get(f"{PL}?_HLS_skip={skip}")
    assert delta.status_code == 200
    (skip_tag,) = tags(delta.text, "#EXT-X-SKIP:SKIPPED-SEGMENTS=")
    skipped = int(skip_tag.split("=")[1])
    assert skipped > 0
    assert tags(delta.text, "#EXT-X-VERSION") == ["#EXT-X-VERSION:9"]
    assert len(tags(full.text, "#EXTINF")) - skipped == len(tags(delta.text, "#EXTINF"))
    # rfc8216bis §4.4.5.2: EXT-X-SKIP comes after EXT-X-MEDIA-SEQUENCE.
    lines = delta.text.splitlines()
    assert lines.index(skip_tag) > lines.index(tags(delta.text, "#EXT-X-MEDIA-SEQUENCE")[0])


async def test_hinted_part_is_held_then_sent_whole(live) -> None:
    client, channel = live
    request = asyncio.ensure_future(client.get("/live/ch/low/part7.2.m4s"))
    await asyncio.sleep(0.1)
    assert not request.done()
    channel.advance(1)
    r = await asyncio.wait_for(request, 1.0)
    assert r.status_code == 200
    assert r.content == channel.part_bytes("low", 7, 2)
    assert r.headers["content-length"] == str(len(r.content))
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


# Paths answered from disk or refused, with their status and Cache-Control.
OBJECTS = [
    pytest.param(
        "/live/ch/low/part7.1.m4s",
        200,
        "public, max-age=31536000, immutable",
        id="published-part-immutable",
    ),
    pytest.param(
        "/live/ch/low/seg3.m4s", 200, "public, max-age=31536000, immutable", id="segment-immutable"
    ),
    pytest.param(
        "/live/ch/low/init0.mp4", 200, "public, max-age=31536000, immutable", id="init-immutable"
    ),
    pytest.param("/live/ch/low/part7.3.m4s", 404, "public, max-age=1", id="not-hinted-part-404"),
    pytest.param("/live/ch/low/part9.0.m4s", 404, "public, max-age=1", id="far-future-part-404"),
    pytest.param("/live/ch/low/seg7.m4s", 404, "public, max-age=1", id="segment-in-progress-404"),
    pytest.param("/live/ch/nope/index.m3u8", 404, "public, max-age=1", id="unknown-rendition"),
    pytest.param("/live/ch/index.m3u8", 200, "public, max-age=1", id="multivariant-TD/2"),
]


@pytest.mark.parametrize(("path", "status", "cache"), OBJECTS)
async def test_objects(live, path: str, status: int, cache: str) -> None:
    client, _ = live
    r = await asyncio.wait_for(client.get(path), 1.0)
    assert r.status_code == status
    assert r.headers["cache-control"] == cache
    assert r.headers["access-control-allow-origin"] == "*"


async def test_playlist_gzip_and_validators(live) -> None:
    client, _ = live
    plain = await client.get(PL, headers={"accept-encoding": "identity"})
    zipped = await client.get(PL, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.text == plain.text  # httpx decodes the gzip body
    again = await client.get(
        PL, headers={"if-none-match": plain.headers["etag"], "accept-encoding": "identity"}
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=1"


async def test_parts_only_no_playlist_before_first_segment(tmp_path: Path) -> None:
    hub = LiveHub()
    cfg = replace(Config(), media=MediaConfig(root=str(tmp_path)), live=())
    app = create_app(cfg, source=hub)
    app.access.enabled = False
    channel = FakeChannel(tmp_path, hub)
    channel.advance(2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
        assert (await client.get(PL)).status_code == 404
        assert (await client.get("/live/ch/index.m3u8")).status_code in (200, 404)
        request = asyncio.ensure_future(client.get(f"{PL}?_HLS_msn=0"))
        await asyncio.sleep(0.05)
        assert not request.done()
        channel.advance(2)
        r = await asyncio.wait_for(request, 1.0)
        assert r.status_code == 200 and "seg0.m4s" in r.text


async def test_rendition_reports_name_the_other_rendition(live) -> None:
    client, _ = live
    r = await client.get(PL)
    assert tags(r.text, "#EXT-X-RENDITION-REPORT") == [
        '#EXT-X-RENDITION-REPORT:URI="../high/index.m3u8",LAST-MSN=7,LAST-PART=1'
    ]
