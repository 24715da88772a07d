"""http-rules.md against the real `origin serve` process, one table row per rule.

Every row runs for GET and for HEAD (HEAD must answer with the same status and headers as GET and
no body) on every server in conftest.SERVERS. Requests go over a raw socket with
`Connection: close`, so the bytes checked are exactly the bytes on the wire: a body longer than
Content-Length is caught, not hidden by a client library.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    BIG_SIZE,
    F_SIZE,
    FILES_ONLY,
    TYPED_FILES,
    MediaTree,
    OriginServer,
    RawResponse,
    build_request,
    parse_response,
    pattern,
    poll,
    write_config,
)

pytestmark = pytest.mark.server

IMMUTABLE = "public, max-age=31536000, immutable"
LIVE_PLAYLIST = "public, max-age=1"
PLAYLIST = "public, max-age=2"
OTHER = "public, max-age=3600"
NOT_FOUND = "public, max-age=1"
NO_STORE = "no-store"
EXPOSE = "Content-Range, Content-Length, Accept-Ranges, Age, Date, ETag"
BOUNDARY = re.compile(r"multipart/byteranges; boundary=([0-9A-Za-z'+_.-]{1,70})")
STRONG_ETAG = re.compile(r'"[\x21\x23-\x7e]+"')

# -- validators: filled in per server from a plain GET, then substituted into request headers ------


def http_date(seconds: int) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def rfc850_date(seconds: int) -> str:
    t = time.gmtime(seconds)
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return f"{days[t.tm_wday]}, {time.strftime('%d-%b-%y %H:%M:%S', t)} GMT"


def asctime_date(seconds: int) -> str:
    t = time.gmtime(seconds)
    return f"{time.strftime('%a %b', t)} {t.tm_mday:2d} {time.strftime('%H:%M:%S %Y', t)}"


_validators: dict[tuple[int, str], dict[str, str]] = {}


def validators(srv: OriginServer, path: str) -> dict[str, str]:
    """Return the placeholders a row's headers may use, for `path` on `srv`."""
    key = (srv.port, path)
    if key not in _validators:
        plain = srv.request("GET", path)
        values = {"etag": plain.get("etag") or '"none"'}
        gz = srv.request("GET", path, {"Accept-Encoding": "gzip"})
        values["etag_gz"] = gz.get("etag") or '"none"'
        lm_header = plain.get("last-modified")
        if lm_header:
            lm = int(email.utils.parsedate_to_datetime(lm_header).timestamp())
            values |= {
                "lm": http_date(lm),
                "lm-1": http_date(lm - 1),
                "lm+1": http_date(lm + 1),
                "lm850": rfc850_date(lm),
                "lmasc": asctime_date(lm),
            }
        _validators[key] = values
    return _validators[key]


# -- expectations for the body ---------------------------------------------------------------------


@dataclass(frozen=True)
class Full:
    """200 with the whole identity representation."""


@dataclass(frozen=True)
class Slice:
    """Single-part 206 of bytes first..last (inclusive)."""

    first: int
    last: int


@dataclass(frozen=True)
class Multi:
    """multipart/byteranges 206 with exactly these (first, last) parts, in this order."""

    parts: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Gzipped:
    """200 whose body gunzips to the whole representation."""


@dataclass(frozen=True)
class NotModified:
    """304: no body, no Content-Type/Content-Length/Content-Encoding."""


@dataclass(frozen=True)
class Error:
    """An error body (text): only the framing is checked."""


Body = Full | Slice | Multi | Gzipped | NotModified | Error


@dataclass(frozen=True)
class Row:
    path: str
    status: int
    body: Body
    headers: dict[str, str] = field(default_factory=dict)
    expect: dict[str, str | None] = field(default_factory=dict)  # exact value; None = absent


def row(
    rule: str,
    path: str,
    status: int,
    body: Body,
    headers: dict[str, str] | None = None,
    **expect: str | None,
) -> Any:
    """One rule: `expect` keys are header names with `_` for `-` (content_range=...)."""
    exp = {k.replace("_", "-"): v for k, v in expect.items()}
    return pytest.param(Row(path, status, body, headers or {}, exp), id=rule)


F = "/f.bin"
BIG = "/big.bin"
PL = "/p.m3u8"
GZ = {"Accept-Encoding": "gzip"}
NINES = "9" * 30
SIXTEEN = ",".join(f"{i * 600}-{i * 600 + 9}" for i in range(16))
SEVENTEEN = ",".join(f"{i * 550}-{i * 550 + 9}" for i in range(17))

RANGE_ROWS = [
    row("range-first-byte", F, 206, Slice(0, 0), {"Range": "bytes=0-0"}),
    row("range-unit-case-insensitive", F, 206, Slice(0, 0), {"Range": "Bytes=0-0"}),
    row("range-unit-upper-case", F, 206, Slice(5, 9), {"Range": "BYTES=5-9"}),
    row("range-unknown-unit-ignored", F, 200, Full(), {"Range": "items=0-5"}),
    row("range-first-last", F, 206, Slice(0, 499), {"Range": "bytes=0-499"}),
    row("range-open-ended", F, 206, Slice(9500, 9999), {"Range": "bytes=9500-"}),
    row("range-suffix", F, 206, Slice(9500, 9999), {"Range": "bytes=-500"}),
    row(
        "range-ows-after-equals-and-commas",
        F,
        206,
        Multi(((0, 999), (9500, 9999))),
        {"Range": "bytes= 0-999, -500"},
    ),
    row("range-invalid-last-before-first", F, 200, Full(), {"Range": "bytes=5-4"}),
    row("range-invalid-garbage", F, 200, Full(), {"Range": "abc"}),
    row("range-invalid-empty-set", F, 200, Full(), {"Range": "bytes="}),
    row("range-invalid-two-dashes", F, 200, Full(), {"Range": "bytes=1-2-3"}),
    row("range-invalid-plus", F, 200, Full(), {"Range": "bytes=+1-2"}),
    row("range-invalid-underscore", F, 200, Full(), {"Range": "bytes=1_0-20"}),
    row("range-invalid-space-inside-spec", F, 200, Full(), {"Range": "bytes=0 -5"}),
    row("range-invalid-non-ascii-digit", F, 200, Full(), {"Range": "bytes=\u0661-2"}),
    row("range-invalid-hex", F, 200, Full(), {"Range": "bytes=0x1-2"}),
    row("range-invalid-bare-dash", F, 200, Full(), {"Range": "bytes=-"}),
    row("range-invalid-one-bad-spec-spoils-all", F, 200, Full(), {"Range": "bytes=0-1,abc"}),
    row("range-huge-last-clamped", F, 206, Slice(0, 9999), {"Range": f"bytes=0-{NINES}"}),
    row("range-huge-first-unsatisfiable", F, 416, Error(), {"Range": f"bytes={NINES}-"}),
    row("range-huge-suffix-whole-file", F, 206, Slice(0, 9999), {"Range": f"bytes=-{NINES}"}),
    row("range-5000-digit-last", F, 206, Slice(1, 9999), {"Range": "bytes=1-" + "9" * 5000}),
    row("range-last-past-end-clamped", F, 206, Slice(9000, 9999), {"Range": "bytes=9000-20000"}),
    row("range-suffix-longer-than-file", F, 206, Slice(0, 9999), {"Range": "bytes=-20000"}),
    row(
        "range-drop-unsatisfiable-spec",
        F,
        206,
        Slice(0, 10),
        {"Range": "bytes=0-10,100000-"},
    ),
    row(
        "range-none-satisfiable-416",
        F,
        416,
        Error(),
        {"Range": "bytes=10000-"},
        content_range="bytes */10000",
    ),
    row(
        "range-zero-suffix-416",
        F,
        416,
        Error(),
        {"Range": "bytes=-0"},
        content_range="bytes */10000",
    ),
    row(
        "range-all-specs-unsatisfiable-416",
        F,
        416,
        Error(),
        {"Range": "bytes=10000-,20000-30000"},
        content_range="bytes */10000",
    ),
    row("range-empty-file-ignored", "/empty.bin", 200, Full(), {"Range": "bytes=0-0"}),
    row("range-empty-file-suffix-ignored", "/empty.bin", 200, Full(), {"Range": "bytes=-1"}),
    row(
        "range-never-on-404", "/nope.bin", 404, Error(), {"Range": "bytes=0-0"}, content_range=None
    ),
    row(
        "range-never-on-304-inm",
        F,
        304,
        NotModified(),
        {"Range": "bytes=0-0", "If-None-Match": "{etag}"},
        content_range=None,
    ),
    row(
        "range-never-on-304-ims",
        F,
        304,
        NotModified(),
        {"Range": "bytes=0-0", "If-Modified-Since": "{lm}"},
        content_range=None,
    ),
    row(
        "range-never-on-412",
        F,
        412,
        Error(),
        {"Range": "bytes=0-0", "If-Match": '"other"'},
        content_range=None,
    ),
    row(
        "range-max-specs-honoured",
        F,
        206,
        Multi(tuple((i * 600, i * 600 + 9) for i in range(16))),
        {"Range": f"bytes={SIXTEEN}"},
    ),
    row("range-too-many-specs-ignored", F, 200, Full(), {"Range": f"bytes={SEVENTEEN}"}),
    row("range-overlap-coalesced-single", F, 206, Slice(0, 199), {"Range": "bytes=0-99,50-199"}),
    row("range-near-adjacent-coalesced", F, 206, Slice(0, 20), {"Range": "bytes=0-9,12-20"}),
    row("range-duplicate-coalesced", F, 206, Slice(0, 9), {"Range": "bytes=0-9,0-9,0-9"}),
    row(
        "range-overhead-exceeds-file-ignored",
        F,
        200,
        Full(),
        {"Range": "bytes=0-5000,5200-9999"},
    ),
    row(
        "range-unsorted-parts-sorted",
        F,
        206,
        Multi(((0, 9), (5000, 5009))),
        {"Range": "bytes=5000-5009,0-9"},
    ),
    row(
        "range-large-file-streamed",
        BIG,
        206,
        Slice(1_000_000, 1_000_099),
        {"Range": "bytes=1000000-1000099"},
    ),
    row(
        "range-large-file-suffix",
        BIG,
        206,
        Slice(BIG_SIZE - 10, BIG_SIZE - 1),
        {"Range": "bytes=-10"},
    ),
    row(
        "range-large-file-multipart-streamed",
        BIG,
        206,
        Multi(((0, 9), (2_000_000, 2_000_009), (BIG_SIZE - 5, BIG_SIZE - 1))),
        {"Range": "bytes=0-9,2000000-2000009,-5"},
    ),
    row(
        "range-on-gzip-playlist-gets-identity",
        PL,
        206,
        Slice(0, 9),
        {"Range": "bytes=0-9", **GZ},
        content_encoding=None,
        vary="Accept-Encoding",
    ),
]

MULTIPART_ROWS = [
    row(
        "multipart-two-parts",
        F,
        206,
        Multi(((0, 0), (9999, 9999))),
        {"Range": "bytes=0-0,-1"},
        content_range=None,
    ),
    row(
        "multipart-part-type-video-mp4",
        "/clip.mp4",
        206,
        Multi(((0, 9), (200, 209))),
        {"Range": "bytes=0-9,200-209"},
    ),
    row(
        "multipart-part-type-playlist",
        PL,
        206,
        Multi(((0, 9), (1000, 1009))),
        {"Range": "bytes=0-9,1000-1009", **GZ},
        content_encoding=None,
    ),
    row(
        "single-range-never-multipart",
        "/clip.mp4",
        206,
        Slice(100, 199),
        {"Range": "bytes=100-199"},
        content_type="video/mp4",
    ),
    row(
        "partial-keeps-immutable-policy",
        "/vod/t/seg.m4s",
        206,
        Slice(0, 0),
        {"Range": "bytes=0-0"},
        cache_control=IMMUTABLE,
    ),
]

VALIDATOR_ROWS = [
    row("etag-plain-200", F, 200, Full()),
    row("if-match-other-412", F, 412, Error(), {"If-Match": '"other"'}, cache_control=NO_STORE),
    row("if-match-star-200", F, 200, Full(), {"If-Match": "*"}),
    row("if-match-current-200", F, 200, Full(), {"If-Match": "{etag}"}),
    row("if-match-in-list-200", F, 200, Full(), {"If-Match": '"a", {etag}'}),
    row("if-match-weak-never-matches-412", F, 412, Error(), {"If-Match": "W/{etag}"}),
    row("if-match-malformed-412", F, 412, Error(), {"If-Match": "no-quotes"}),
    row("ius-before-lm-412", F, 412, Error(), {"If-Unmodified-Since": "{lm-1}"}),
    row("ius-equal-lm-200", F, 200, Full(), {"If-Unmodified-Since": "{lm}"}),
    row("ius-invalid-date-ignored", F, 200, Full(), {"If-Unmodified-Since": "yesterday"}),
    row(
        "ius-ignored-when-if-match",
        F,
        200,
        Full(),
        {"If-Match": "{etag}", "If-Unmodified-Since": "{lm-1}"},
    ),
    row("inm-current-304", F, 304, NotModified(), {"If-None-Match": "{etag}"}),
    row("inm-weak-compare-304", F, 304, NotModified(), {"If-None-Match": "W/{etag}"}),
    row("inm-star-304", F, 304, NotModified(), {"If-None-Match": "*"}),
    row("inm-in-list-304", F, 304, NotModified(), {"If-None-Match": '"a", {etag}'}),
    row("inm-other-200", F, 200, Full(), {"If-None-Match": '"other"'}),
    row("inm-malformed-200", F, 200, Full(), {"If-None-Match": "no-quotes"}),
    row(
        "order-if-match-before-inm-412",
        F,
        412,
        Error(),
        {"If-Match": '"other"', "If-None-Match": "{etag}"},
    ),
    row(
        "order-ius-before-inm-412",
        F,
        412,
        Error(),
        {"If-Unmodified-Since": "{lm-1}", "If-None-Match": "{etag}"},
    ),
    row(
        "order-if-match-true-then-inm-304",
        F,
        304,
        NotModified(),
        {"If-Match": "{etag}", "If-Unmodified-Since": "{lm-1}", "If-None-Match": "{etag}"},
    ),
    row("ims-equal-lm-304", F, 304, NotModified(), {"If-Modified-Since": "{lm}"}),
    row("ims-after-lm-304", F, 304, NotModified(), {"If-Modified-Since": "{lm+1}"}),
    row("ims-before-lm-200", F, 200, Full(), {"If-Modified-Since": "{lm-1}"}),
    row("ims-rfc850-304", F, 304, NotModified(), {"If-Modified-Since": "{lm850}"}),
    row("ims-asctime-304", F, 304, NotModified(), {"If-Modified-Since": "{lmasc}"}),
    row("ims-invalid-date-ignored", F, 200, Full(), {"If-Modified-Since": "not a date"}),
    row(
        "ims-ignored-when-inm-present",
        F,
        200,
        Full(),
        {"If-None-Match": '"other"', "If-Modified-Since": "{lm}"},
    ),
    row(
        "ims-ignored-when-inm-matches-304",
        F,
        304,
        NotModified(),
        {"If-None-Match": "{etag}", "If-Modified-Since": "{lm-1}"},
    ),
    row(
        "if-range-strong-etag-206",
        F,
        206,
        Slice(0, 9),
        {"Range": "bytes=0-9", "If-Range": "{etag}"},
    ),
    row("if-range-weak-etag-200", F, 200, Full(), {"Range": "bytes=0-9", "If-Range": "W/{etag}"}),
    row("if-range-other-etag-200", F, 200, Full(), {"Range": "bytes=0-9", "If-Range": '"other"'}),
    row("if-range-date-equal-206", F, 206, Slice(0, 9), {"Range": "bytes=0-9", "If-Range": "{lm}"}),
    row("if-range-date-later-200", F, 200, Full(), {"Range": "bytes=0-9", "If-Range": "{lm+1}"}),
    row("if-range-date-earlier-200", F, 200, Full(), {"Range": "bytes=0-9", "If-Range": "{lm-1}"}),
    row("if-range-garbage-200", F, 200, Full(), {"Range": "bytes=0-9", "If-Range": "garbage"}),
    row(
        "if-range-multipart-206",
        F,
        206,
        Multi(((0, 9), (5000, 5009))),
        {"Range": "bytes=0-9,5000-5009", "If-Range": "{etag}"},
    ),
    row(
        "if-range-false-with-unsatisfiable-range-200",
        F,
        200,
        Full(),
        {"Range": "bytes=10000-", "If-Range": '"other"'},
    ),
    row("last-modified-clamped-to-date", "/future.bin", 200, Full()),
    row("gzip-playlist", PL, 200, Gzipped(), GZ, vary="Accept-Encoding", content_encoding="gzip"),
    row("gzip-x-gzip", PL, 200, Gzipped(), {"Accept-Encoding": "x-gzip"}),
    row("gzip-star", PL, 200, Gzipped(), {"Accept-Encoding": "*"}),
    row(
        "gzip-q0-identity",
        PL,
        200,
        Full(),
        {"Accept-Encoding": "gzip;q=0"},
        content_encoding=None,
        vary="Accept-Encoding",
    ),
    row(
        "identity-playlist-has-vary", PL, 200, Full(), vary="Accept-Encoding", content_encoding=None
    ),
    row(
        "gzip-304-gz-tag",
        PL,
        304,
        NotModified(),
        {"If-None-Match": "{etag_gz}", **GZ},
        vary="Accept-Encoding",
    ),
    row(
        "gzip-identity-tag-does-not-match-gz", PL, 200, Gzipped(), {"If-None-Match": "{etag}", **GZ}
    ),
    row("gzip-gz-tag-does-not-match-identity", PL, 200, Full(), {"If-None-Match": "{etag_gz}"}),
    row(
        "identity-304", PL, 304, NotModified(), {"If-None-Match": "{etag}"}, vary="Accept-Encoding"
    ),
    row("never-gzip-mp4", "/clip.mp4", 200, Full(), GZ, content_encoding=None, vary=None),
    row("never-gzip-segment", "/vod/t/seg.m4s", 200, Full(), GZ, content_encoding=None, vary=None),
    row(
        "never-gzip-large-media",
        "/vod/t/big.mp4",
        200,
        Full(),
        GZ,
        content_encoding=None,
        vary=None,
    ),
]

TYPE_ROWS = [
    row(f"type-{rel.rsplit('/', 1)[-1]}", "/" + rel, 200, Full(), content_type=ctype)
    for rel, ctype in TYPED_FILES.items()
]

CACHE_ROWS = [
    row("cache-progressive-mp4-immutable", "/clip.mp4", 200, Full(), cache_control=IMMUTABLE),
    row("cache-vod-segment-immutable", "/vod/t/seg.m4s", 200, Full(), cache_control=IMMUTABLE),
    row("cache-vod-playlist-immutable", "/vod/t/index.m3u8", 200, Full(), cache_control=IMMUTABLE),
    row("cache-vod-large-mp4-immutable", "/vod/t/big.mp4", 200, Full(), cache_control=IMMUTABLE),
    row("cache-live-part-immutable", "/live/ch/part.m4s", 200, Full(), cache_control=IMMUTABLE),
    row(
        "cache-live-playlist-max-age-1",
        "/live/ch/index.m3u8",
        200,
        Full(),
        cache_control=LIVE_PLAYLIST,
    ),
    row("cache-static-playlist", PL, 200, Full(), cache_control=PLAYLIST),
    row("cache-other", F, 200, Full(), cache_control=OTHER),
    row("cache-404-max-age-1", "/nope.bin", 404, Error(), cache_control=NOT_FOUND),
    row(
        "cache-404-live-part-max-age-1",
        "/live/ch/part99.m4s",
        404,
        Error(),
        cache_control=NOT_FOUND,
    ),
    row("cache-416-no-store", F, 416, Error(), {"Range": "bytes=20000-"}, cache_control=NO_STORE),
    row("cache-412-no-store", F, 412, Error(), {"If-Match": '"x"'}, cache_control=NO_STORE),
    row(
        "cache-304-keeps-policy",
        "/clip.mp4",
        304,
        NotModified(),
        {"If-None-Match": "{etag}"},
        cache_control=IMMUTABLE,
    ),
]

CORS_ROWS = [
    row("cors-origin-not-echoed-200", F, 200, Full(), {"Origin": "https://player.example"}),
    row(
        "cors-origin-not-echoed-206",
        F,
        206,
        Slice(0, 0),
        {"Origin": "https://player.example", "Range": "bytes=0-0"},
    ),
    row(
        "cors-origin-not-echoed-304",
        F,
        304,
        NotModified(),
        {"Origin": "https://player.example", "If-None-Match": "{etag}"},
    ),
    row("cors-origin-not-echoed-404", "/nope", 404, Error(), {"Origin": "https://a.example"}),
    row("cors-origin-not-echoed-gzip", PL, 200, Gzipped(), {"Origin": "https://a.example", **GZ}),
]

ALL_ROWS = RANGE_ROWS + MULTIPART_ROWS + VALIDATOR_ROWS + TYPE_ROWS + CACHE_ROWS + CORS_ROWS


# -- checks ----------------------------------------------------------------------------------------


def substitute(headers: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        for key, actual in values.items():
            value = value.replace("{" + key + "}", actual)
        assert "{" not in value, f"unresolved placeholder in {name}: {value}"
        out[name] = value
    return out


def parse_multipart(resp: RawResponse) -> list[tuple[dict[str, str], bytes]]:
    """Given a multipart/byteranges response, return (part headers, part bytes), strictly."""
    match = BOUNDARY.fullmatch(resp["content-type"])
    assert match, f"not an unquoted-token multipart/byteranges type: {resp['content-type']!r}"
    delim = b"--" + match[1].encode()
    body = resp.body
    assert body.startswith(delim + b"\r\n"), body[:100]
    parts = []
    pos = 0
    while True:
        assert body.startswith(delim, pos), f"expected delimiter at {pos}: {body[pos : pos + 80]!r}"
        pos += len(delim)
        if body.startswith(b"--", pos):
            rest = body[pos + 2 :]
            assert rest in (b"", b"\r\n"), f"bytes after close-delimiter: {rest!r}"
            return parts
        assert body.startswith(b"\r\n", pos), "delimiter not followed by CRLF"
        pos += 2
        end = body.index(b"\r\n\r\n", pos)
        block = body[pos:end].decode("latin-1")
        lines = block.split("\r\n")
        assert all("\n" not in line and "\r" not in line for line in lines), repr(block)
        headers = {}
        for line in lines:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        assert set(headers) == {"content-type", "content-range"}, headers
        cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers["content-range"])
        assert cr, headers["content-range"]
        length = int(cr[2]) - int(cr[1]) + 1
        pos = end + 4
        parts.append((headers, body[pos : pos + length]))
        pos += length
        assert body.startswith(b"\r\n", pos), "part data not followed by CRLF"
        pos += 2


def check_common(resp: RawResponse, method: str) -> None:
    """Rules every response obeys, whatever its status."""
    # CORS and timing: `*`, never the Origin echoed, never Vary: Origin.
    assert resp.all("access-control-allow-origin") == ["*"], resp.headers
    assert resp.get("access-control-expose-headers") == EXPOSE
    assert resp.get("timing-allow-origin") == "*"
    for vary in resp.all("vary"):
        assert "origin" not in vary.lower(), f"Vary: {vary}"
    # Every response has one explicit cache policy, 404s included.
    assert len(resp.all("cache-control")) == 1, resp.headers
    assert len(resp.all("date")) == 1, resp.headers
    date = email.utils.parsedate_to_datetime(resp["date"])
    lm = resp.get("last-modified")
    if lm is not None:
        assert email.utils.parsedate_to_datetime(lm) <= date, f"Last-Modified {lm} > Date {date}"
    etag = resp.get("etag")
    if etag is not None:
        assert STRONG_ETAG.fullmatch(etag), f"not a strong entity-tag: {etag}"
    if method == "HEAD" or resp.status == 304:
        assert resp.body == b"", f"{method} {resp.status} has a body: {resp.body[:80]!r}"
    if resp.status != 304:
        assert len(resp.all("content-length")) == 1, resp.headers
        if method == "GET":
            assert int(resp["content-length"]) == len(resp.body), (
                f"Content-Length {resp['content-length']} but body {len(resp.body)} bytes"
            )
    assert resp.get("transfer-encoding") is None


def check_body(rw: Row, resp: RawResponse, data: bytes, method: str) -> None:
    size = len(data)
    body = rw.body
    get = method == "GET"
    if isinstance(body, Full):
        assert resp.get("content-range") is None
        assert resp.get("content-encoding") is None
        assert int(resp["content-length"]) == size
        if get:
            assert resp.body == data
    elif isinstance(body, Gzipped):
        assert resp.get("content-encoding") == "gzip"
        assert resp.get("vary") == "Accept-Encoding"
        assert resp.get("content-range") is None
        if get:
            assert gzip.decompress(resp.body) == data
    elif isinstance(body, Slice):
        assert resp.get("content-range") == f"bytes {body.first}-{body.last}/{size}"
        assert resp.get("content-encoding") is None
        assert not resp["content-type"].startswith("multipart/")
        assert int(resp["content-length"]) == body.last - body.first + 1
        if get:
            assert resp.body == data[body.first : body.last + 1]
    elif isinstance(body, Multi):
        assert resp.get("content-range") is None, "multipart must not have a top-level range"
        assert BOUNDARY.fullmatch(resp["content-type"]), resp["content-type"]
        if get:
            parts = parse_multipart(resp)
            ctype = TYPED_CT.get(rw.path, "")
            got = []
            for headers, chunk in parts:
                cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers["content-range"])
                assert cr is not None
                first, last, total = (int(x) for x in cr.groups())
                assert total == size
                assert chunk == data[first : last + 1], f"part {first}-{last} bytes differ"
                if ctype:
                    assert headers["content-type"] == ctype
                got.append((first, last))
            assert tuple(got) == body.parts
    elif isinstance(body, NotModified):
        for name in ("content-type", "content-length", "content-encoding", "content-range"):
            assert resp.get(name) is None, f"304 carries {name}"
        assert resp.get("etag") is not None
    elif isinstance(body, Error):
        assert resp.get("etag") is None, "an error must not carry the file's validator"
        assert resp["content-type"].startswith("text/plain")


TYPED_CT = {
    "/clip.mp4": "video/mp4",
    PL: "application/vnd.apple.mpegurl",
    F: "application/octet-stream",
    BIG: "application/octet-stream",
}

# Headers a 206 or 304 must carry exactly as the 200 of the same representation does.
SAME_AS_200 = (
    "cache-control",
    "cdn-cache-control",
    "surrogate-control",
    "expires",
    "vary",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "timing-allow-origin",
)


def comparable(resp: RawResponse) -> Counter[tuple[str, str]]:
    """The response's headers as a multiset, minus Date and the random multipart boundary."""
    out: Counter[tuple[str, str]] = Counter()
    for name, value in resp.headers:
        if name == "date":
            continue
        if name == "content-type":
            value = BOUNDARY.sub("multipart/byteranges; boundary=B", value)
        out[(name, value)] += 1
    return out


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("rw", ALL_ROWS)
def test_rule(origin_server: OriginServer, media: MediaTree, rw: Row, method: str) -> None:
    values = validators(origin_server, rw.path)
    headers = substitute(rw.headers, values)
    resp = origin_server.request(method, rw.path, headers)
    assert resp.status == rw.status, f"{resp.status} {resp.headers} {resp.body[:200]!r}"
    check_common(resp, method)
    for name, expected in rw.expect.items():
        assert resp.get(name) == expected, f"{name}: {resp.get(name)!r} != {expected!r}"
    rel = rw.path.lstrip("/")
    data = media.files.get(rel, b"")
    check_body(rw, resp, data, method)
    if isinstance(rw.body, Full | Slice | Multi | NotModified) or rw.status == 200:
        # 206/304 carry the same caching, Vary and CORS headers as the 200 would.
        # A Range request is answered from the identity representation, gzip or not.
        accept = {
            k: v for k, v in headers.items() if k == "Accept-Encoding" and "Range" not in headers
        }
        plain = origin_server.request("GET", rw.path, accept)
        for name in SAME_AS_200:
            assert resp.all(name) == plain.all(name), f"{name} differs from the 200's"
        if rw.status in (206, 304):
            assert resp.get("etag") == plain.get("etag")
    if method == "HEAD":
        got = origin_server.request("GET", rw.path, headers)
        assert got.status == resp.status
        assert comparable(resp) == comparable(got), "HEAD headers differ from GET's"


# -- rules that are not one request ----------------------------------------------------------------


def test_options_preflight(origin_server: OriginServer) -> None:
    resp = origin_server.request(
        "OPTIONS",
        F,
        {
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert resp.status == 204
    assert resp.body == b""
    assert resp.all("access-control-allow-origin") == ["*"]
    assert resp.get("access-control-allow-methods") == "GET, HEAD, OPTIONS"
    allowed = [h.strip().lower() for h in resp["access-control-allow-headers"].split(",")]
    assert "range" in allowed
    assert resp.get("access-control-max-age") == "86400"
    assert resp.get("timing-allow-origin") == "*"
    assert not any("origin" in v.lower() for v in resp.all("vary"))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_method_not_allowed(origin_server: OriginServer, method: str) -> None:
    resp = origin_server.raw(
        build_request(method, F, {"Content-Length": "2", "Origin": "https://x.example"}) + b"{}"
    )
    assert resp.status == 405
    assert resp.get("allow") == "GET, HEAD, OPTIONS"
    assert resp.get("cache-control") == NO_STORE
    assert resp.get("content-range") is None and resp.get("etag") is None
    check_common(resp, method)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_method_not_allowed_before_preconditions(origin_server: OriginServer, method: str) -> None:
    """An unsafe method is refused before preconditions run (412 for them is unreachable)."""
    resp = origin_server.request(method, F, {"If-None-Match": "*", "Content-Length": "0"})
    assert resp.status == 405


def test_etag_same_bytes_same_tag(origin_server: OriginServer) -> None:
    a = origin_server.request("GET", F)
    b = origin_server.request("GET", "/clip.mp4")
    assert a.body == b.body
    assert a["etag"] == b["etag"]
    big = origin_server.request("HEAD", BIG)
    big_copy = origin_server.request("HEAD", "/vod/t/big.mp4")
    assert big["etag"] == big_copy["etag"]


def test_gzip_variant_has_its_own_tag(origin_server: OriginServer, media: MediaTree) -> None:
    ident = origin_server.request("GET", PL)
    gz = origin_server.request("GET", PL, GZ)
    assert gz.get("content-encoding") == "gzip" and ident.get("content-encoding") is None
    assert gz["etag"] != ident["etag"]
    assert gz["vary"] == ident["vary"] == "Accept-Encoding"
    assert gzip.decompress(gz.body) == ident.body == media.data("p.m3u8")
    assert len(gz.body) < len(ident.body)


def test_etag_identical_across_replicas(
    origin_server: OriginServer,
    media: MediaTree,
    tmp_path: Path,
    start_origin: Callable[..., OriginServer],
) -> None:
    """Same bytes, different path and mtime, another process: the same strong tag."""
    root = tmp_path / "replica"
    (root / "elsewhere").mkdir(parents=True)
    for src, dst in (
        ("f.bin", "elsewhere/renamed.dat"),
        ("big.bin", "elsewhere/big.dat"),
        ("p.m3u8", "elsewhere/list.m3u8"),
    ):
        (root / dst).write_bytes(media.data(src))
        os.utime(root / dst, (1_000_000_000, 1_000_000_000))
    replica = start_origin(
        write_config(tmp_path / "replica.toml", root), origin_server.server, FILES_ONLY
    )
    try:
        for src, dst, headers in (
            (F, "/elsewhere/renamed.dat", {}),
            (BIG, "/elsewhere/big.dat", {}),
            (PL, "/elsewhere/list.m3u8", {}),
            (PL, "/elsewhere/list.m3u8", GZ),
        ):
            a = origin_server.request("GET", src, headers)
            b = replica.request("GET", dst, headers)
            assert a.body == b.body
            assert a["last-modified"] != b["last-modified"]
            assert a["etag"] == b["etag"], f"{src} vs {dst} ({headers})"
    finally:
        replica.stop()


@pytest.mark.parametrize("size", [F_SIZE, BIG_SIZE], ids=["small", "streamed"])
def test_etag_changes_when_content_replaced(
    origin_server: OriginServer, media: MediaTree, size: int
) -> None:
    name = f"replace-{origin_server.server}-{size}.bin"
    path = media.root / name
    path.write_bytes(pattern(size, seed=11))
    first = origin_server.request("GET", "/" + name)
    assert first.status == 200 and first.body == pattern(size, seed=11)
    tmp = media.root / f".{name}.tmp"
    tmp.write_bytes(pattern(size, seed=12))  # same size: only the content differs
    os.replace(tmp, path)
    second = origin_server.request("GET", "/" + name)
    assert second.body == pattern(size, seed=12)
    assert second["etag"] != first["etag"]
    # A range request against the old tag must not mix versions: If-Range fails → full 200.
    mixed = origin_server.request(
        "GET", "/" + name, {"Range": "bytes=0-9", "If-Range": first["etag"]}
    )
    assert mixed.status == 200 and mixed.body == pattern(size, seed=12)


def read_head(sock: socket.socket) -> tuple[RawResponse, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        assert data, "connection closed before the headers"
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return parse_response(head + b"\r\n\r\n"), rest


# Bigger than what the kernel and the server buffer for a stalled loopback client (~2-6 MB), so
# the server is still inside its read loop when the test acts.
STALL_SIZE = 12_000_000


def metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    assert match, f"{name}{labels} not in metrics:\n{text}"
    return float(match[1])


def in_flight(srv: OriginServer) -> float:
    """Requests being answered now, not counting the /metrics request asking."""
    return metric(srv.request("GET", "/metrics").body.decode(), "origin_requests_in_flight") - 1


def stalled_download(
    srv: OriginServer, target: str, busy: int = 1
) -> tuple[socket.socket, RawResponse, bytes]:
    """Start a GET of `target` on a small-window socket, read the head, stop reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", srv.port))
    sock.sendall(build_request("GET", target))
    resp, body = read_head(sock)
    # The server blocks on backpressure with the rest of the file still to read.
    poll(lambda: in_flight(srv) == busy, what=f"{target} to be mid-stream")
    return sock, resp, body


def test_growing_file_never_overruns(origin_server: OriginServer, media: MediaTree) -> None:
    """A slow client reads a large file while it grows: exactly Content-Length bytes arrive."""
    name = f"grow-{origin_server.server}.bin"
    original = pattern(STALL_SIZE, seed=5)
    (media.root / name).write_bytes(original)
    sock, resp, body = stalled_download(origin_server, "/" + name)
    with sock:
        assert resp.status == 200
        assert int(resp["content-length"]) == STALL_SIZE
        with open(media.root / name, "ab") as f:  # grows in place, under the reader
            f.write(b"\xff" * 1_000_000)
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            body += data
    assert len(body) == STALL_SIZE, f"{len(body) - STALL_SIZE:+d} bytes against Content-Length"
    assert body == original
    after = origin_server.request("HEAD", "/" + name)
    assert int(after["content-length"]) == STALL_SIZE + 1_000_000
    assert after["etag"] != resp["etag"]


# Whether the server tells the app that the client went away while the app is sending, so the
# read loop stops at once. uvicorn: `http.disconnect` arrives on receive(). granian 2.8: send() on
# a closed connection returns normally and `http.disconnect` usually does not arrive before the
# response ends (emmett-framework/granian#650, open), so the loop reads on to the end of the file
# at disk speed (bounded, but wasted work); sometimes it does stop. Checked where it holds.
STOPS_AT_DISCONNECT = {"uvicorn": True, "granian": False}


def test_client_disconnect_mid_download(origin_server: OriginServer, media: MediaTree) -> None:
    """A client that goes away mid-download stops the read loop; the server stays healthy."""
    name = f"stall-{origin_server.server}.bin"
    (media.root / name).write_bytes(pattern(STALL_SIZE, seed=9))
    for attempt in range(2):
        sock, resp, _ = stalled_download(origin_server, f"/{name}?attempt={attempt}")
        assert resp.status == 200
        # RST rather than FIN: the rudest way to go.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        poll(lambda: in_flight(origin_server) == 0, what="the aborted request to finish")
    origin_server.assert_alive()
    line = re.compile(rf'"GET /{name}\?attempt=\d" 200 (\d+) ')
    sent = poll(lambda: line.findall(origin_server.log_text()), what="the aborted requests' log")
    assert isinstance(sent, list) and len(sent) == 2
    assert all(int(n) <= STALL_SIZE for n in sent), sent
    if STOPS_AT_DISCONNECT[origin_server.server]:
        assert all(int(n) < STALL_SIZE for n in sent), f"kept reading after the disconnect: {sent}"
    ok = origin_server.request("GET", F, {"Range": "bytes=0-9"})
    assert ok.status == 206 and ok.body == pattern(10)


def process_tree_rss(pid: int) -> int:
    """Return the resident memory (bytes) of `pid` and all its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier += children
    total = 0
    for p in tree:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match[1]) * 1024 if match else 0
    return total


def test_memory_bounded_with_slow_clients(origin_server: OriginServer, media: MediaTree) -> None:
    """Three stalled clients of a 12 MB file: the server does not hold the files in memory."""
    name = f"slow-{origin_server.server}.bin"
    (media.root / name).write_bytes(pattern(STALL_SIZE, seed=13))
    origin_server.request("HEAD", "/" + name)  # describe (hash) it before measuring
    before = process_tree_rss(origin_server.proc.pid)
    socks = [stalled_download(origin_server, f"/{name}?c={i}", busy=i + 1)[0] for i in range(3)]
    try:
        grown = process_tree_rss(origin_server.proc.pid) - before
    finally:
        for sock in socks:
            sock.close()
    # Buffering the responses would cost ~36 MB; bounded chunks cost a few MB at most.
    assert grown < STALL_SIZE, f"server memory grew by {grown / 1e6:.1f} MB for 3 slow clients"
    poll(lambda: in_flight(origin_server) == 0, what="the slow requests to end")


def test_access_log_line(origin_server: OriginServer) -> None:
    probe = f"probe{time.monotonic_ns()}"
    origin_server.request("GET", f"{F}?{probe}", {"Range": "bytes=0-10"})
    origin_server.request("HEAD", f"/missing-{probe}")
    line_re = re.compile(
        rf'"GET {re.escape(F)}\?{probe}" 206 11 (\d+\.\d+)ms range="bytes=0-10"$', re.M
    )
    poll(lambda: line_re.search(origin_server.log_text()), what="the access-log line")
    poll(
        lambda: re.search(
            rf'"HEAD /missing-{probe}" 404 0 \d+\.\d+ms$', origin_server.log_text(), re.M
        ),
        what="the 404 access-log line",
    )
    assert origin_server.log_text().count(probe) == 2, "one line per request"


def test_metrics(origin_server: OriginServer) -> None:
    before = origin_server.request("GET", "/metrics").body.decode()
    origin_server.request("GET", "/definitely-missing")
    origin_server.request("GET", "/clip.mp4", {"Range": "bytes=0-99"})
    resp = origin_server.request("GET", "/metrics")
    assert resp.status == 200
    assert resp["content-type"].startswith("text/plain")
    after = resp.body.decode()
    assert "# TYPE origin_requests_total counter" in after
    nf = '{status="404",kind="not_found"}'
    partial = '{status="206",kind="immutable"}'
    total = "origin_requests_total"
    assert metric(after, total, nf) == (metric(before, total, nf) if nf in before else 0) + 1
    assert metric(after, total, partial) >= 1
    assert (
        metric(after, "origin_bytes_sent_total") >= metric(before, "origin_bytes_sent_total") + 100
    )
    assert metric(after, "origin_requests_in_flight") == 1


def test_healthz(origin_server: OriginServer) -> None:
    resp = origin_server.request("GET", "/healthz")
    assert resp.status == 200
    assert resp.body == b"ok\n"
    assert resp.get("cache-control") == NO_STORE
