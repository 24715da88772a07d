"""Files on disk: resolve a request path safely, describe the file once, and move its bytes.

The decisions (ranges, preconditions, multipart framing, cache policy) live in the pure modules;
this module only does the I/O they need: stat, a content hash computed once per version of a file,
a bounded cache of small hot files, and chunked reads with backpressure.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import stat as stat_mod
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import Send

from origin.cache import ObjectKind, cache_headers, classify_path
from origin.conditional import format_etag, format_http_date
from origin.config import CacheConfig, Config
from origin.mediatypes import content_type_for, is_compressible

# A version of a file: same inode, size and mtime means same bytes (files are replaced by rename).
StatKey = tuple[int, int, int, int]

_HASH_BLOCK = 1 << 20
_DATE_LAG = 2  # seconds: how far the server's cached Date header may trail time()


def _stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _hash_file(fd: int, size: int) -> str:
    """Return the hex content digest of the first `size` bytes of `fd` (blocking)."""
    h = hashlib.blake2b(digest_size=16)
    offset = 0
    while offset < size:
        block = os.pread(fd, min(_HASH_BLOCK, size - offset), offset)
        if not block:
            break
        h.update(block)
        offset += len(block)
    return h.hexdigest()


@dataclass(slots=True)
class FileEntry:
    """One version of one file, with everything a response needs that does not vary per request."""

    rel: str
    path: str
    key: StatKey
    size: int
    mtime: int
    content_type: str
    kind: ObjectKind
    etag: str
    last_modified: str
    compressible: bool
    body: bytes | None = None  # the whole file, for small files
    gz_body: bytes | None = None
    gz_etag: str = ""
    # Header lists (bytes pairs, ASGI-ready) common to every 200/206/304 of this representation.
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    gz_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class FileStore:
    """Resolves request paths to FileEntry values, caching metadata and small bodies.

    Each lookup costs one `stat`; the content hash and the small body are read once per
    (path, size, mtime), never per request (http-rules.md "Validators").
    """

    def __init__(self, cfg: Config, extra_headers: list[tuple[bytes, bytes]]) -> None:
        self.cfg = cfg
        self.root = os.path.realpath(cfg.media.root)
        self._extra = extra_headers
        self._entries: OrderedDict[str, FileEntry] = OrderedDict()
        self._cached_bytes = 0
        self._pending: dict[StatKey, asyncio.Future[FileEntry]] = {}
        self._tags: OrderedDict[StatKey, str] = OrderedDict()
        # realpath() walks every component with lstat: remember recent answers for a second.
        self._resolved: dict[str, tuple[float, str | None]] = {}

    # -- path safety ---------------------------------------------------------------------------
    def resolve(self, rel: str) -> str | None:
        """Given a normalised relative path, return its real path if it stays under the root."""
        now = time.monotonic()
        hit = self._resolved.get(rel)
        if hit is not None and now - hit[0] < 1.0:
            return hit[1]
        real = os.path.realpath(os.path.join(self.root, rel))
        inside = real == self.root or real.startswith(self.root + os.sep)
        # A symlink may point anywhere; only what ends up under the root is ours to serve.
        result = real if inside else None
        if len(self._resolved) > 10000:
            self._resolved.clear()
        self._resolved[rel] = (now, result)
        return result

    # -- metadata ------------------------------------------------------------------------------
    async def lookup(self, rel: str) -> FileEntry | str | None:
        """Return the entry for `rel`, "dir" for a directory, or None when there is no file."""
        real = self.resolve(rel)
        if real is None:
            return None
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        if stat_mod.S_ISDIR(st.st_mode):
            return "dir"
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        key = _stat_key(st)
        entry = self._entries.get(rel)
        if entry is not None and entry.key == key:
            return entry
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[FileEntry] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            entry = await self._describe(rel, real, st)
            fut.set_result(entry)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: the waiting requests see it, none is left unread
            raise
        finally:
            del self._pending[key]
        self._remember(entry)
        return entry

    async def _describe(self, rel: str, real: str, st: os.stat_result) -> FileEntry:
        key = _stat_key(st)
        size = st.st_size
        small = size <= self.cfg.http.small_file_max
        body: bytes | None = None
        if small:
            body = await asyncio.to_thread(_read_small, real, size)
            if len(body) != size:  # replaced under us: describe what we actually read
                size = len(body)
            digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        else:
            known = self._tags.get(key)
            digest = known if known is not None else await asyncio.to_thread(_hash_path, real, size)
            self._tags[key] = digest
            while len(self._tags) > 4096:
                self._tags.popitem(last=False)
        ctype = content_type_for(rel)
        kind = classify_path(rel)
        # RFC 9110 §8.8.2.1: Last-Modified never later than the Date we send with it. The ASGI
        # server writes Date from a clock it refreshes about once a second (uvicorn: every 10th
        # 0.1 s tick), so it can lag ours by up to ~1.1 s: stay _DATE_LAG seconds behind now.
        mtime = min(int(st.st_mtime), int(time.time()) - _DATE_LAG)
        entry = FileEntry(
            rel=rel,
            path=real,
            key=key,
            size=size,
            mtime=mtime,
            content_type=ctype,
            kind=kind,
            etag=format_etag(digest),
            last_modified=format_http_date(mtime),
            compressible=self.cfg.media.gzip and is_compressible(ctype),
            body=body,
        )
        if entry.compressible and body is not None:
            # mtime=0 makes the gzip bytes, and so their tag, identical on every replica.
            entry.gz_body = gzip.compress(body, compresslevel=6, mtime=0)
            entry.gz_etag = format_etag(digest, suffix="-gz")
        self._build_headers(entry)
        return entry

    def _build_headers(self, entry: FileEntry) -> None:
        build_headers(entry, self.cfg.cache, self._extra)

    async def open_current(self, entry: FileEntry) -> tuple[int, FileEntry] | None:
        """Open `entry`'s file and return (fd, the entry describing what that fd holds).

        http-rules.md "Serving bytes": open, then fstat the open file. A rename between the
        lookup's stat and this open would otherwise send new bytes under the old ETag and
        Content-Length; when the versions differ, describe the file again. None if it is gone.
        """
        for _ in range(3):
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            if _stat_key(os.fstat(fd)) == entry.key:
                return fd, entry
            os.close(fd)
            found = await self.lookup(entry.rel)
            if not isinstance(found, FileEntry):
                return None
            entry = found
            if entry.body is not None:
                return -1, entry  # now small enough to be held in memory: no fd needed
        return None

    def _remember(self, entry: FileEntry) -> None:
        old = self._entries.pop(entry.rel, None)
        if old is not None:
            self._cached_bytes -= _weight(old)
        self._entries[entry.rel] = entry
        self._cached_bytes += _weight(entry)
        limit = self.cfg.http.small_file_cache
        while self._cached_bytes > limit and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._cached_bytes -= _weight(evicted)


def build_headers(
    entry: FileEntry,
    cache: CacheConfig,
    extra: list[tuple[bytes, bytes]],
    target_duration: int = 0,
) -> None:
    """Fill in the header lists every 200/206/304 of `entry` shares."""
    common: list[tuple[bytes, bytes]] = [
        (b"last-modified", entry.last_modified.encode()),
        (b"accept-ranges", b"bytes"),
    ]
    common += [
        (k.encode(), v.encode()) for k, v in cache_headers(entry.kind, cache, target_duration)
    ]
    if entry.compressible:
        # RFC 9110 §12.5.5: both variants name the header that selected them.
        common.append((b"vary", b"Accept-Encoding"))
    common += extra
    entry.headers = [(b"etag", entry.etag.encode()), *common]
    if entry.gz_body is not None:
        entry.gz_headers = [(b"etag", entry.gz_etag.encode()), *common]


def memory_entry(
    rel: str,
    body: bytes,
    kind: ObjectKind,
    mtime: int,
    cfg: Config,
    extra: list[tuple[bytes, bytes]],
    target_duration: int = 0,
) -> FileEntry:
    """Return a FileEntry for bytes held in memory (a live playlist), gzip variant included."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    ctype = content_type_for(rel)
    entry = FileEntry(
        rel=rel,
        path="",
        key=(0, 0, len(body), mtime),
        size=len(body),
        mtime=mtime,
        content_type=ctype,
        kind=kind,
        etag=format_etag(digest),
        last_modified=format_http_date(mtime),
        compressible=cfg.media.gzip and is_compressible(ctype),
        body=body,
    )
    if entry.compressible:
        entry.gz_body = gzip.compress(body, compresslevel=6, mtime=0)
        entry.gz_etag = format_etag(digest, suffix="-gz")
    build_headers(entry, cfg.cache, extra, target_duration)
    return entry


def _weight(entry: FileEntry) -> int:
    return 512 + len(entry.body or b"") + len(entry.gz_body or b"")


def _read_small(path: str, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _hash_path(path: str, size: int) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _hash_file(fd, size)
    finally:
        os.close(fd)


def read_range(fd: int, entry: FileEntry, start: int, length: int) -> bytes:
    """Read `length` bytes at `start` of the open file (a page-cache hit beats a thread hop)."""
    data = os.pread(fd, length, start)
    if len(data) != length:
        raise OSError(f"{entry.path}: file shrank while being served")
    return data


async def send_file_ranges(
    send: Send,
    fd: int,
    entry: FileEntry,
    pieces: list[tuple[bytes, int, int]],
    trailer: bytes,
    chunk_size: int,
    disconnected: Callable[[], bool],
) -> int:
    """Send each (prefix, start, length) piece of `entry`'s file then `trailer`; return bytes sent.

    Reads at most `chunk_size` at a time and awaits `send` (the server's backpressure) between
    reads, so memory per connection stays bounded whatever the file size or client speed. Never
    sends past `entry.size`, the length fixed when the response began, even if the file grows.
    """
    sent = 0
    finished = False
    # The caller owns `fd`: it was opened and checked against `entry` before the headers.
    final = len(pieces) - 1
    for i, (prefix, start, length) in enumerate(pieces):
        if prefix:
            await send({"type": "http.response.body", "body": prefix, "more_body": True})
            sent += len(prefix)
        pos, end = start, min(start + length, entry.size)
        while pos < end:
            # Page-cache reads of a chunk take tens of microseconds: cheaper than a thread hop.
            data = os.pread(fd, min(chunk_size, end - pos), pos)
            if not data:
                raise OSError(f"{entry.path}: file shrank while being served")
            pos += len(data)
            finished = i == final and pos >= end and not trailer
            await send({"type": "http.response.body", "body": data, "more_body": not finished})
            sent += len(data)
            if disconnected():
                return sent
    if not finished:
        await send({"type": "http.response.body", "body": trailer, "more_body": False})
        sent += len(trailer)
    return sent
