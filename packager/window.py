"""The live window of one rendition: which segments and parts a playlist lists right now.

`Window` is the single writer's state (the packager calls it once per part); `snapshot()`
returns a frozen `Snapshot` that the HTTP side reads and renders, so a playlist is always
rendered from one consistent state (llhls-rules.md: a playlist update is atomic). No clock is
read here: the PROGRAM-DATE-TIME anchor is passed in, and retirement times are media time
(ticks of published media), which the live edge advances at wall-clock rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from packager.model import (
    Map,
    MediaPlaylist,
    Part,
    PreloadHint,
    RenditionReport,
    Segment,
    ServerControl,
)

__all__ = [
    "Naming",
    "PartEntry",
    "Retirement",
    "SegmentEntry",
    "Snapshot",
    "Window",
    "WindowConfig",
]

# llhls-rules.md (Apple HLS Authoring Spec, enforced by Apple players): keep ≥ 6 segments.
MIN_WINDOW_SEGMENTS = 6
# rfc8216bis §6.2.2: the playlist must hold ≥ 3 target durations of media; parts older than
# 3xTD from the end may go (§4.4.4.9) but stay downloadable ≥ 3xTD longer (§6.2.2).
TD_MULTIPLE = 3


@dataclass(frozen=True, slots=True)
class Naming:
    """URI templates, relative to the media playlist."""

    part: str = "part{msn}.{part}.m4s"  # {msn}, {part}
    segment: str = "seg{msn}.m4s"  # {msn}
    init: str = "init{dsn}.mp4"  # {dsn}: discontinuity sequence number of its first segment

    def part_uri(self, msn: int, part: int) -> str:
        """Return the URI of part `part` of segment `msn`."""
        return self.part.format(msn=msn, part=part)

    def segment_uri(self, msn: int) -> str:
        """Return the URI of segment `msn`."""
        return self.segment.format(msn=msn)

    def init_uri(self, dsn: int) -> str:
        """Return the URI of the init segment that starts discontinuity `dsn`."""
        return self.init.format(dsn=dsn)


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """What does not change for the life of the playlist (rfc8216bis §6.2.1)."""

    timescale: int  # ticks per second of the primary track
    target_duration: int  # EXT-X-TARGETDURATION, seconds
    part_target: Fraction  # EXT-X-PART-INF:PART-TARGET, seconds
    window_segments: int = MIN_WINDOW_SEGMENTS  # keep at least this many complete segments
    naming: Naming = field(default_factory=Naming)
    # Parts in every segment when the encoder's GOP fixes it (None: not known in advance).
    # Lets the preload hint name the next segment's part 0 once a segment is full.
    parts_per_segment: int | None = None

    @property
    def td_ticks(self) -> int:
        """One target duration, in ticks."""
        return self.target_duration * self.timescale


@dataclass(frozen=True, slots=True)
class PartEntry:
    """A published part."""

    msn: int
    index: int
    duration_ticks: int
    independent: bool
    uri: str


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """A complete segment in the window."""

    msn: int
    uri: str
    duration_ticks: int
    start_ticks: int  # tfdt of the primary track
    parts: tuple[PartEntry, ...]  # listed parts (empty once older than 3xTD from the end)
    part_count: int  # parts it was cut into, listed or not
    dsn: int  # discontinuity sequence number
    discontinuity: bool  # first segment after a discontinuity
    map_uri: str
    program_date_time: datetime


@dataclass(frozen=True, slots=True)
class Retirement:
    """A URI no longer listed; deletable once the window's elapsed_ticks reach the given tick."""

    uri: str
    delete_after_ticks: int  # compare with Snapshot.elapsed_ticks


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent view of the window: what one playlist render sees."""

    config: WindowConfig
    segments: tuple[SegmentEntry, ...]
    partial: tuple[PartEntry, ...]  # parts of the segment in progress
    next_msn: int  # msn of the segment in progress
    partial_dsn: int
    partial_discontinuity: bool
    partial_map_uri: str | None
    partial_program_date_time: datetime | None
    ended: bool  # EXT-X-ENDLIST
    elapsed_ticks: int  # media published so far, all discontinuities included

    @property
    def has_endlist(self) -> bool:
        """True once the input ended."""
        return self.ended

    @property
    def target_duration(self) -> int:
        """EXT-X-TARGETDURATION, seconds."""
        return self.config.target_duration

    @property
    def part_target(self) -> Fraction:
        """PART-TARGET, seconds."""
        return self.config.part_target

    @property
    def media_sequence(self) -> int:
        """EXT-X-MEDIA-SEQUENCE: msn of the oldest listed segment."""
        return self.segments[0].msn if self.segments else self.next_msn

    @property
    def has_complete_segment(self) -> bool:
        """False until one segment is complete: publish no playlist before (llhls-rules.md)."""
        return bool(self.segments)

    @property
    def last_msn(self) -> int:
        """Msn of the newest segment with anything published (next_msn - 1 if none)."""
        return self.next_msn if self.partial else self.next_msn - 1

    @property
    def last_part(self) -> int | None:
        """Index of the newest published part within last_msn, or None."""
        if self.partial:
            return self.partial[-1].index
        if self.segments:
            return self.segments[-1].part_count - 1
        return None

    @property
    def preload_hint(self) -> tuple[int, int] | None:
        """(msn, part) of the hinted next part; None after ENDLIST."""
        # rfc8216bis §4.4.5.3: no EXT-X-PRELOAD-HINT once the playlist has EXT-X-ENDLIST.
        if self.ended:
            return None
        full = self.config.parts_per_segment
        if full is not None and len(self.partial) >= full:
            # llhls-rules.md: the hint's URI must be the one the part will have; a full segment
            # closes before its next part, which is part 0 of the next segment.
            return (self.next_msn + 1, 0)
        return (self.next_msn, len(self.partial))

    def part_count(self, msn: int) -> int | None:
        """Final number of parts of segment msn if it is complete and listed, else None."""
        seg = self._segment(msn)
        return seg.part_count if seg else None

    def _segment(self, msn: int) -> SegmentEntry | None:
        i = msn - self.media_sequence
        return self.segments[i] if self.segments and 0 <= i < len(self.segments) else None

    def is_published(self, msn: int, part: int | None = None) -> bool:
        """True if segment msn is complete (part None) or part (msn, part) is published."""
        if msn < self.next_msn:
            if part is None:
                return True
            count = self.part_count(msn)
            # Older than the window: long published. Listed: the index must exist.
            return count is None or part < count
        if msn == self.next_msn and part is not None:
            return part < len(self.partial)
        return False

    def is_preload_hint(self, msn: int, part: int) -> bool:
        """True if (msn, part) is the part the playlist hints."""
        return self.preload_hint == (msn, part)

    def rendition_report(self, uri: str) -> RenditionReport:
        """Return this rendition's EXT-X-RENDITION-REPORT for other renditions' playlists."""
        return RenditionReport(uri=uri, last_msn=self.last_msn, last_part=self.last_part)

    def build_media_playlist(
        self,
        server_control: ServerControl | None,
        rendition_reports: tuple[RenditionReport, ...] = (),
    ) -> MediaPlaylist:
        """Return the MediaPlaylist of this snapshot."""
        naming, ts = self.config.naming, self.config.timescale
        segments = tuple(
            Segment(
                uri=s.uri,
                duration=Fraction(s.duration_ticks, ts),
                parts=tuple(_part(p, ts) for p in s.parts),
                program_date_time=s.program_date_time,
                discontinuity=s.discontinuity,
                map=Map(s.map_uri),
            )
            for s in self.segments
        )
        hint = self.preload_hint
        return MediaPlaylist(
            target_duration=self.config.target_duration,
            segments=segments,
            media_sequence=self.media_sequence,
            discontinuity_sequence=self.segments[0].dsn if self.segments else self.partial_dsn,
            map=Map(self.segments[0].map_uri) if self.segments else None,
            part_target=self.config.part_target,
            server_control=server_control,
            partial_parts=tuple(_part(p, ts) for p in self.partial),
            partial_program_date_time=self.partial_program_date_time if self.partial else None,
            partial_discontinuity=self.partial_discontinuity and bool(self.partial),
            partial_map=Map(self.partial_map_uri) if self.partial_map_uri else None,
            preload_hint=PreloadHint(naming.part_uri(*hint)) if hint else None,
            rendition_reports=rendition_reports,
            endlist=self.ended,
        )


def _part(p: PartEntry, timescale: int) -> Part:
    return Part(
        uri=p.uri, duration=Fraction(p.duration_ticks, timescale), independent=p.independent
    )


class Window:
    """Single-writer live window; call `discontinuity()` first, then parts and segments."""

    def __init__(self, config: WindowConfig, *, first_msn: int = 0) -> None:
        if config.window_segments < MIN_WINDOW_SEGMENTS:
            raise ValueError(f"window_segments must be ≥ {MIN_WINDOW_SEGMENTS}")
        self.config = config
        self._segments: list[SegmentEntry] = []
        self._partial: list[PartEntry] = []
        self._partial_start = 0
        self._next_msn = first_msn
        self._dsn = -1  # becomes 0 at the first discontinuity() (the stream start)
        self._pending_discontinuity = False
        self._anchor: datetime | None = None
        self._tfdt0 = 0
        self._ended = False
        self._elapsed = 0
        self._retired: list[Retirement] = []
        self._snapshot: Snapshot | None = None

    def discontinuity(self, anchor: datetime, start_ticks: int) -> None:
        """(Re)start the timeline: PDT = anchor + (tfdt - start_ticks) / timescale from here on.

        The first call anchors the stream start; later ones mark an encoder restart
        (EXT-X-DISCONTINUITY, new EXT-X-MAP, msn keeps increasing).
        """
        if self._partial:
            raise ValueError("discontinuity inside a segment: close the segment first")
        if anchor.tzinfo is None:
            raise ValueError("anchor must be timezone-aware")
        # llhls-rules.md: PDT anchored once, re-anchored only at a discontinuity.
        self._anchor, self._tfdt0 = anchor, start_ticks
        self._pending_discontinuity = self._dsn >= 0
        self._dsn += 1
        self._snapshot = None

    def _pdt(self, start_ticks: int) -> datetime:
        if self._anchor is None:
            raise ValueError("call discontinuity() before adding media")
        micros = (start_ticks - self._tfdt0) * 1_000_000 // self.config.timescale
        return self._anchor + timedelta(microseconds=micros)

    def add_part(
        self, msn: int, index: int, duration_ticks: int, independent: bool, start_ticks: int
    ) -> list[Retirement]:
        """Publish the next part; return URIs this unlists (parts older than 3xTD)."""
        if self._ended:
            raise ValueError("window has ended")
        if (msn, index) != (self._next_msn, len(self._partial)):
            raise ValueError(f"part {msn}.{index} is not the next one")
        if index == 0:
            if not independent:
                raise ValueError("a segment must start with an independent part")
            self._pdt(start_ticks)  # fails early without an anchor
            self._partial_start = start_ticks
        uri = self.config.naming.part_uri(msn, index)
        self._partial.append(PartEntry(msn, index, duration_ticks, independent, uri))
        self._elapsed += duration_ticks
        self._snapshot = None
        return self._trim()

    def add_segment(self, msn: int, duration_ticks: int) -> list[Retirement]:
        """Close segment msn from its published parts; return the URIs this unlists."""
        if msn != self._next_msn or not self._partial:
            raise ValueError(f"segment {msn} is not the one in progress")
        if duration_ticks != sum(p.duration_ticks for p in self._partial):
            raise ValueError(f"segment {msn} duration differs from the sum of its parts")
        self._segments.append(
            SegmentEntry(
                msn=msn,
                uri=self.config.naming.segment_uri(msn),
                duration_ticks=duration_ticks,
                start_ticks=self._partial_start,
                parts=tuple(self._partial),
                part_count=len(self._partial),
                dsn=self._dsn,
                discontinuity=self._pending_discontinuity,
                map_uri=self.config.naming.init_uri(self._dsn),
                program_date_time=self._pdt(self._partial_start),
            )
        )
        self._pending_discontinuity = False
        self._partial = []
        self._next_msn += 1
        self._snapshot = None
        return self._trim()

    def end(self) -> None:
        """Input ended: EXT-X-ENDLIST from now on, no preload hint."""
        if self._partial:
            raise ValueError("end() inside a segment: close the segment first")
        self._ended = True
        self._snapshot = None

    def _trim(self) -> list[Retirement]:
        td = self.config.td_ticks
        keep_after = self._elapsed + TD_MULTIPLE * td  # deletable once media reaches this
        retired: list[Retirement] = []
        # rfc8216bis §6.2.2 + Apple: keep ≥ window_segments segments and ≥ 3xTD of media.
        total = sum(s.duration_ticks for s in self._segments)
        while (
            len(self._segments) > self.config.window_segments
            and total - self._segments[0].duration_ticks >= TD_MULTIPLE * td
        ):
            gone = self._segments.pop(0)
            total -= gone.duration_ticks
            retired.extend(Retirement(p.uri, keep_after) for p in gone.parts)
            retired.append(Retirement(gone.uri, keep_after))
            unused = not self._segments or self._segments[0].map_uri != gone.map_uri
            if unused and gone.map_uri != self.config.naming.init_uri(self._dsn):
                retired.append(Retirement(gone.map_uri, keep_after))
        # rfc8216bis §4.4.4.9: EXT-X-PART tags older than 3xTD from the end may be removed.
        from_end = sum(p.duration_ticks for p in self._partial)
        for i in range(len(self._segments) - 1, -1, -1):
            seg = self._segments[i]
            if from_end >= TD_MULTIPLE * td and seg.parts:
                retired.extend(Retirement(p.uri, keep_after) for p in seg.parts)
                self._segments[i] = _without_parts(seg)
            from_end += seg.duration_ticks
        self._retired.extend(retired)
        return retired

    def take_deletable(self) -> list[str]:
        """Return (and forget) retired URIs whose grace period has passed in media time."""
        ready = [r.uri for r in self._retired if r.delete_after_ticks <= self._elapsed]
        self._retired = [r for r in self._retired if r.delete_after_ticks > self._elapsed]
        return ready

    def snapshot(self) -> Snapshot:
        """Return the frozen view of the current state (cached until the next change)."""
        if self._snapshot is None:
            pending = self._pending_discontinuity
            self._snapshot = Snapshot(
                config=self.config,
                segments=tuple(self._segments),
                partial=tuple(self._partial),
                next_msn=self._next_msn,
                partial_dsn=max(self._dsn, 0),
                partial_discontinuity=pending,
                partial_map_uri=self.config.naming.init_uri(self._dsn) if pending else None,
                partial_program_date_time=self._pdt(self._partial_start) if self._partial else None,
                ended=self._ended,
                elapsed_ticks=self._elapsed,
            )
        return self._snapshot


def _without_parts(seg: SegmentEntry) -> SegmentEntry:
    return SegmentEntry(
        msn=seg.msn,
        uri=seg.uri,
        duration_ticks=seg.duration_ticks,
        start_ticks=seg.start_ticks,
        parts=(),
        part_count=seg.part_count,
        dsn=seg.dsn,
        discontinuity=seg.discontinuity,
        map_uri=seg.map_uri,
        program_date_time=seg.program_date_time,
    )
