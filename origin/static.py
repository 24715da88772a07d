"""Serving a file: turn the pure decisions (preconditions, Range, multipart) into ASGI messages.

Order of decisions follows RFC 9110 §13.2.2: method, path, representation (gzip or identity),
preconditions, then Range. Each step is a value from a pure module; this module only sends.
"""

from __future__ import annotations

import asyncio
import functools
import html
import os
import re
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from origin.cache import ObjectKind, cache_headers
from origin.conditional import Precondition, evaluate_preconditions, if_range_allows_range
from origin.config import Config
from origin.files import FileEntry, FileStore, read_range, send_file_ranges
from origin.multipart import new_boundary, plan_multipart
from origin.paths import normalise_request_path
from origin.ranges import RangeOutcome, parse_range, unsatisfied_content_range
from origin.zerocopy import sendfile_now

Headers = list[tuple[bytes, bytes]]

# Enum .value is a descriptor call; the access log and metrics want the name on every request.
_KIND_NAME = {kind: kind.value for kind in ObjectKind}

# Hot paths repeat: remember the answers for the most recent ones.
normalise = functools.lru_cache(maxsize=4096)(normalise_request_path)

CORS_HEADERS: Headers = [
    (b"access-control-allow-origin", b"*"),  # never echo Origin: that would need Vary: Origin
    (
        b"access-control-expose-headers",
        b"Content-Range, Content-Length, Accept-Ranges, Age, Date, ETag",
    ),
    (b"timing-allow-origin", b"*"),
]
PREFLIGHT_HEADERS: Headers = [
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"Range, Authorization"),
    (b"access-control-max-age", b"86400"),
]
ALLOW = (b"allow", b"GET, HEAD, OPTIONS")

# Headers a 304 keeps (RFC 9110 §15.4.5, http-rules.md): validators and caching, never the body's.
_KEEP_ON_304 = frozenset(
    {b"etag", b"cache-control", b"cdn-cache-control", b"surrogate-control", b"expires", b"vary"}
)


@dataclass(slots=True)
class Outcome:
    """What was sent, for the access log and the metrics."""

    status: int
    sent: int = 0
    kind: str = "other"
    range: str = ""


# The request headers a file response depends on; the rest are never decoded.
_WANTED = frozenset(
    {
        b"range",
        b"if-range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"accept-encoding",
    }
)
_CONDITIONAL = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


def request_headers(scope: Scope, wanted: frozenset[bytes] = _WANTED) -> dict[str, str]:
    """Return the `wanted` request headers as a lower-case name → value map.

    Repeated fields are joined with ", " (RFC 9110 §5.3).
    """
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        lowered = raw_name.lower()
        if lowered in wanted:
            name = lowered.decode("latin-1")
            value = raw_value.decode("latin-1")
            out[name] = f"{out[name]}, {value}" if name in out else value
    return out


# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def accepts_gzip(value: str | None) -> bool:
    """Given Accept-Encoding, return True when gzip is acceptable (RFC 9110 §12.5.3).

    An explicit gzip (or x-gzip) entry decides over `*`, wherever each appears; a malformed
    qvalue makes its entry unacceptable (identity is always a safe answer).
    """
    if not value:
        return False
    named: float | None = None
    star: float | None = None
    for item in value.split(","):
        coding, *params = item.split(";")
        coding = coding.strip(" \t").lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params:
            name, _, raw = param.strip(" \t").partition("=")
            if name.strip(" \t").lower() == "q":
                raw = raw.strip(" \t")
                q = float(raw) if _QVALUE.fullmatch(raw) else 0.0
        if coding == "*":
            star = q if star is None else max(star, q)
        else:
            named = q if named is None else max(named, q)
    if named is not None:
        return named > 0  # RFC 9110 §12.5.3: "*" only covers codings not listed
    return star is not None and star > 0


class StaticFiles:
    """The file handler: everything under the media root with full HTTP semantics."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.cors: Headers = CORS_HEADERS if cfg.http.cors else []
        self.store = FileStore(cfg, self.cors)
        self._status_headers: dict[ObjectKind, Headers] = {
            kind: [(k.encode(), v.encode()) for k, v in cache_headers(kind, cfg.cache)]
            for kind in (ObjectKind.NOT_FOUND, ObjectKind.ERROR, ObjectKind.OTHER)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Outcome:
        method = scope["method"]
        if method == "OPTIONS":
            return await self._simple(send, 204, [*self.cors, *PREFLIGHT_HEADERS, ALLOW], b"")
        if method not in ("GET", "HEAD"):
            return await self.error(send, 405, b"method not allowed\n", [ALLOW])
        rel = normalise(scope["path"])
        found = None if rel is None else await self.store.lookup(rel)
        if found == "dir":
            assert rel is not None
            if self.cfg.media.directory_listing:
                return await self._listing(send, rel, method == "HEAD")
            found = None
        elif scope["path"].endswith("/"):
            found = None  # `/f.bin/` names a directory, as open("f.bin/") says: no alias URLs
        if not isinstance(found, FileEntry):
            return await self.error(send, 404, b"not found\n", kind=ObjectKind.NOT_FOUND)
        return await self.serve_entry(scope, receive, send, found)

    async def serve_entry(
        self, scope: Scope, receive: Receive, send: Send, entry: FileEntry
    ) -> Outcome:
        """Answer GET/HEAD for one file version: 200, 206, 304, 412 or 416."""
        # Memory entries have their bytes; file entries hold the open fd they were described from.
        fd = entry.fd
        headers = request_headers(scope)
        head = scope["method"] == "HEAD"
        range_header = headers.get("range")
        # A Range request gets the identity bytes so offsets mean what the client thinks;
        # gzip is only for whole playlists (llhls-rules.md "Origin: transport").
        use_gz = (
            entry.gz_body is not None
            and range_header is None
            and accepts_gzip(headers.get("accept-encoding"))
        )
        etag = entry.gz_etag if use_gz else entry.etag
        base = entry.gz_headers if use_gz else entry.headers
        kind = _KIND_NAME[entry.kind]

        # RFC 9110 §13.2.2 steps 1-4 (most requests carry no condition at all).
        pre = Precondition.PROCEED
        if any(name in headers for name in _CONDITIONAL):
            pre = evaluate_preconditions(scope["method"], headers, etag, entry.mtime)
        if pre is Precondition.NOT_MODIFIED:
            kept = [h for h in base if h[0] in _KEEP_ON_304]
            await send({"type": "http.response.start", "status": 304, "headers": kept + self.cors})
            await send({"type": "http.response.body", "body": b""})
            return Outcome(304, 0, kind)
        if pre is Precondition.PRECONDITION_FAILED:
            return await self.error(send, 412, b"precondition failed\n")

        body = entry.gz_body if use_gz else entry.body
        size = len(body) if body is not None else entry.size
        ctype = entry.content_type.encode()

        # RFC 9110 §13.2.2 step 5 and §14.2: Range only for GET (HEAD answers as GET would).
        if range_header is not None and if_range_allows_range(
            headers.get("if-range"), etag, entry.mtime
        ):
            result = parse_range(range_header, size, max_ranges=self.cfg.http.max_ranges)
            if result.outcome is RangeOutcome.UNSATISFIABLE:
                extra = [(b"content-range", unsatisfied_content_range(size).encode())]
                out = await self.error(send, 416, b"range not satisfiable\n", extra)
                out.range = range_header
                return out
            if result.outcome is RangeOutcome.SATISFIABLE:
                return await self._partial(
                    scope, receive, send, entry, fd, base, body, result.ranges, head, range_header
                )

        start_headers = [
            (b"content-type", ctype),
            (b"content-length", str(size).encode()),
            *base,
        ]
        if use_gz:
            start_headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return Outcome(200, 0, kind)
        if body is not None:
            await send({"type": "http.response.body", "body": body})
            return Outcome(200, size, kind)
        sent = await self._stream(receive, send, fd, entry, [(b"", 0, size)], b"")
        return Outcome(200, sent, kind)

    async def _partial(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        entry: FileEntry,
        fd: int,
        base: Headers,
        body: bytes | None,
        ranges: tuple[Any, ...],
        head: bool,
        range_header: str,
    ) -> Outcome:
        kind = _KIND_NAME[entry.kind]
        size = entry.size
        if len(ranges) == 1:
            r = ranges[0]
            start_headers = [
                (b"content-type", entry.content_type.encode()),
                (b"content-range", r.content_range(size).encode()),
                (b"content-length", str(r.length).encode()),
                *base,
            ]
            await send({"type": "http.response.start", "status": 206, "headers": start_headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
                return Outcome(206, 0, kind, range_header)
            if body is not None:
                await send({"type": "http.response.body", "body": body[r.start : r.end + 1]})
                return Outcome(206, r.length, kind, range_header)
            sent = await self._stream(receive, send, fd, entry, [(b"", r.start, r.length)], b"")
            return Outcome(206, sent, kind, range_header)

        # RFC 9110 §14.6: several ranges → multipart/byteranges, no top-level Content-Range.
        plan = plan_multipart(ranges, entry.content_type, size, new_boundary())
        start_headers = [
            (b"content-type", plan.content_type.encode()),
            (b"content-length", str(plan.content_length).encode()),
            *base,
        ]
        await send({"type": "http.response.start", "status": 206, "headers": start_headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return Outcome(206, 0, kind, range_header)
        if body is not None:
            chunks = [b"".join((p, body[r.start : r.end + 1])) for p, r in plan.parts]
            payload = b"".join((*chunks, plan.trailer))
            await send({"type": "http.response.body", "body": payload})
            return Outcome(206, len(payload), kind, range_header)
        pieces = [(p, r.start, r.length) for p, r in plan.parts]
        sent = await self._stream(receive, send, fd, entry, pieces, plan.trailer)
        return Outcome(206, sent, kind, range_header)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        fd: int,
        entry: FileEntry,
        pieces: list[tuple[bytes, int, int]],
        trailer: bytes,
    ) -> int:
        """Stream file pieces, stopping at once if the client goes away."""
        zero_copied = 0
        if len(pieces) == 1 and not pieces[0][0] and not trailer:
            # A single range or the whole file: zero-copy as much as the socket takes now.
            _, start, length = pieces[0]
            zero_copied = sendfile_now(send, fd, start, length)
            if zero_copied == length:
                await send({"type": "http.response.body", "body": b""})
                return zero_copied
            pieces = [(b"", start + zero_copied, length - zero_copied)]
        if len(pieces) == 1 and not trailer and pieces[0][2] <= self.cfg.http.chunk_size:
            # One read, one send: no reader task to watch for a disconnect that cannot matter.
            _, start, length = pieces[0]
            data = read_range(fd, entry, start, length)
            await send({"type": "http.response.body", "body": data})
            return zero_copied + len(data)
        gone = False

        async def watch() -> None:
            nonlocal gone
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone = True
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            return zero_copied + await send_file_ranges(
                send, fd, entry, pieces, trailer, self.cfg.http.chunk_size, lambda: gone
            )
        finally:
            watcher.cancel()

    async def _simple(self, send: Send, status: int, headers: Headers, body: bytes) -> Outcome:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return Outcome(status, len(body))

    async def error(
        self,
        send: Send,
        status: int,
        body: bytes,
        extra: Headers | None = None,
        kind: ObjectKind = ObjectKind.ERROR,
        target_duration: int = 0,
    ) -> Outcome:
        """Send a short text error with the cache policy of `kind` and the CORS headers."""
        policy = self._status_headers.get(kind) if not target_duration else None
        if policy is None:
            policy = [
                (k.encode(), v.encode())
                for k, v in cache_headers(kind, self.cfg.cache, target_duration)
            ]
        headers: Headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *policy,
            *self.cors,
            *(extra or []),
        ]
        out = await self._simple(send, status, headers, body)
        out.kind = _KIND_NAME[kind]
        return out

    async def _listing(self, send: Send, rel: str, head: bool) -> Outcome:
        """A plain HTML index of a directory (only when media.directory_listing is on)."""
        real = self.store.resolve(rel)
        names = sorted(
            n
            for n in await asyncio.to_thread(os.listdir, real or self.store.root)
            if not n.startswith(".")
        )
        title = html.escape("/" + rel)
        prefix = "/" + rel + "/" if rel else "/"
        items = "".join(
            f'<li><a href="{html.escape(prefix + n)}">{html.escape(n)}</a></li>' for n in names
        )
        page = f"<!doctype html><title>{title}</title><h1>{title}</h1><ul>{items}</ul>\n".encode()
        headers: Headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(page)).encode()),
            *self._status_headers[ObjectKind.OTHER],
            *self.cors,
        ]
        return await self._simple(send, 200, headers, b"" if head else page)
