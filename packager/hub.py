"""The live hub: how the one writer (the packager) tells the HTTP workers what is published.

The origin talks to live streams through one small interface, `LiveSource`: the latest view of a
channel or rendition, and a wait for a given (msn, part). Two implementations share `LiveHub`:
- in-process: the packager calls `LiveHub.publish()` directly;
- cross-process: the packager's `HubServer` sends each update over a Unix socket to every
  worker's `HubClient`, which feeds that worker's `LiveHub`.
Waiting requests are grouped by (rendition, msn, part): a thousand requests blocked on the same
part cost one dictionary entry and a future each, and wake in one pass, with no polling
(llhls-rules.md "Wake-up").

Views carry the already-rendered playlists: the packager renders once per update, the workers
only choose which bytes to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from packager.window import Snapshot

log = logging.getLogger("origin.hub")

_FRAME = struct.Struct("!I")
_MAX_FRAME = 64 * 1024 * 1024
_MAX_BACKLOG = 16 * 1024 * 1024  # bytes queued for one worker before it is cut off


@dataclass(frozen=True, slots=True)
class RenditionView:
    """One rendition of a live channel at one instant."""

    channel: str
    rendition: str
    version: int  # increases with every update of this rendition
    snapshot: Snapshot  # for the blocking-reload decisions
    playlist: bytes  # the full media playlist
    delta: bytes | None  # the delta update (EXT-X-SKIP), None when nothing may be skipped


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A live channel: its renditions and its multivariant playlist."""

    name: str
    renditions: tuple[str, ...]
    multivariant: bytes  # empty until every rendition's codecs are known
    target_duration: int  # EXT-X-TARGETDURATION, seconds
    part_target: Fraction  # EXT-X-PART-INF:PART-TARGET, seconds
    ended: bool = False


View = RenditionView | ChannelView


class Publisher(Protocol):
    """What the packager calls: once per part, segment or channel change."""

    def publish(self, view: View) -> None: ...


class LiveSource(Protocol):
    """What the origin calls: the small interface between HTTP and live streams."""

    def channel(self, name: str) -> ChannelView | None: ...

    def rendition(self, channel: str, rendition: str) -> RenditionView | None: ...

    async def wait(
        self, channel: str, rendition: str, msn: int, part: int | None, timeout: float
    ) -> RenditionView | None: ...


WaitKey = tuple[str, str, int, int | None]


def _satisfied(snapshot: Snapshot, msn: int, part: int | None) -> bool:
    """Return whether the playlist now holds segment `msn` (part `part` of it) or later."""
    # rfc8216bis §6.2.5.2: "contains Media Segment msn", or its Partial Segment `part`.
    if snapshot.has_endlist:
        return True
    if part is not None:
        count = snapshot.part_count(msn)
        if count is not None and part >= count:
            # A part past the end of segment msn, asked while it was in progress, is part 0
            # of msn+1 (llhls-rules.md: hls.js relies on this).
            msn, part = msn + 1, 0
    return snapshot.is_published(msn, part)


@dataclass(slots=True)
class LiveHub:
    """The latest views, and the requests waiting for later ones. Implements LiveSource."""

    channels: dict[str, ChannelView] = field(default_factory=dict)
    renditions: dict[tuple[str, str], RenditionView] = field(default_factory=dict)
    _waiting: dict[WaitKey, list[asyncio.Future[RenditionView]]] = field(default_factory=dict)

    def publish(self, view: View) -> None:
        """Record `view` and wake every request it satisfies."""
        if isinstance(view, ChannelView):
            self.channels[view.name] = view
        else:
            self.renditions[(view.channel, view.rendition)] = view
            self._wake(view)

    def _wake(self, view: RenditionView) -> None:
        ready = [
            key
            for key in self._waiting
            if key[0] == view.channel
            and key[1] == view.rendition
            and _satisfied(view.snapshot, key[2], key[3])
        ]
        for key in ready:
            for waiter in self._waiting.pop(key):
                if not waiter.done():  # a waiter that timed out was cancelled
                    waiter.set_result(view)

    def channel(self, name: str) -> ChannelView | None:
        return self.channels.get(name)

    def rendition(self, channel: str, rendition: str) -> RenditionView | None:
        return self.renditions.get((channel, rendition))

    async def wait(
        self, channel: str, rendition: str, msn: int, part: int | None, timeout: float
    ) -> RenditionView | None:
        """Return the first view holding (msn, part), or None after `timeout` seconds."""
        current = self.renditions.get((channel, rendition))
        if current is not None and _satisfied(current.snapshot, msn, part):
            return current
        # One plain future per waiter, grouped by key: waking is a loop of set_result() calls,
        # and a waiter's timeout cancels only its own future (no shield, no helper task).
        waiter: asyncio.Future[RenditionView] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((channel, rendition, msn, part), []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            return None

    def expire(self) -> None:
        """Drop waiters that timed out, and keys nobody waits on any more."""
        for key, waiters in list(self._waiting.items()):
            alive = [w for w in waiters if not w.done()]
            if alive:
                self._waiting[key] = alive
            else:
                del self._waiting[key]


# -- cross-process transport ------------------------------------------------------------------
def encode(view: View) -> bytes:
    """Frame one view for the socket (length-prefixed pickle: both ends are our own code)."""
    body = pickle.dumps(view, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(body)) + body


async def read_view(reader: asyncio.StreamReader) -> View:
    """Read one framed view; raises IncompleteReadError at the end of the stream."""
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    if size > _MAX_FRAME:
        raise ValueError(f"hub frame of {size} bytes is too large")
    view = pickle.loads(await reader.readexactly(size))
    if not isinstance(view, RenditionView | ChannelView):
        raise ValueError(f"unexpected hub message {type(view).__name__}")
    return view


class HubServer:
    """Packager side: keeps the latest views and streams every update to connected workers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.latest: dict[tuple[str, str], bytes] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        old = os.umask(0o177)  # only this user's processes may read the stream
        try:
            self._server = await asyncio.start_unix_server(self._accept, self.path)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Channels first, so a worker never holds a rendition of a channel it does not know.
        for key in sorted(self.latest, key=lambda k: k[1] != ""):
            writer.write(self.latest[key])
        self._writers.add(writer)
        try:
            await reader.read()  # nothing comes this way; returns when the worker goes
        except (asyncio.CancelledError, ConnectionError):
            pass  # the hub is closing or the worker went away: either way, this link is done
        finally:
            self._writers.discard(writer)
            writer.close()

    def publish(self, view: View) -> None:
        frame = encode(view)
        key = (view.name, "") if isinstance(view, ChannelView) else (view.channel, view.rendition)
        self.latest[key] = frame
        for w in list(self._writers):
            if w.is_closing():
                self._writers.discard(w)
                continue
            if w.transport.get_write_buffer_size() > _MAX_BACKLOG:
                # A worker that stopped reading must not grow the packager's memory: drop it;
                # it reconnects and gets the latest state of every rendition at once.
                log.warning("live hub: a worker is %d bytes behind; disconnecting it", _MAX_BACKLOG)
                w.close()
                self._writers.discard(w)
                continue
            w.write(frame)


class HubClient:
    """Worker side: mirrors the packager's views into a LiveHub, reconnecting as needed."""

    def __init__(self, path: str, hub: LiveHub) -> None:
        self.path = path
        self.hub = hub
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=1 << 20)
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            try:
                while True:
                    self.hub.publish(await read_view(reader))
                    self.hub.expire()
            except (asyncio.IncompleteReadError, ConnectionError):
                log.warning("live hub %s closed; reconnecting", self.path)
            except ValueError as exc:
                log.error("live hub %s: %s; reconnecting", self.path, exc)
            finally:
                writer.close()
