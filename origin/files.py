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
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import Send

from origin.cache import ObjectKind, cache_headers, classify_path
from origin.conditional import format_etag, format_http_date
from origin.config import CacheConfig, Config
from origin.mediatypes import content_type_for, is_compressible
from origin.zerocopy import sendfile_now

# A version of a file: same inode, size and mtime means same bytes (files are replaced by rename).
StatKey = tuple[int, int, int, int]

_HASH_BLOCK = 1 << 20
# Entries (and so open descriptors of large files) kept at most; far below RLIMIT_NOFILE.
MAX_ENTRIES = 4096
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


@dataclass(slots=True, weakref_slot=True)
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
    fd: int = -1  # an open descriptor of exactly this version, for large files
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
            try:
                return await asyncio.shield(pending)
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                return None
        fut: asyncio.Future[FileEntry] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            entry = await self._describe(rel, real)
            fut.set_result(entry)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            fut.set_exception(exc)
            fut.exception()
            return None  # gone (or unreadable) between the stat and the open
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: the waiting requests see it, none is left unread
            raise
        finally:
            del self._pending[key]
        self._remember(entry)
        return entry

    async def _describe(self, rel: str, real: str) -> FileEntry:
        # http-rules.md "Serving bytes": open, then fstat the open file, and describe exactly
        # what this descriptor holds; a rename after this point cannot change its bytes.
        fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            key = _stat_key(st)
            size = st.st_size
            body: bytes | None = None
            if size <= self.cfg.http.small_file_max:
                body = await asyncio.to_thread(_read_fd, fd, size)
                size = len(body)
                digest = hashlib.blake2b(body, digest_size=16).hexdigest()
                os.close(fd)
                fd = -1
            else:
                known = self._tags.get(key)
                digest = (
                    known if known is not None else await asyncio.to_thread(_hash_file, fd, size)
                )
                self._tags[key] = digest
                while len(self._tags) > 4096:
                    self._tags.popitem(last=False)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
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
            fd=fd,
        )
        if fd >= 0:
            # Large files stay open while their entry lives (cached, or held by a response in
            # flight): no open/fstat/close per request. The last reference closes the fd.
            weakref.finalize(entry, os.close, fd)
        if entry.compressible and body is not None:
            # mtime=0 makes the gzip bytes, and so their tag, identical on every replica.
            entry.gz_body = gzip.compress(body, compresslevel=6, mtime=0)
            entry.gz_etag = format_etag(digest, suffix="-gz")
        self._build_headers(entry)
        return entry

    def _build_headers(self, entry: FileEntry) -> None:
        build_headers(entry, self.cfg.cache, self._extra)

    def _remember(self, entry: FileEntry) -> None:
        old = self._entries.pop(entry.rel, None)
        if old is not None:
            self._cached_bytes -= _weight(old)
        self._entries[entry.rel] = entry
        self._cached_bytes += _weight(entry)
        limit = self.cfg.http.small_file_cache
        while len(self._entries) > 1 and (
            self._cached_bytes > limit or len(self._entries) > MAX_ENTRIES
        ):
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
    mtime = min(mtime, int(time.time()) - _DATE_LAG)  # RFC 9110 §8.8.2.1, as for files
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


def _read_fd(fd: int, size: int) -> bytes:
    """Read the first `size` bytes of `fd` (fewer if it is shorter)."""
    chunks = []
    offset = 0
    while offset < size:
        block = os.pread(fd, size - offset, offset)
        if not block:
            break
        chunks.append(block)
        offset += len(block)
    return b"".join(chunks)


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
            # Whenever the server's buffer has drained, the kernel copies straight from the page
            # cache (origin/zerocopy.py); the yield keeps one fast client from hogging the loop.
            zero_copied = sendfile_now(send, fd, pos, end - pos)
            if zero_copied:
                pos += zero_copied
                sent += zero_copied
                await asyncio.sleep(0)
                if disconnected():
                    return sent
                continue
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
