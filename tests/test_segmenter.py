"""Tests for packager.segmenter: three minutes of real ffmpeg output, then tables of cases."""

from __future__ import annotations

import itertools
import subprocess
from fractions import Fraction

import pytest
from fixtures.fmp4 import (
    FRAG_DURATION_US,
    FRAMES_PER_PART,
    FRAMES_PER_SEGMENT,
    LIVE_FPS,
    LONG_SECONDS,
    ffmpeg_exe,
)

from packager.boxes import BoxReader, Fragment, InitSegment, TrackRun
from packager.segmenter import (
    FragmentDropped,
    PartReady,
    Segmenter,
    SegmenterEvent,
    SegmentReady,
    build_fragment_plan,
    part_target_seconds,
    validate_parts,
    validate_segment_duration,
)

pytest_plugins = ["conftest_packager"]


def parse(stream: bytes) -> tuple[InitSegment, list[Fragment]]:
    reader = BoxReader()
    events = reader.feed(stream) + reader.close()
    init, fragments = events[0], events[1:]
    assert isinstance(init, InitSegment)
    return init, [f for f in fragments if isinstance(f, Fragment)]


@pytest.fixture(scope="module")
def live_run(long_stream: bytes) -> tuple[InitSegment, list[Fragment], list[SegmenterEvent], int]:
    init, fragments = parse(long_stream)
    video = init.track("vide")
    assert video is not None
    plan = build_fragment_plan(Fraction(LIVE_FPS), Fraction(1, 5), Fraction(2))
    ts = video.timescale
    seg = Segmenter(ts, int(plan.part_duration * ts), int(plan.segment_duration * ts))
    events: list[SegmenterEvent] = []
    for fragment in fragments:
        events.extend(seg.push(fragment))
    events.extend(seg.flush())
    return init, fragments, events, seg.max_part_ticks


def test_fixture_uses_the_plan() -> None:
    plan = build_fragment_plan(Fraction(LIVE_FPS), Fraction(1, 5), Fraction(2))
    assert (plan.frames_per_part, plan.frames_per_segment) == (FRAMES_PER_PART, FRAMES_PER_SEGMENT)
    assert plan.frag_duration_us == FRAG_DURATION_US


def test_long_stream_parts_and_segments(
    live_run: tuple[InitSegment, list[Fragment], list[SegmenterEvent], int],
) -> None:
    init, fragments, events, max_part_ticks = live_run
    video = init.track("vide")
    assert video is not None
    ts = video.timescale
    segments = [e for e in events if isinstance(e, SegmentReady)]
    parts = [e for e in events if isinstance(e, PartReady)]
    assert not [e for e in events if isinstance(e, FragmentDropped)]
    assert len(parts) == len(fragments) == LONG_SECONDS * LIVE_FPS // FRAMES_PER_PART
    assert len(segments) == LONG_SECONDS * LIVE_FPS // FRAMES_PER_SEGMENT

    # Measured: every part is exactly 6 frames (0.2 s), so PART-TARGET is 0.2, never less.
    assert {p.duration_ticks for p in parts} == {ts * FRAMES_PER_PART // LIVE_FPS}
    part_target = part_target_seconds(max_part_ticks, ts)
    assert part_target == Fraction(1, 5)
    target_duration = 2
    for segment in segments:
        assert segment.parts[0].independent
        assert validate_parts(segment, part_target, ts) == []
        assert validate_segment_duration(segment, target_duration, ts) == []
        assert segment.duration_ticks == sum(p.duration_ticks for p in segment.parts)
        assert segment.data == b"".join(p.data for p in segment.parts)
        assert [p.index for p in segment.parts] == list(range(len(segment.parts)))
        assert {p.msn for p in segment.parts} == {segment.msn}
    assert [s.msn for s in segments] == list(range(len(segments)))


def test_long_stream_tfdt_continuity(
    live_run: tuple[InitSegment, list[Fragment], list[SegmenterEvent], int],
) -> None:
    init, fragments, events, _ = live_run
    segments = [e for e in events if isinstance(e, SegmentReady)]
    for before, after in itertools.pairwise(segments):
        assert before.start_ticks + before.duration_ticks == after.start_ticks
    for track in init.tracks:  # the muxed audio too: no gaps, no overlaps
        runs = [r for f in fragments for r in f.tracks if r.track_id == track.track_id]
        for a, b in itertools.pairwise(runs):
            assert a.base_media_decode_time + a.duration == b.base_media_decode_time


def test_segment_closes_before_the_part_that_opens_the_next(
    live_run: tuple[InitSegment, list[Fragment], list[SegmenterEvent], int],
) -> None:
    _, _, events, _ = live_run
    kinds = [
        (type(e).__name__, e.msn) for e in events[:23] if isinstance(e, PartReady | SegmentReady)
    ]
    assert kinds[9:12] == [("PartReady", 0), ("SegmentReady", 0), ("PartReady", 1)]


# ---- synthetic fragments --------------------------------------------------------------------

TS = 1000  # ticks per second: durations below read as milliseconds


def frag(seq: int, start: int, duration: int, independent: bool) -> Fragment:
    run = TrackRun(seq, "vide", TS, start, 1, duration, independent, 1)
    return Fragment(data=bytes([seq % 256]), tracks=(run,), sequence_number=seq)


def cut(spec: list[tuple[int, bool]], part: int = 200, segment: int = 1000) -> list[list[int]]:
    """Push fragments (duration, independent); return segments as lists of part durations."""
    seg = Segmenter(TS, part, segment)
    events: list[SegmenterEvent] = []
    start = 0
    for seq, (duration, independent) in enumerate(spec):
        events.extend(seg.push(frag(seq, start, duration, independent)))
        start += duration
    events.extend(seg.flush())
    return [[p.duration_ticks for p in e.parts] for e in events if isinstance(e, SegmentReady)]


K, P = True, False  # keyframe part, plain part
# (case, fragments, expected segments)
CUT_CASES = [
    ("one segment flushed", [(200, K), (200, P)], [[200, 200]]),
    ("cut at keyframe at target", [(500, K), (500, P), (500, K)], [[500, 500], [500]]),
    ("early keyframe: no cut", [(500, K), (400, K), (100, P), (200, K)], [[500, 400, 100], [200]]),
    ("late keyframe", [(500, K), (500, P), (500, P), (500, K)], [[500, 500, 500], [500]]),
    ("leading non-independent dropped", [(200, P), (200, K), (200, P)], [[200, 200]]),
    ("nothing independent: nothing out", [(200, P), (200, P)], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in CUT_CASES], ids=[c[0] for c in CUT_CASES]
)
def test_segment_cutting(spec: list[tuple[int, bool]], expected: list[list[int]]) -> None:
    assert cut(spec) == expected


def test_dropped_fragment_event_and_part_numbering() -> None:
    seg = Segmenter(TS, 200, 400)
    assert seg.push(frag(0, 0, 200, False)) == [FragmentDropped(0, 0)]
    (p0,) = seg.push(frag(1, 200, 200, True))
    assert isinstance(p0, PartReady)
    assert (p0.msn, p0.index, p0.independent, p0.start_ticks) == (0, 0, True, 200)
    assert seg.next_part == (0, 1)
    seg.push(frag(2, 400, 200, False))
    closed, p2 = seg.push(frag(3, 600, 250, True))
    assert isinstance(closed, SegmentReady) and isinstance(p2, PartReady)
    assert (closed.msn, closed.duration_ticks, closed.start_ticks) == (0, 400, 200)
    assert (p2.msn, p2.index) == (1, 0)
    assert seg.max_part_ticks == 250
    assert seg.max_segment_ticks == 400
    (last,) = seg.flush()
    assert isinstance(last, SegmentReady) and last.msn == 1
    assert seg.flush() == []


# (max part ticks, timescale, PART-TARGET)
PART_TARGET_CASES = [
    (3072, 15360, Fraction(1, 5)),  # 6 frames at 30 fps, ffmpeg's 15360 timescale
    (6006, 30000, Fraction(201, 1000)),  # 6 frames at 29.97: 0.2002 rounds UP
    (18000, 90000, Fraction(1, 5)),
    (1, 90000, Fraction(1, 1000)),
    (30030, 90000, Fraction(334, 1000)),
]


@pytest.mark.parametrize(("ticks", "timescale", "expected"), PART_TARGET_CASES)
def test_part_target_rounds_up(ticks: int, timescale: int, expected: Fraction) -> None:
    target = part_target_seconds(ticks, timescale)
    assert target == expected
    assert Fraction(ticks, timescale) <= target


def part(index: int, duration: int, independent: bool = False) -> PartReady:
    return PartReady(7, index, duration, independent, b"", 0)


PT = Fraction(1, 5)  # 200 ticks at TS
# (case, parts, complete?, number of problems)
VALIDATE_CASES = [
    ("all full", [part(0, 200, True), part(1, 200), part(2, 200)], True, 0),
    ("one over PART-TARGET", [part(0, 200, True), part(1, 201)], True, 1),
    ("short middle part", [part(0, 200, True), part(1, 169), part(2, 200)], True, 1),
    ("exactly 0.85", [part(0, 200, True), part(1, 170), part(2, 200)], True, 0),
    ("short independent part", [part(0, 50, True), part(1, 200)], True, 0),
    ("short last part", [part(0, 200, True), part(1, 60)], True, 0),
    ("short last part of a segment in progress", [part(0, 200, True), part(1, 60)], False, 1),
    ("over and short", [part(0, 300, True), part(1, 10), part(2, 10)], True, 2),
]


@pytest.mark.parametrize(
    ("parts", "complete", "problems"),
    [c[1:] for c in VALIDATE_CASES],
    ids=[c[0] for c in VALIDATE_CASES],
)
def test_validate_parts(parts: list[PartReady], complete: bool, problems: int) -> None:
    assert len(validate_parts(parts, PT, TS, complete=complete)) == problems


@pytest.mark.parametrize(
    ("duration", "ok"), [(2000, True), (2499, True), (2500, False), (1000, True)]
)
def test_validate_segment_duration(duration: int, ok: bool) -> None:
    segment = SegmentReady(0, duration, (), b"", 0)
    assert (validate_segment_duration(segment, 2, TS) == []) is ok


# (fps, part target, segment target) → (frames/part, frames/segment, frag µs, PART-TARGET, TD)
PLAN_CASES = [
    ((Fraction(30), Fraction(1, 5), Fraction(2)), (6, 60, 200_000, Fraction(1, 5), 2)),
    (
        (Fraction(30000, 1001), Fraction(1, 5), Fraction(2)),
        (6, 60, 200_200, Fraction(201, 1000), 2),
    ),
    ((Fraction(25), Fraction(1, 5), Fraction(2)), (5, 50, 200_000, Fraction(1, 5), 2)),
    ((Fraction(60), Fraction(1, 3), Fraction(4)), (20, 240, 333_333, Fraction(334, 1000), 4)),
    ((Fraction(24), Fraction(1, 2), Fraction(6)), (12, 144, 500_000, Fraction(1, 2), 6)),
    ((Fraction(1), Fraction(1, 10), Fraction(1)), (1, 1, 1_000_000, Fraction(1), 1)),
]


@pytest.mark.parametrize(("args", "expected"), PLAN_CASES)
def test_build_fragment_plan(
    args: tuple[Fraction, Fraction, Fraction], expected: tuple[int, int, int, Fraction, int]
) -> None:
    plan = build_fragment_plan(*args)
    got = (
        plan.frames_per_part,
        plan.frames_per_segment,
        plan.frag_duration_us,
        plan.part_target,
        plan.target_duration,
    )
    assert got == expected
    assert plan.frames_per_segment % plan.frames_per_part == 0
    assert plan.part_duration <= plan.part_target


def test_plan_holds_on_real_ffmpeg_at_29_97() -> None:
    """At a non-integer frame rate the plan still yields exactly N frames per fragment."""
    plan = build_fragment_plan(Fraction(30000, 1001), Fraction(1, 5), Fraction(2))
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30000/1001",
        "-f", "lavfi", "-i", "sine=sample_rate=48000",
        "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
        *plan.ffmpeg_args(), "-f", "mp4", "pipe:1",
    ]  # fmt: skip
    stream = subprocess.run(cmd, check=True, capture_output=True, timeout=60).stdout
    init, fragments = parse(stream)
    video = init.track("vide")
    assert video is not None
    ts = video.timescale
    seg = Segmenter(ts, int(plan.part_duration * ts), int(plan.segment_duration * ts))
    segments = [e for f in fragments for e in seg.push(f) if isinstance(e, SegmentReady)]
    assert {f.primary().sample_count for f in fragments} == {plan.frames_per_part}
    assert part_target_seconds(seg.max_part_ticks, ts) <= plan.part_target
    for segment in segments:
        assert len(segment.parts) == plan.frames_per_segment // plan.frames_per_part
        assert validate_parts(segment, plan.part_target, ts) == []
