"""The origin behind a real CDN edge: nginx running docs/nginx-cdn.conf, on 127.0.0.1.

One origin (files + a synthetic live channel this test publishes part by part) and one nginx for
the module. Each test observes the edge through X-Cache-Status and the origin through its access
log (one line per request it answered), so "reached the origin once" is counted, not assumed.
docs/cdn.md links its claims to these tests.

nginx facts these tests pin down (Debian nginx 1.22.1):
- freshness is kept in whole seconds: `max-age=1` stored at 12:00:00.9 is fresh until 12:00:01.999,
  so a 1 s object lives 1 to 2 s at the edge (never less than max-age, never more than max-age + 1);
- proxy_cache_lock waiters poll the lock every 500 ms: collapsed requests are answered up to
  0.5 s after the one that went to the origin;
- nginx never generates Age, passes an upstream Age through unchanged and ignores it for freshness.
"""

from __future__ import annotations

import gzip
import http.server
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
from cdn_support import (
    NGINX,
    LiveHubThread,
    Nginx,
    Origin,
    cdn_script,
    poll_until,
    require_nginx,
)
from conftest import pattern

pytestmark = [pytest.mark.server]

TD = 1  # the synthetic channel's target duration: blocking requests time out after 3 x TD
PARTS = 4  # parts per segment
MP4_SIZE = 3_000_000  # three 1 MiB slices: 0-1048575, 1048576-2097151, 2097152-2999999
SLICE = 1 << 20
# nginx keeps freshness in whole seconds (see the module docstring): max-age=1 lasts 1 to 2 s.
MAX_AGE_1_AT_THE_EDGE = 2.0
MARGIN = 0.35  # scheduling on a busy 2-core runner


@dataclass
class Stack:
    root: Path
    files: dict[str, bytes]
    origin: Origin
    cdn: Nginx
    live: LiveHubThread


def vod_files() -> dict[str, bytes]:
    return {
        "vod/t/init.mp4": pattern(900, seed=1),
        "vod/t/seg0.m4s": pattern(60_000, seed=2),
        "vod/t/movie.mp4": pattern(MP4_SIZE, seed=3),
        "vod/t/cold.mp4": pattern(MP4_SIZE, seed=4),
        "vod/t/age.m4s": pattern(5_000, seed=5),
        "vod/t/cors.m4s": pattern(5_000, seed=6),
        "vod/t/etag.m4s": pattern(5_000, seed=7),
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_nginx()
    with tempfile.TemporaryDirectory(prefix="origin-cdn-") as tmp:
        work = Path(tmp)
        root = work / "media"
        files = vod_files()
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        live = LiveHubThread(
            root, str(work / "hub.sock"), name="ch", td=TD, parts_per_segment=PARTS
        )
        live.advance(3 * PARTS + 1)  # three segments and one part of the fourth
        origin = cdn = None
        try:
            origin = Origin(root, work, hub_socket=live.socket_path)
            poll_until(
                lambda: origin.request("/live/ch/low/index.m3u8").status == 200,
                10,
                what="the origin mirroring the live hub",
            )
            cdn = Nginx(origin.base_url, work / "nginx")
            yield Stack(root, files, origin, cdn, live)
            log = origin.log()
            assert "Traceback" not in log, log[-5000:]
            assert "[alert]" not in cdn.log() and "[emerg]" not in cdn.log(), cdn.log()
        finally:
            if cdn is not None:
                cdn.stop()
            if origin is not None:
                origin.stop()
            live.close()


def part_index(msn: int, part: int, ahead: int) -> tuple[int, int]:
    """(msn, part) of the part `ahead` parts after (msn, part)."""
    i = msn * PARTS + part + ahead
    return i // PARTS, i % PARTS


# -- the template ----------------------------------------------------------------------------------


def test_template_renders_and_nginx_accepts_it(tmp_path: Path) -> None:
    require_nginx()
    import subprocess

    cdn = cdn_script()
    conf = cdn.render("http://127.0.0.1:9", "127.0.0.1:9", tmp_path)
    text = conf.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "@" not in body
    assert "proxy_cache_key $scheme$proxy_host$request_uri;" in text  # query string in the key
    assert "proxy_cache_valid" not in body  # the origin's Cache-Control decides every TTL
    check = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


# -- VOD and the progressive MP4 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "slices"),
    [("vod/t/init.mp4", 1), ("vod/t/seg0.m4s", 1), ("vod/t/movie.mp4", 3)],
)
def test_vod_media_is_a_hit_the_second_time(stack: Stack, rel: str, slices: int) -> None:
    path = "/" + rel
    data = stack.files[rel]
    first = stack.cdn.request(path)
    assert (first.status, first["x-cache-status"]) == (200, "MISS")
    assert first.body == data and first["content-length"] == str(len(data))
    second = stack.cdn.request(path)
    assert (second.status, second["x-cache-status"]) == (200, "HIT")
    assert second.body == data
    assert second["cache-control"] == "public, max-age=31536000, immutable"
    assert second["etag"] == first["etag"]
    # Media is cached in 1 MiB slices: one origin request per slice, then none.
    assert stack.origin.settled_hits(path) == slices
    ranges = re.findall(r'range="bytes=(\d+)-(\d+)"', "\n".join(stack.origin.lines(path)))
    assert sorted(int(a) for a, _ in ranges) == [i * SLICE for i in range(slices)]


RANGES = [
    # (Range header, first byte, last byte)
    ("bytes=0-0", 0, 0),
    ("bytes=1048000-1049999", 1048000, 1049999),  # across the first slice boundary
    ("bytes=2097100-2097199", 2097100, 2097199),
    ("bytes=-500", MP4_SIZE - 500, MP4_SIZE - 1),
    ("bytes=2999990-", 2999990, MP4_SIZE - 1),
]


def test_ranges_of_a_cached_mp4_come_from_the_cache(stack: Stack) -> None:
    path = "/vod/t/movie.mp4"
    data = stack.files["vod/t/movie.mp4"]
    stack.cdn.request(path)  # cached (HIT if the test above ran)
    before = stack.origin.settled_hits(path)
    for header, first, last in RANGES:
        r = stack.cdn.request(path, {"Range": header})
        assert r.status == 206, (header, r.status)
        assert r["content-range"] == f"bytes {first}-{last}/{MP4_SIZE}", header
        assert r["content-length"] == str(last - first + 1)
        assert r.body == data[first : last + 1], header
        assert r["x-cache-status"] == "HIT", header
        assert r["access-control-allow-origin"] == "*"
    # Unsatisfiable: nginx answers 416 itself, from the cached length.
    r = stack.cdn.request(path, {"Range": f"bytes={MP4_SIZE}-"})
    assert r.status == 416 and r["content-range"] == f"bytes */{MP4_SIZE}"
    # Several ranges: with `slice`, nginx serves single ranges only and answers a multi-range
    # request with the whole file (200), which RFC 9110 §14.2 allows (a server MAY ignore Range).
    r = stack.cdn.request(path, {"Range": "bytes=0-99,2000000-2000099"})
    assert r.status == 200 and r.body == data
    assert stack.origin.settled_hits(path) == before, "a range of a cached MP4 reached the origin"


def test_a_cold_range_fetches_only_the_slice_it_needs(stack: Stack) -> None:
    path = "/vod/t/cold.mp4"
    data = stack.files["vod/t/cold.mp4"]
    r = stack.cdn.request(path, {"Range": "bytes=2500000-2500099"})
    assert r.status == 206 and r["x-cache-status"] == "MISS"
    assert r["content-range"] == f"bytes 2500000-2500099/{MP4_SIZE}"
    assert r.body == data[2500000:2500100]
    time.sleep(0.6)  # the origin's access log is flushed every 0.25 s
    lines = stack.origin.lines(path)
    assert len(lines) == 1 and 'range="bytes=2097152-3145727"' in lines[0], lines
    again = stack.cdn.request(path, {"Range": "bytes=2999000-"})
    assert again.status == 206 and again["x-cache-status"] == "HIT"
    assert again.body == data[2999000:]


# -- live ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_live_playlist_is_refetched_after_its_max_age(stack: Stack) -> None:
    path = "/live/ch/low/index.m3u8"
    before = stack.origin.settled_hits(path)
    # Wait for a request that reaches the origin: the object is fresh from then on.
    first, _ = poll_until(
        lambda: (r := stack.cdn.request(path))["x-cache-status"] != "HIT" and r,
        MAX_AGE_1_AT_THE_EDGE + MARGIN,
        what="a live playlist fetched from the origin",
    )
    fetched = time.monotonic()
    assert first.status == 200 and first["cache-control"] == "public, max-age=1"
    hit = stack.cdn.request(path)
    assert (hit["x-cache-status"], hit.body) == ("HIT", first.body)

    msn, part = stack.live.position
    stack.live.advance(1)
    new_part = re.compile(rf'#EXT-X-PART:[^\n]*URI="part{msn}\.{part}\.m4s"'.encode())
    assert not new_part.search(first.body)
    seen: list[str] = []

    def refreshed() -> object:
        r = stack.cdn.request(path)
        seen.append(r["x-cache-status"])
        return new_part.search(r.body) and r

    fresh, _ = poll_until(refreshed, MAX_AGE_1_AT_THE_EDGE + MARGIN, what="the refreshed playlist")
    elapsed = time.monotonic() - fetched
    assert fresh["x-cache-status"] in ("EXPIRED", "MISS")
    assert set(seen[:-1]) <= {"HIT"}, seen  # the stale copy was served from the cache until then
    assert 1.0 - MARGIN <= elapsed <= MAX_AGE_1_AT_THE_EDGE + MARGIN, elapsed
    assert stack.origin.settled_hits(path) - before == 2  # the first fetch and the refresh


@pytest.mark.slow
def test_identical_blocking_requests_reach_the_origin_once(stack: Stack) -> None:
    msn, part = stack.live.position  # the next part: not published, hinted
    playlist = f"/live/ch/low/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
    hinted = f"/live/ch/low/part{msn}.{part}.m4s"
    n = 20
    with ThreadPoolExecutor(2) as pool:
        playlists = pool.submit(stack.cdn.many, playlist, n)
        parts = pool.submit(stack.cdn.many, hinted, n)
        time.sleep(1.25)  # every request is parked: at the edge, or (one of each) at the origin
        assert not playlists.done() and not parts.done()
        published = time.time()
        stack.live.advance(1)
        got_playlists = playlists.result(15)
        got_parts = parts.result(15)

    bodies = {r.body for r, _ in got_playlists}
    assert {r.status for r, _ in got_playlists} == {200} and len(bodies) == 1
    body = bodies.pop()
    assert f"part{msn}.{part}.m4s".encode() in body
    assert {r["cache-control"] for r, _ in got_playlists} == {f"public, max-age={6 * TD}"}
    expected = stack.live.channel.part_bytes("low", msn, part)
    assert {r.status for r, _ in got_parts} == {200}
    assert {r.body for r, _ in got_parts} == {expected}

    # One request per URL reached the origin; the edge answered the other 19 of each.
    assert stack.origin.settled_hits(playlist) == 1, stack.origin.lines(playlist)
    assert stack.origin.settled_hits(hinted) == 1, stack.origin.lines(hinted)
    statuses = sorted(r["x-cache-status"] for r, _ in got_playlists)
    assert statuses.count("MISS") == 1, statuses

    # The waiters re-check nginx's cache lock every 500 ms: the last answer comes up to 0.5 s
    # after publication (docs/cdn.md "Request collapsing" quotes this figure).
    delays = sorted(done - published for _, done in got_playlists + got_parts)
    print(f"\ncollapsed blocking requests: first {delays[0] * 1000:.0f} ms, "
          f"median {delays[len(delays) // 2] * 1000:.0f} ms, last {delays[-1] * 1000:.0f} ms "
          "after publication")  # fmt: skip
    assert delays[0] < 0.3 and delays[-1] < 0.5 + MARGIN, delays

    # The same URL later is a HIT for its whole max-age (6 x TD): no new origin request.
    again = stack.cdn.request(playlist)
    assert again["x-cache-status"] == "HIT" and again.body == body
    assert stack.origin.settled_hits(playlist) == 1


@pytest.mark.slow
def test_a_404_for_media_not_yet_available_is_cached_only_for_its_max_age(stack: Stack) -> None:
    msn, part = stack.live.position
    a_msn, a_part = part_index(msn, part, 1)  # one after the hinted part: not hinted → 404
    ahead = f"/live/ch/low/part{a_msn}.{a_part}.m4s"
    segment = f"/live/ch/low/seg{a_msn}.m4s"  # the segment that part belongs to
    missing = {}
    for path in (ahead, segment):
        r = stack.cdn.request(path)
        assert r.status == 404 and r["cache-control"] == "public, max-age=1", path
        assert r["x-cache-status"] == "MISS"
        again = stack.cdn.request(path)
        assert (again.status, again["x-cache-status"]) == (404, "HIT")  # cached, briefly
        missing[path] = time.monotonic()
    # Publish up to the end of that segment: both now exist at the origin.
    stack.live.advance(PARTS * (a_msn + 1) - (msn * PARTS + part))
    assert stack.origin.request(ahead).status == 200
    for path, since in missing.items():
        r, _ = poll_until(
            lambda p=path: (r := stack.cdn.request(p)).status == 200 and r,
            MAX_AGE_1_AT_THE_EDGE + MARGIN,
            what=f"{path} through the edge",
        )
        waited = time.monotonic() - since
        assert waited <= MAX_AGE_1_AT_THE_EDGE + MARGIN, (path, waited)
        assert r["cache-control"] == "public, max-age=31536000, immutable"
    expected = stack.live.channel.part_bytes("low", a_msn, a_part)
    assert stack.cdn.request(ahead).body == expected


@pytest.mark.slow
def test_a_503_blocking_timeout_is_never_stored(stack: Stack) -> None:
    msn, part = stack.live.position
    target = f"/live/ch/high/index.m3u8?_HLS_msn={msn + 1}&_HLS_part=0"
    started = time.monotonic()
    r = stack.cdn.request(target)
    assert r.status == 503 and r["cache-control"] == "no-store"
    assert 3 * TD - MARGIN <= time.monotonic() - started <= 3 * TD + 2  # the origin's timeout
    stack.live.advance(PARTS + 1 - part)  # up to and including part 0 of msn + 1
    r = stack.cdn.request(target)
    assert (r.status, r["x-cache-status"]) == (200, "MISS")  # not the 503
    assert f"part{msn + 1}.0.m4s".encode() in r.body


# -- headers: Age, Date, CORS, validators, encodings -----------------------------------------------


def test_age_is_not_generated_but_the_origin_date_is_kept(stack: Stack) -> None:
    path = "/vod/t/age.m4s"
    first = stack.cdn.request(path)
    assert first["x-cache-status"] == "MISS"
    time.sleep(1.1)
    hit = stack.cdn.request(path)
    assert hit["x-cache-status"] == "HIT"
    # nginx 1.22 never sends Age (the origin sends none: it is the origin). With
    # `proxy_pass_header Date` the stored response keeps the origin's Date, so a client can
    # compute the age (RFC 9111 §4.2.3: apparent_age = now - Date); without it nginx would stamp
    # each HIT with the current time and the response would look brand new.
    assert hit.get("age") is None
    assert hit.all("date") == first.all("date") and len(hit.all("date")) == 1
    assert "Age" in hit["access-control-expose-headers"]


class _AgedUpstream(http.server.BaseHTTPRequestHandler):
    """An upstream cache answering as a shield would: Age 99 of max-age 100."""

    def do_GET(self) -> None:
        body = b"from a parent cache\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=100")
        self.send_header("Age", "99")
        self.send_header("Date", formatdate(usegmt=True))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.slow
def test_an_upstream_age_passes_through_unchanged_and_is_ignored_for_freshness(
    tmp_path: Path,
) -> None:
    require_nginx()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AgedUpstream)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    cdn = Nginx(f"http://127.0.0.1:{upstream.server_address[1]}", tmp_path / "nginx")
    try:
        first = cdn.request("/x.txt")
        assert (first["x-cache-status"], first["age"]) == ("MISS", "99")
        time.sleep(MAX_AGE_1_AT_THE_EDGE + 0.2)
        later = cdn.request("/x.txt")
        # RFC 9111 §4.2.3 would make this stale after 1 s (100 - 99) and its Age 101+.
        # nginx 1.22 stores Age as an opaque header and computes freshness from max-age alone:
        # a tier of nginx caches extends lifetimes by each tier's time. docs/cdn.md "Age".
        assert (later["x-cache-status"], later["age"]) == ("HIT", "99")
    finally:
        cdn.stop()
        upstream.shutdown()
        upstream.server_close()


def test_cors_headers_survive_the_edge(stack: Stack) -> None:
    path = "/vod/t/cors.m4s"
    miss = stack.cdn.request(path, {"Origin": "http://player.example"})
    hit = stack.cdn.request(path, {"Origin": "http://other.example"})
    part = stack.cdn.request(path, {"Range": "bytes=0-9", "Origin": "http://a.example"})
    missing = stack.cdn.request("/vod/t/nope.m4s", {"Origin": "http://a.example"})
    not_modified = stack.cdn.request(path, {"If-None-Match": hit["etag"]})
    assert [miss.status, hit.status, part.status, missing.status, not_modified.status] == [
        200, 200, 206, 404, 304,
    ]  # fmt: skip
    for r in (miss, hit, part, missing, not_modified):
        assert r["access-control-allow-origin"] == "*", r.headers  # never the echoed Origin
        assert "Origin" not in (r.get("vary") or ""), r.headers
    for r in (miss, hit, part, missing):
        exposed = {h.strip().lower() for h in r["access-control-expose-headers"].split(",")}
        assert {"age", "content-range", "date", "etag", "content-length"} <= exposed
        assert r["timing-allow-origin"] == "*"
    preflight = stack.cdn.request(
        path,
        {"Origin": "http://a.example", "Access-Control-Request-Method": "GET",
         "Access-Control-Request-Headers": "range"},
        method="OPTIONS",
    )  # fmt: skip
    assert preflight.status == 204
    assert preflight["access-control-allow-origin"] == "*"
    assert "Range" in preflight["access-control-allow-headers"]


def test_a_client_revalidation_is_answered_by_the_edge(stack: Stack) -> None:
    path = "/vod/t/etag.m4s"
    first = stack.cdn.request(path)
    before = stack.origin.settled_hits(path)
    r = stack.cdn.request(path, {"If-None-Match": first["etag"]})
    assert (r.status, r["x-cache-status"], r.body) == (304, "HIT", b"")
    assert r["etag"] == first["etag"] and "immutable" in r["cache-control"]
    other = stack.cdn.request(path, {"If-None-Match": '"something-else"'})
    assert other.status == 200 and other.body == stack.files["vod/t/etag.m4s"]
    assert stack.origin.settled_hits(path) == before


@pytest.mark.slow
def test_the_edge_revalidates_an_expired_playlist_with_the_origin(stack: Stack) -> None:
    path = "/live/ch/high/index.m3u8"  # nothing is published during this test: same bytes
    first, _ = poll_until(
        lambda: (r := stack.cdn.request(path))["x-cache-status"] != "HIT" and r,
        MAX_AGE_1_AT_THE_EDGE + MARGIN,
        what="a fetch from the origin",
    )
    again, _ = poll_until(
        lambda: (r := stack.cdn.request(path))["x-cache-status"] != "HIT" and r,
        MAX_AGE_1_AT_THE_EDGE + MARGIN,
        what="the expiry of the stored playlist",
    )
    # proxy_cache_revalidate: If-None-Match with the stored ETag, the origin says 304, the edge
    # refreshes its copy without the body crossing again.
    assert again["x-cache-status"] == "REVALIDATED"
    assert again.status == 200 and again.body == first.body
    time.sleep(0.6)
    assert " 304 0 " in stack.origin.lines(path)[-1], stack.origin.lines(path)[-3:]


def test_one_cached_copy_serves_gzip_and_identity_clients(stack: Stack) -> None:
    path = "/live/ch/index.m3u8"  # the multivariant playlist: max-age = TD/2 (at least 1 s)
    before = stack.origin.settled_hits(path)
    gz, _ = poll_until(
        lambda: (
            (r := stack.cdn.request(path, {"Accept-Encoding": "gzip"}))["x-cache-status"] != "HIT"
            and r
        ),
        MAX_AGE_1_AT_THE_EDGE + MARGIN,
        what="a fetch from the origin",
    )
    plain = stack.cdn.request(path)  # no Accept-Encoding: nginx's gunzip filter
    br = stack.cdn.request(path, {"Accept-Encoding": "br, gzip;q=0.5, deflate"})
    assert gz["content-encoding"] == "gzip"
    assert plain.get("content-encoding") is None
    assert plain["etag"] == "W/" + gz["etag"]  # gunzip weakens the tag: other bytes, same meaning
    assert gzip.decompress(gz.body) == plain.body and plain.body.startswith(b"#EXTM3U")
    assert (plain["x-cache-status"], br["x-cache-status"]) == ("HIT", "HIT")
    assert br.body == gz.body
    assert stack.origin.settled_hits(path) - before == 1
