"""Tests for packager.window: retention, part expiry, retirement, PDT anchoring,
discontinuities, ENDLIST, snapshot queries; then the whole pure pipeline over real ffmpeg."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import m3u8
import pytest

from packager.boxes import BoxReader, Fragment, InitSegment
from packager.model import ServerControl
from packager.playlist import render_media_playlist
from packager.segmenter import PartReady, Segmenter, SegmentReady, part_target_seconds
from packager.window import Naming, Retirement, Snapshot, Window, WindowConfig

pytest_plugins = ["conftest_packager"]

TS = 1000  # ticks per second: ticks read as milliseconds
ANCHOR = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = WindowConfig(timescale=TS, target_duration=2, part_target=Fraction(1, 2))


def fill(
    window: Window, segments: int, part_ms: int = 500, parts: int = 4, start: int = 0
) -> tuple[int, list[Retirement]]:
    """Add complete segments; return the next start tick and every retirement reported."""
    retired: list[Retirement] = []
    for _ in range(segments):
        msn = window.snapshot().next_msn
        for index in range(parts):
            retired += window.add_part(msn, index, part_ms, index == 0, start)
            start += part_ms
        retired += window.add_segment(msn, part_ms * parts)
    return start, retired


def started(config: WindowConfig = CONFIG, tfdt0: int = 0) -> Window:
    window = Window(config)
    window.discontinuity(ANCHOR, tfdt0)
    return window


def test_empty_window_publishes_nothing() -> None:
    snap = started().snapshot()
    assert not snap.has_complete_segment
    assert (snap.last_msn, snap.last_part, snap.preload_hint) == (-1, None, (0, 0))


def test_first_parts_before_the_first_segment() -> None:
    window = started()
    window.add_part(0, 0, 500, True, 0)
    window.add_part(0, 1, 500, False, 500)
    snap = window.snapshot()
    assert not snap.has_complete_segment
    assert (snap.last_msn, snap.last_part, snap.preload_hint) == (0, 1, (0, 2))
    assert snap.is_published(0, 1) and not snap.is_published(0, 2) and not snap.is_published(0)


# (segment ms, parts per segment, segments added, expected listed segments)
RETENTION_CASES = [
    ("2 s segments keep 6", 500, 4, 20, 6),
    ("1 s segments keep 6", 500, 2, 20, 6),
    ("0.5 s segments keep 3xTD = 12", 250, 2, 30, 12),
    ("fewer than 6 keeps all", 500, 4, 4, 4),
]


@pytest.mark.parametrize(
    ("part_ms", "parts", "added", "listed"),
    [c[1:] for c in RETENTION_CASES],
    ids=[c[0] for c in RETENTION_CASES],
)
def test_retention(part_ms: int, parts: int, added: int, listed: int) -> None:
    window = started()
    fill(window, added, part_ms, parts)
    snap = window.snapshot()
    assert len(snap.segments) == listed
    assert snap.media_sequence == added - listed
    assert sum(s.duration_ticks for s in snap.segments) >= min(added * part_ms * parts, 3 * 2 * TS)


def test_parts_older_than_three_target_durations_are_unlisted() -> None:
    window = started()
    fill(window, 10)
    window.add_part(10, 0, 500, True, 20_000)
    snap = window.snapshot()
    # From the end (0.5 s of partial parts): segment ends lie 0.5, 2.5, 4.5, 6.5, ... s back.
    assert [len(s.parts) for s in snap.segments] == [0, 0, 0, 4, 4, 4]
    assert all(s.part_count == 4 for s in snap.segments)


def test_retired_uris_stay_deletable_only_after_three_target_durations() -> None:
    window = started()
    _, retired = fill(window, 7)
    # Seventh segment pushes segment 0 out; its parts were unlisted earlier.
    uris = {r.uri for r in retired}
    assert {"seg0.m4s", "part0.0.m4s", "part0.3.m4s", "part3.0.m4s"} <= uris
    assert "init0.mp4" not in uris  # still the current init
    gone_at = next(r for r in retired if r.uri == "seg0.m4s").delete_after_ticks
    assert gone_at == window.snapshot().elapsed_ticks + 3 * 2 * TS
    assert "seg0.m4s" not in window.take_deletable()
    fill(window, 2, start=14_000)  # 4 s later: not yet
    assert "seg0.m4s" not in window.take_deletable()
    fill(window, 1, start=18_000)  # 6 s later: now
    deletable = window.take_deletable()
    assert "seg0.m4s" in deletable
    assert "seg0.m4s" not in window.take_deletable()  # reported once


def test_program_date_time_is_anchored_to_tfdt() -> None:
    config = WindowConfig(timescale=90_000, target_duration=2, part_target=Fraction(1, 2))
    window = started(config, tfdt0=900_000)
    fill(window, 3, part_ms=45_000, start=900_000)
    pdts = [s.program_date_time for s in window.snapshot().segments]
    assert pdts == [ANCHOR, ANCHOR + timedelta(seconds=2), ANCHOR + timedelta(seconds=4)]


def test_discontinuity_reanchors_and_bumps_sequence() -> None:
    window = started()
    start, _ = fill(window, 3)
    later = ANCHOR + timedelta(minutes=5)
    window.add_part(3, 0, 500, True, start)
    with pytest.raises(ValueError, match="inside a segment"):
        window.discontinuity(later, 0)
    window.add_segment(3, 500)
    window.discontinuity(later, 77)  # encoder restart: its timeline starts anew
    fill(window, 2, start=77)
    snap = window.snapshot()
    restarted = snap.segments[4]
    assert restarted.msn == 4 and restarted.discontinuity and restarted.dsn == 1
    assert restarted.map_uri == "init1.mp4" and restarted.program_date_time == later
    assert snap.segments[5].program_date_time == later + timedelta(seconds=2)
    _, retired = fill(window, 10, start=4077)
    snap = window.snapshot()
    assert snap.media_sequence == 10 and {s.dsn for s in snap.segments} == {1}
    assert "init0.mp4" in {r.uri for r in retired}
    pl = snap.build_media_playlist(None)
    assert pl.discontinuity_sequence == 1 and pl.map is not None and pl.map.uri == "init1.mp4"


def test_discontinuity_shows_on_the_segment_in_progress() -> None:
    window = started()
    fill(window, 2)
    window.discontinuity(ANCHOR + timedelta(hours=1), 0)
    window.add_part(2, 0, 500, True, 0)
    text = render_media_playlist(window.snapshot().build_media_playlist(None))
    assert text.endswith(
        'seg1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init1.mp4"\n'
        "#EXT-X-PROGRAM-DATE-TIME:2025-03-01T13:00:00.000Z\n"
        '#EXT-X-PART:DURATION=0.5,URI="part2.0.m4s",INDEPENDENT=YES\n'
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part2.1.m4s"\n'
    )


def test_end() -> None:
    window = started()
    fill(window, 2)
    window.end()
    snap = window.snapshot()
    assert snap.has_endlist and snap.preload_hint is None
    text = render_media_playlist(snap.build_media_playlist(None))
    assert text.endswith("#EXT-X-ENDLIST\n")
    with pytest.raises(ValueError):
        window.add_part(2, 0, 500, True, 4000)


# (case, call) — each must raise ValueError
def _wrong_index(w: Window) -> object:
    return w.add_part(0, 1, 500, True, 0)


def _not_independent(w: Window) -> object:
    return w.add_part(0, 0, 500, False, 0)


def _bad_segment_duration(w: Window) -> object:
    w.add_part(0, 0, 500, True, 0)
    return w.add_segment(0, 501)


def _segment_without_parts(w: Window) -> object:
    return w.add_segment(0, 0)


def _no_anchor(_: Window) -> object:
    return Window(CONFIG).add_part(0, 0, 500, True, 0)


def _naive_anchor(w: Window) -> None:
    w.discontinuity(datetime(2025, 1, 1), 0)


ERROR_CASES: list[Callable[[Window], object]] = [
    _wrong_index,
    _not_independent,
    _bad_segment_duration,
    _segment_without_parts,
    _no_anchor,
    _naive_anchor,
]


@pytest.mark.parametrize("call", ERROR_CASES, ids=lambda f: f.__name__.strip("_"))
def test_misuse_raises(call: Callable[[Window], object]) -> None:
    with pytest.raises(ValueError):
        call(started())


def test_window_segments_below_six_rejected() -> None:
    with pytest.raises(ValueError):
        Window(
            WindowConfig(
                timescale=TS, target_duration=2, part_target=Fraction(1), window_segments=5
            )
        )


@pytest.fixture
def snap() -> Snapshot:
    """Segments 0..7 complete (4 parts each; 0 and 1 fell out), parts 8.0-8.1 published."""
    window = started()
    fill(window, 8)
    window.add_part(8, 0, 500, True, 16_000)
    window.add_part(8, 1, 500, False, 16_500)
    return window.snapshot()


# (msn, part, published?, preload hint?)
QUERY_CASES = [
    (0, None, True, False),  # fell out of the window long ago
    (0, 9, True, False),
    (7, None, True, False),
    (7, 3, True, False),
    (7, 4, False, False),  # segment 7 has four parts: 7.4 never exists
    (8, None, False, False),
    (8, 1, True, False),
    (8, 2, False, True),
    (8, 3, False, False),
    (9, 0, False, False),
]


@pytest.mark.parametrize(("msn", "part", "published", "hinted"), QUERY_CASES)
def test_snapshot_queries(
    snap: Snapshot, msn: int, part: int | None, published: bool, hinted: bool
) -> None:
    assert snap.is_published(msn, part) is published
    assert (part is not None and snap.is_preload_hint(msn, part)) is hinted


def test_snapshot_summary(snap: Snapshot) -> None:
    assert (snap.last_msn, snap.last_part, snap.media_sequence) == (8, 1, 2)
    assert (snap.part_count(7), snap.part_count(8), snap.part_count(1)) == (4, None, None)
    assert (snap.target_duration, snap.part_target, snap.has_endlist) == (2, Fraction(1, 2), False)
    report = snap.rendition_report("../v/index.m3u8")
    assert (report.last_msn, report.last_part) == (8, 1)


def test_naming_is_configurable() -> None:
    naming = Naming(part="p/{msn}-{part}.mp4", segment="s/{msn}.mp4", init="i/{dsn}.mp4")
    config = WindowConfig(
        timescale=TS, target_duration=2, part_target=Fraction(1, 2), naming=naming
    )
    window = started(config)
    fill(window, 1)
    pl = window.snapshot().build_media_playlist(None)
    assert pl.segments[0].uri == "s/0.mp4" and pl.segments[0].parts[1].uri == "p/0-1.mp4"
    assert pl.preload_hint is not None and pl.preload_hint.uri == "p/1-0.mp4"


def test_pipeline_over_real_ffmpeg(long_stream: bytes) -> None:
    """boxes → segmenter → window → playlist over three minutes; every render parses back."""
    reader = BoxReader()
    events = reader.feed(long_stream) + reader.close()
    init = events[0]
    assert isinstance(init, InitSegment)
    video = init.track("vide")
    assert video is not None
    ts = video.timescale
    part_target = part_target_seconds(ts // 5, ts)
    config = WindowConfig(timescale=ts, target_duration=2, part_target=part_target)
    control = ServerControl(True, Fraction(12), False, Fraction(6), 3 * part_target)
    seg = Segmenter(ts, ts // 5, 2 * ts)
    window = Window(config)
    first = events[1]
    assert isinstance(first, Fragment)
    window.discontinuity(ANCHOR, first.primary().base_media_decode_time)
    renders = 0
    fragments = [e for e in events if isinstance(e, Fragment)]
    for out in (x for f in fragments for x in seg.push(f)):
        if isinstance(out, SegmentReady):
            window.add_segment(out.msn, out.duration_ticks)
        elif isinstance(out, PartReady):
            window.add_part(
                out.msn, out.index, out.duration_ticks, out.independent, out.start_ticks
            )
            snap = window.snapshot()
            if snap.has_complete_segment and out.index == 0:
                pl = m3u8.loads(render_media_playlist(snap.build_media_playlist(control)))
                renders += 1
                assert pl.part_inf.part_target == 0.2 and pl.target_duration == 2
                durations = [p.duration for s in pl.segments for p in s.parts]
                assert durations and max(durations) <= 0.2
                assert len([s for s in pl.segments if s.uri]) >= min(6, out.msn)
                assert pl.preload_hint.uri == f"part{out.msn}.1.m4s"
    last = seg.flush()[0]
    assert isinstance(last, SegmentReady)
    window.add_segment(last.msn, last.duration_ticks)
    window.end()
    final = window.snapshot()
    assert renders == 89 and final.last_msn == 89
    assert final.segments[-1].program_date_time == ANCHOR + timedelta(seconds=178)
