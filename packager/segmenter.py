"""Fragments of one rendition → LL-HLS parts and segments, plus the numbers around them.

One fragment (moof+mdat) is one part. A segment is the parts from one independent part up to
the next segment boundary: the first independent fragment at or after the segment target, so
every segment starts with a keyframe (llhls-rules.md: renditions keyframe-aligned so
players can switch at every segment; EXT-X-PART INDEPENDENT, rfc8216bis §4.4.4.9). Timing
uses the primary track (video if present) in its own timescale; durations are integer ticks.
`part_target_ticks` is the planned part length, kept for callers: cutting follows the
fragments ffmpeg actually wrote.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from packager.boxes import Fragment, TrackRun

__all__ = [
    "FragmentDropped",
    "FragmentPlan",
    "PartReady",
    "SegmentReady",
    "Segmenter",
    "SegmenterEvent",
    "build_fragment_plan",
    "part_target_seconds",
    "validate_parts",
    "validate_segment_duration",
]

# rfc8216bis §4.4.4.9: parts other than the last of a segment SHOULD be ≥ 85% of PART-TARGET
# (llhls-rules.md makes it a MUST, and exempts independent parts).
MIN_PART_RATIO = Fraction(85, 100)
# PART-TARGET is advertised with millisecond precision, rounded up, so it is never below a part.
PART_TARGET_RESOLUTION = 1000


@dataclass(frozen=True, slots=True)
class PartReady:
    """A complete part: publishable as soon as this event is seen."""

    msn: int  # media sequence number of the segment it belongs to
    index: int  # part index within that segment, from 0
    duration_ticks: int  # EXT-X-PART DURATION, in the primary track timescale
    independent: bool  # EXT-X-PART INDEPENDENT=YES: starts with a sync sample
    data: bytes  # moof+mdat (and any prefix boxes)
    start_ticks: int  # tfdt of the primary track


@dataclass(frozen=True, slots=True)
class SegmentReady:
    """A complete segment: its parts in order, and their bytes concatenated."""

    msn: int  # media sequence number
    duration_ticks: int  # EXTINF, in the primary track timescale
    parts: tuple[PartReady, ...]
    data: bytes
    start_ticks: int  # tfdt of the primary track at the segment start


@dataclass(frozen=True, slots=True)
class FragmentDropped:
    """A fragment before the first independent one: a segment may not start with it."""

    sequence_number: int  # mfhd
    start_ticks: int


SegmenterEvent = PartReady | SegmentReady | FragmentDropped


class Segmenter:
    """Cut one rendition's fragments into parts and segments.

    `push()` each Fragment; it returns a SegmentReady for the segment a fragment closes (if
    any) followed by the PartReady for the fragment itself. `flush()` closes the last segment.
    """

    def __init__(
        self,
        timescale: int,
        part_target_ticks: int,
        segment_target_ticks: int,
        *,
        first_msn: int = 0,
        track_id: int | None = None,
    ) -> None:
        if timescale <= 0 or part_target_ticks <= 0 or segment_target_ticks <= 0:
            raise ValueError("timescale and targets must be positive")
        self.timescale = timescale
        self.part_target_ticks = part_target_ticks
        self.segment_target_ticks = segment_target_ticks
        self._track_id = track_id
        self._msn = first_msn
        self._parts: list[PartReady] = []
        self._max_part_ticks = 0
        self._max_segment_ticks = 0

    @property
    def max_part_ticks(self) -> int:
        """Longest part seen so far: advertise PART-TARGET rounded up from this."""
        return self._max_part_ticks

    @property
    def max_segment_ticks(self) -> int:
        """Longest complete segment seen so far."""
        return self._max_segment_ticks

    @property
    def next_part(self) -> tuple[int, int]:
        """(msn, index) the next fragment gets if it does not start a new segment."""
        return self._msn, len(self._parts)

    def _run_of(self, fragment: Fragment) -> tuple[int, int, bool]:
        run: TrackRun | None = fragment.primary()
        if self._track_id is not None:
            run = next((r for r in fragment.tracks if r.track_id == self._track_id), None)
        if run is None:
            raise ValueError(f"fragment has no track {self._track_id}")
        if run.timescale and run.timescale != self.timescale:
            raise ValueError(f"track timescale {run.timescale} != segmenter {self.timescale}")
        return run.base_media_decode_time, run.duration, run.first_sample_is_sync

    def push(self, fragment: Fragment) -> list[SegmenterEvent]:
        """Add one fragment; return the events it causes."""
        start, duration, independent = self._run_of(fragment)
        if not self._parts and not independent:
            return [FragmentDropped(fragment.sequence_number, start)]
        events: list[SegmenterEvent] = []
        elapsed = sum(p.duration_ticks for p in self._parts)
        if self._parts and independent and elapsed >= self.segment_target_ticks:
            events.append(self._close())
        part = PartReady(
            msn=self._msn,
            index=len(self._parts),
            duration_ticks=duration,
            independent=independent,
            data=fragment.data,
            start_ticks=start,
        )
        self._parts.append(part)
        self._max_part_ticks = max(self._max_part_ticks, duration)
        events.append(part)
        return events

    def flush(self) -> list[SegmenterEvent]:
        """End of input: close the segment in progress, if any."""
        return [self._close()] if self._parts else []

    def _close(self) -> SegmentReady:
        parts = tuple(self._parts)
        segment = SegmentReady(
            msn=self._msn,
            duration_ticks=sum(p.duration_ticks for p in parts),
            parts=parts,
            data=b"".join(p.data for p in parts),
            start_ticks=parts[0].start_ticks,
        )
        self._max_segment_ticks = max(self._max_segment_ticks, segment.duration_ticks)
        self._parts = []
        self._msn += 1
        return segment


def part_target_seconds(max_part_ticks: int, timescale: int) -> Fraction:
    """Return PART-TARGET in seconds: the longest part rounded UP to a millisecond."""
    # rfc8216bis §4.4.3.7: every part DURATION MUST be ≤ PART-TARGET, so never round down.
    millis = -(-max_part_ticks * PART_TARGET_RESOLUTION // timescale)
    return Fraction(millis, PART_TARGET_RESOLUTION)


def validate_parts(
    segment: SegmentReady | Iterable[PartReady],
    part_target: Fraction,
    timescale: int,
    *,
    complete: bool = True,
) -> list[str]:
    """Return one message per part rule broken by these parts of one segment (empty if none).

    `complete=False` for a segment in progress: its last part is not yet known to be the last.
    """
    parts = tuple(segment.parts if isinstance(segment, SegmentReady) else segment)
    limit = part_target * timescale
    floor = MIN_PART_RATIO * limit
    problems: list[str] = []
    for i, part in enumerate(parts):
        where = f"part {part.msn}.{part.index}"
        if part.duration_ticks > limit:
            # rfc8216bis §4.4.4.9: DURATION MUST be ≤ PART-TARGET (Apple: fatal).
            problems.append(f"{where}: {part.duration_ticks} ticks > PART-TARGET {part_target}s")
        is_last = complete and i == len(parts) - 1
        if part.duration_ticks < floor and not (part.independent or is_last):
            # rfc8216bis §4.4.4.9: non-final parts ≥ 0.85 x PART-TARGET.
            problems.append(f"{where}: {part.duration_ticks} ticks < 0.85 x PART-TARGET")
    return problems


def validate_segment_duration(
    segment: SegmentReady, target_duration: int, timescale: int
) -> list[str]:
    """Return a message if the segment breaks the EXT-X-TARGETDURATION rule (empty if not)."""
    # rfc8216bis §4.4.3.1: EXTINF rounded to the nearest integer MUST be ≤ TARGETDURATION.
    rounded = math.floor(Fraction(segment.duration_ticks, timescale) + Fraction(1, 2))
    if rounded > target_duration:
        return [
            f"segment {segment.msn}: {segment.duration_ticks} ticks rounds above {target_duration}s"
        ]
    return []


@dataclass(frozen=True, slots=True)
class FragmentPlan:
    """What to ask the encoder for so parts are whole frames and segments whole parts."""

    frames_per_part: int
    frames_per_segment: int  # GOP length: one keyframe per segment
    frag_duration_us: int  # ffmpeg -frag_duration (microseconds)
    part_duration: Fraction  # seconds, exact
    segment_duration: Fraction  # seconds, exact
    part_target: Fraction  # PART-TARGET to advertise (part_duration rounded up to ms)
    target_duration: int  # EXT-X-TARGETDURATION

    def ffmpeg_args(self) -> list[str]:
        """Return the video encoder/muxer arguments that realise this plan (libx264)."""
        gop = str(self.frames_per_segment)
        return [
            "-g", gop,
            "-keyint_min", gop,
            "-sc_threshold", "0",
            "-frag_duration", str(self.frag_duration_us),
            "-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof",
        ]  # fmt: skip


def build_fragment_plan(
    frame_rate: Fraction, part_target: Fraction, segment_target: Fraction
) -> FragmentPlan:
    """Given a frame rate and desired part/segment durations, return a whole-frame plan.

    ffmpeg's mp4 muxer flushes a fragment when a packet arrives whose DTS is at least
    frag_duration after the fragment's first one; asking for exactly N frame durations gives N
    frames per fragment. Muxed audio packets are checked against the same threshold; with AAC
    the next video packet crosses it first (the segmenter tests check this on real output).
    """
    if frame_rate <= 0 or part_target <= 0 or segment_target <= 0:
        raise ValueError("frame rate and targets must be positive")
    frames_per_part = max(1, round(part_target * frame_rate))
    parts_per_segment = max(1, round(segment_target / (frames_per_part / frame_rate)))
    frames_per_segment = frames_per_part * parts_per_segment
    part_duration = Fraction(frames_per_part) / frame_rate
    segment_duration = Fraction(frames_per_segment) / frame_rate
    # Round down: a threshold above N frames would let an (N+1)th frame in.
    frag_duration_us = math.floor(part_duration * 1_000_000)
    millis = math.ceil(part_duration * PART_TARGET_RESOLUTION)
    return FragmentPlan(
        frames_per_part=frames_per_part,
        frames_per_segment=frames_per_segment,
        frag_duration_us=frag_duration_us,
        part_duration=part_duration,
        segment_duration=segment_duration,
        part_target=Fraction(millis, PART_TARGET_RESOLUTION),
        target_duration=math.floor(segment_duration + Fraction(1, 2)),
    )
