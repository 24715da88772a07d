"""Live LL-HLS over HTTP: blocking playlist reload, delta updates and held preload-hint parts.

URLs mirror paths under the media root:
  /live/<channel>/index.m3u8               multivariant playlist
  /live/<channel>/<rendition>/index.m3u8   media playlist (with _HLS_msn/_HLS_part/_HLS_skip)
  /live/<channel>/<rendition>/part<m>.<p>.m4s, seg<m>.m4s, init<d>.mp4   from disk
The decisions come from packager.directives; this module waits on the LiveSource and hands the
chosen bytes to the static handler, which applies preconditions, gzip and the cache headers.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from origin.cache import ObjectKind
from origin.files import FileEntry, memory_entry
from origin.static import Outcome, StaticFiles, normalise
from packager.directives import Outcome as Decide
from packager.directives import evaluate_directives, parse_directives
from packager.hub import LiveSource, RenditionView

PLAYLIST = "index.m3u8"
_PART = re.compile(r"part(\d{1,20})\.(\d{1,9})\.m4s")

# rfc8216bis §6.2.5.2: a blocking request still unanswered after three target durations gets 503.
TIMEOUT_TARGET_DURATIONS = 3


@dataclass(frozen=True, slots=True)
class LivePath:
    """A request path under /live/, split into its parts."""

    channel: str
    rendition: str | None  # None for the multivariant playlist
    name: str  # last segment: index.m3u8, part1.2.m4s, ...


def parse_live_path(rel: str) -> LivePath | None:
    """Given a normalised root-relative path, return its live parts, or None if not live."""
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "live":
        return LivePath(parts[1], None, parts[2])
    if len(parts) == 4 and parts[0] == "live":
        return LivePath(parts[1], parts[2], parts[3])
    return None


class LiveHandler:
    """Answers requests for channels the LiveSource knows; anything else goes to disk."""

    def __init__(self, static: StaticFiles, source: LiveSource) -> None:
        self.static = static
        self.source = source
        self.cfg = static.cfg
        # Rendered responses per (view version, variant, kind): built once, sent many times.
        self._entries: OrderedDict[tuple[object, ...], FileEntry] = OrderedDict()

    def match(self, scope: Scope) -> LivePath | None:
        """Return the live path when this request is for a channel being published."""
        rel = normalise(scope["path"])
        if rel is None or not rel.startswith("live/"):
            return None
        lp = parse_live_path(rel)
        if lp is None or self.source.channel(lp.channel) is None:
            return None
        return lp

    async def __call__(self, scope: Scope, receive: Receive, send: Send, lp: LivePath) -> Outcome:
        if scope["method"] not in ("GET", "HEAD"):
            return await self.static(scope, receive, send)  # 405 / OPTIONS, as for any file
        if lp.rendition is None:
            if lp.name == PLAYLIST:
                return await self._multivariant(scope, receive, send, lp)
            return await self.static(scope, receive, send)
        if lp.name == PLAYLIST:
            return await self._media_playlist(scope, receive, send, lp)
        found = await self.static.store.lookup(normalise(scope["path"]) or "")
        if isinstance(found, FileEntry):
            return await self.static.serve_entry(scope, receive, send, found)
        m = _PART.fullmatch(lp.name)
        if m is not None:
            return await self._hinted_part(scope, receive, send, lp, int(m[1]), int(m[2]))
        return await self._not_found(send)

    async def _multivariant(
        self, scope: Scope, receive: Receive, send: Send, lp: LivePath
    ) -> Outcome:
        ch = self.source.channel(lp.channel)
        if ch is None or not ch.multivariant:
            return await self._not_found(send)  # no rendition has a complete segment yet
        key = ("mv", lp.channel, ch.multivariant)
        entry = self._entry(
            key, scope, ch.multivariant, ObjectKind.LIVE_MULTIVARIANT, ch.target_duration
        )
        return await self.static.serve_entry(scope, receive, send, entry)

    async def _media_playlist(
        self, scope: Scope, receive: Receive, send: Send, lp: LivePath
    ) -> Outcome:
        assert lp.rendition is not None
        ch = self.source.channel(lp.channel)
        assert ch is not None
        td = ch.target_duration
        query = scope.get("query_string", b"").decode("latin-1")
        directives = parse_directives(query)
        # Even a malformed _HLS_ request is a blocking one: its 4xx gets the 4 x TD policy.
        blocking = "_HLS_msn" in query or "_HLS_part" in query
        view = self.source.rendition(lp.channel, lp.rendition)
        if view is None:
            if lp.rendition not in ch.renditions:
                return await self._not_found(send)
            if not blocking:
                return await self._not_found(send)  # no complete segment yet
            view = await self.source.wait(
                lp.channel, lp.rendition, directives.msn or 0, None, TIMEOUT_TARGET_DURATIONS * td
            )
            if view is None:
                return await self._unavailable(send)
        decision = evaluate_directives(directives, view.snapshot)
        if decision.outcome is Decide.BAD_REQUEST:
            kind = ObjectKind.BLOCKING_ERROR if blocking else ObjectKind.PLAYLIST_ERROR
            return await self.static.error(
                send, 400, f"{decision.reason}\n".encode(), kind=kind, target_duration=td
            )
        if decision.outcome is Decide.WAIT:
            assert decision.msn is not None
            waited = await self.source.wait(
                lp.channel,
                lp.rendition,
                decision.msn,
                decision.part,
                TIMEOUT_TARGET_DURATIONS * td,
            )
            if waited is None:
                return await self._unavailable(send)
            view = waited
        return await self._send_playlist(
            scope, receive, send, view, decision.delta, directives.msn is not None, td
        )

    async def _send_playlist(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        view: RenditionView,
        delta: bool,
        blocking: bool,
        td: int,
    ) -> Outcome:
        body = view.delta if delta and view.delta is not None else view.playlist
        if view.snapshot.has_endlist:
            kind = ObjectKind.IMMUTABLE if blocking else ObjectKind.LIVE_PLAYLIST
        else:
            # The _HLS_ query makes the URL unique to this msn/part: it can be cached long.
            kind = ObjectKind.LIVE_PLAYLIST_BLOCKED if blocking else ObjectKind.LIVE_PLAYLIST
        key = (view.channel, view.rendition, view.version, body is view.delta, kind)
        entry = self._entry(key, scope, body, kind, td)
        return await self.static.serve_entry(scope, receive, send, entry)

    async def _hinted_part(
        self, scope: Scope, receive: Receive, send: Send, lp: LivePath, msn: int, part: int
    ) -> Outcome:
        assert lp.rendition is not None
        view = self.source.rendition(lp.channel, lp.rendition)
        ch = self.source.channel(lp.channel)
        if view is None or ch is None or not view.snapshot.is_preload_hint(msn, part):
            return await self._not_found(send)  # neither published nor hinted
        # rfc8216bis §6.2.6: hold a hinted part until all of it can go at once.
        waited = await self.source.wait(
            lp.channel, lp.rendition, msn, part, TIMEOUT_TARGET_DURATIONS * ch.target_duration
        )
        if waited is None:
            return await self._unavailable(send)
        found = await self.static.store.lookup(normalise(scope["path"]) or "")
        if not isinstance(found, FileEntry):
            return await self._not_found(send)  # published then retired: gone for good
        return await self.static.serve_entry(scope, receive, send, found)

    def _entry(
        self, key: tuple[object, ...], scope: Scope, body: bytes, kind: ObjectKind, td: int
    ) -> FileEntry:
        entry = self._entries.get(key)
        if entry is None:
            rel = normalise(scope["path"]) or PLAYLIST
            entry = memory_entry(rel, body, kind, int(time.time()), self.cfg, self.static.cors, td)
            self._entries[key] = entry
            if len(self._entries) > 256:
                self._entries.popitem(last=False)
        return entry

    async def _not_found(self, send: Send) -> Outcome:
        return await self.static.error(send, 404, b"not found\n", kind=ObjectKind.NOT_FOUND)

    async def _unavailable(self, send: Send) -> Outcome:
        # llhls-rules.md: never wait forever; a 503 is never stored.
        return await self.static.error(send, 503, b"not available yet, try again\n")
