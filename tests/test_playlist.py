"""Tests for packager.model + packager.playlist: golden text written out literally, and the same
playlists parsed back with the `m3u8` library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import m3u8
import pytest

from packager.model import (
    ByteRange,
    IFrameStreamInf,
    Map,
    Media,
    MediaPlaylist,
    MultivariantPlaylist,
    Part,
    PreloadHint,
    RenditionReport,
    Resolution,
    Segment,
    ServerControl,
    StreamInf,
)
from packager.playlist import (
    evaluate_skip_boundary,
    evaluate_version,
    format_decimal,
    render_media_playlist,
    render_multivariant_playlist,
    render_part,
    render_program_date_time,
    render_server_control,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HALF = Fraction(1, 2)
SC = ServerControl(
    can_block_reload=True,
    can_skip_until=Fraction(12),
    hold_back=Fraction(6),
    part_hold_back=Fraction(3, 2),
)


def parts(msn: int, durations: list[Fraction]) -> tuple[Part, ...]:
    return tuple(Part(f"part{msn}.{i}.m4s", d, independent=i == 0) for i, d in enumerate(durations))


def seg(msn: int, parts_: tuple[Part, ...] = (), duration: Fraction = Fraction(2)) -> Segment:
    return Segment(
        uri=f"seg{msn}.m4s",
        duration=duration,
        parts=parts_,
        program_date_time=T0 + timedelta(seconds=2 * (msn - 10)),
        map=Map("init0.mp4"),
    )


LIVE = MediaPlaylist(
    target_duration=2,
    part_target=HALF,
    server_control=SC,
    media_sequence=10,
    map=Map("init0.mp4"),
    segments=(
        seg(10),
        seg(11, parts(11, [HALF] * 4)),
        seg(12, parts(12, [HALF, HALF, HALF, Fraction(7, 15)]), Fraction(29, 15)),
    ),
    partial_parts=parts(13, [HALF, HALF]),
    partial_program_date_time=T0 + timedelta(seconds=5, milliseconds=933, microseconds=333),
    preload_hint=PreloadHint("part13.2.m4s"),
    rendition_reports=(RenditionReport("../audio/index.m3u8", last_msn=13, last_part=1),),
)

LIVE_TEXT = """\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,HOLD-BACK=6.0,PART-HOLD-BACK=1.5
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="init0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:00.000Z
#EXTINF:2.0,
seg10.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:02.000Z
#EXT-X-PART:DURATION=0.5,URI="part11.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="part11.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="part11.2.m4s"
#EXT-X-PART:DURATION=0.5,URI="part11.3.m4s"
#EXTINF:2.0,
seg11.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:04.000Z
#EXT-X-PART:DURATION=0.5,URI="part12.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="part12.1.m4s"
#EXT-X-PART:DURATION=0.5,URI="part12.2.m4s"
#EXT-X-PART:DURATION=0.46667,URI="part12.3.m4s"
#EXTINF:1.93333,
seg12.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:05.933Z
#EXT-X-PART:DURATION=0.5,URI="part13.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="part13.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part13.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=13,LAST-PART=1
"""


def test_live_golden() -> None:
    assert render_media_playlist(LIVE) == LIVE_TEXT


def test_live_parse_back() -> None:
    pl = m3u8.loads(render_media_playlist(LIVE))
    assert (pl.version, pl.target_duration, pl.media_sequence) == (6, 2, 10)
    assert pl.part_inf.part_target == 0.5
    sc = pl.server_control
    assert (sc.can_block_reload, sc.can_skip_until, sc.hold_back, sc.part_hold_back) == (
        "YES",
        12.0,
        6.0,
        1.5,
    )
    complete = [s for s in pl.segments if s.uri]
    assert [s.uri for s in complete] == ["seg10.m4s", "seg11.m4s", "seg12.m4s"]
    assert [s.duration for s in complete] == [2.0, 2.0, 1.93333]
    assert [len(s.parts) for s in pl.segments] == [0, 4, 4, 2]
    assert complete[1].parts[0].independent == "YES"
    assert complete[0].program_date_time == T0
    assert complete[0].init_section.uri == "init0.mp4"
    assert (pl.preload_hint.hint_type, pl.preload_hint.uri) == ("PART", "part13.2.m4s")
    report = pl.rendition_reports[0]
    assert (report.uri, report.last_msn, report.last_part) == ("../audio/index.m3u8", 13, 1)
    assert not pl.is_endlist


def test_endlist_drops_the_preload_hint() -> None:
    ended = MediaPlaylist(
        target_duration=2,
        part_target=HALF,
        server_control=SC,
        media_sequence=10,
        map=Map("init0.mp4"),
        segments=(seg(10),),
        preload_hint=PreloadHint("part11.0.m4s"),
        endlist=True,
    )
    text = render_media_playlist(ended)
    assert text.endswith("#EXTINF:2.0,\nseg10.m4s\n#EXT-X-ENDLIST\n")
    assert "PRELOAD-HINT" not in text
    assert m3u8.loads(text).is_endlist


DISCONTINUITY = MediaPlaylist(
    target_duration=2,
    media_sequence=40,
    discontinuity_sequence=3,
    map=Map("init3.mp4"),
    segments=(
        Segment("seg40.m4s", Fraction(2), map=Map("init3.mp4"), program_date_time=T0),
        Segment(
            "seg41.m4s",
            Fraction(3, 2),
            discontinuity=True,
            map=Map("init4.mp4"),
            program_date_time=datetime(
                2025, 3, 1, 14, 0, 0, 123999, tzinfo=timezone(timedelta(hours=2))
            ),
        ),
        Segment("seg42.m4s", Fraction(2), map=Map("init4.mp4")),
    ),
)

DISCONTINUITY_TEXT = """\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-MAP:URI="init3.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:00.000Z
#EXTINF:2.0,
seg40.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init4.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:00:00.123Z
#EXTINF:1.5,
seg41.m4s
#EXTINF:2.0,
seg42.m4s
"""


def test_discontinuity_golden_and_parse_back() -> None:
    text = render_media_playlist(DISCONTINUITY)
    assert text == DISCONTINUITY_TEXT
    pl = m3u8.loads(text)
    assert pl.discontinuity_sequence == 3
    assert [s.discontinuity for s in pl.segments] == [False, True, False]
    assert [s.init_section.uri for s in pl.segments] == ["init3.mp4", "init4.mp4", "init4.mp4"]


def ten_segments() -> MediaPlaylist:
    return MediaPlaylist(
        target_duration=2,
        part_target=HALF,
        server_control=SC,
        media_sequence=100,
        map=Map("init0.mp4"),
        segments=tuple(Segment(f"seg{m}.m4s", Fraction(2)) for m in range(100, 110)),
        preload_hint=PreloadHint("part110.0.m4s"),
    )


DELTA_TEXT = """\
#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,HOLD-BACK=6.0,PART-HOLD-BACK=1.5
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-SKIP:SKIPPED-SEGMENTS=4
#EXT-X-MAP:URI="init0.mp4"
#EXTINF:2.0,
seg104.m4s
#EXTINF:2.0,
seg105.m4s
#EXTINF:2.0,
seg106.m4s
#EXTINF:2.0,
seg107.m4s
#EXTINF:2.0,
seg108.m4s
#EXTINF:2.0,
seg109.m4s
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part110.0.m4s"
"""


def test_delta_update_golden_and_parse_back() -> None:
    pl = ten_segments()
    # 20 s of media, CAN-SKIP-UNTIL 12 s: segments ending ≥ 12 s before the end (100..103) go.
    boundary = evaluate_skip_boundary(pl)
    assert boundary == 104
    text = render_media_playlist(pl, skip_before_msn=boundary)
    assert text == DELTA_TEXT
    parsed = m3u8.loads(text)
    assert (parsed.version, parsed.skip.skipped_segments, parsed.media_sequence) == (9, 4, 100)
    assert parsed.segments[0].uri == "seg104.m4s"


# (case, segment durations, CAN-SKIP-UNTIL, expected boundary msn; media sequence 0)
SKIP_BOUNDARY_CASES = [
    ("too short to skip", [2] * 6, 12, 0),
    ("one just past", [2] * 7, 12, 1),
    ("exactly at the boundary", [4, 4, 1, 3, 4, 4, 4], 12, 4),
    ("boundary inside a segment", [4, 4, 1, 3, 4, 4, 3], 12, 3),
    ("nothing advertised", [2] * 10, None, None),
]


@pytest.mark.parametrize(
    ("durations", "until", "expected"),
    [c[1:] for c in SKIP_BOUNDARY_CASES],
    ids=[c[0] for c in SKIP_BOUNDARY_CASES],
)
def test_skip_boundary(durations: list[int], until: int | None, expected: int | None) -> None:
    sc = ServerControl(can_skip_until=None if until is None else Fraction(until))
    pl = MediaPlaylist(
        target_duration=4,
        server_control=sc,
        segments=tuple(Segment(f"s{i}", Fraction(d)) for i, d in enumerate(durations)),
    )
    assert evaluate_skip_boundary(pl) == expected


def test_skip_nothing_renders_no_skip_tag() -> None:
    text = render_media_playlist(ten_segments(), skip_before_msn=100)
    assert "EXT-X-SKIP" not in text
    assert "#EXT-X-VERSION:6\n" in text


def test_skipping_past_a_map_change_moves_the_map_up() -> None:
    pl = MediaPlaylist(
        target_duration=2,
        map=Map("init0.mp4"),
        segments=(
            Segment("a", Fraction(2)),
            Segment("b", Fraction(2), discontinuity=True, map=Map("init1.mp4")),
            Segment("c", Fraction(2)),
        ),
    )
    text = render_media_playlist(pl, skip_before_msn=2)
    assert '#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-MAP:URI="init1.mp4"\n#EXTINF:2.0,\nc\n' in text


VOD_TEXT = """\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
s0.m4s
#EXTINF:3.03333,
s1.m4s
#EXT-X-ENDLIST
"""

I_FRAMES_TEXT = """\
#EXTM3U
#EXT-X-VERSION:5
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-I-FRAMES-ONLY
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="video.mp4",BYTERANGE="812@0"
#EXT-X-BYTERANGE:5000@812
#EXTINF:4.0,
video.mp4
#EXT-X-BYTERANGE:4100@90000
#EXTINF:3.03333,
video.mp4
#EXT-X-ENDLIST
"""


def test_vod_golden() -> None:
    pl = MediaPlaylist(
        target_duration=4,
        segments=(Segment("s0.m4s", Fraction(4)), Segment("s1.m4s", Fraction(91, 30))),
        map=Map("init.mp4"),
        playlist_type="VOD",
        independent_segments=True,
        endlist=True,
    )
    assert render_media_playlist(pl) == VOD_TEXT
    parsed = m3u8.loads(VOD_TEXT)
    assert (parsed.playlist_type, parsed.is_endlist, parsed.is_independent_segments) == (
        "vod",
        True,
        True,
    )


def test_i_frames_only_golden_and_parse_back() -> None:
    pl = MediaPlaylist(
        target_duration=4,
        segments=(
            Segment("video.mp4", Fraction(4), byterange=ByteRange(5000, 812)),
            Segment("video.mp4", Fraction(91, 30), byterange=ByteRange(4100, 90000)),
        ),
        map=Map("video.mp4", ByteRange(812, 0)),
        playlist_type="VOD",
        i_frames_only=True,
        endlist=True,
    )
    text = render_media_playlist(pl)
    assert text == I_FRAMES_TEXT
    parsed = m3u8.loads(text)
    assert parsed.is_i_frames_only
    assert [s.byterange for s in parsed.segments] == ["5000@812", "4100@90000"]


MULTIVARIANT_TEXT = """\
#EXTM3U
#EXT-X-VERSION:4
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO="aac"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=30.000,AUDIO="aac"
180p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,CODECS="avc1.64001f",RESOLUTION=1280x720,URI="720p/iframes.m3u8"
"""


def test_multivariant_golden_and_parse_back() -> None:
    mv = MultivariantPlaylist(
        media=(
            Media(
                "AUDIO",
                "aac",
                "English",
                uri="audio/index.m3u8",
                language="en",
                default=True,
                autoselect=True,
                channels="2",
            ),
        ),
        variants=(
            StreamInf(
                "720p/index.m3u8",
                1_280_000,
                1_000_000,
                "avc1.64001f,mp4a.40.2",
                Resolution(1280, 720),
                Fraction(30000, 1001),
                "aac",
            ),
            StreamInf(
                "180p/index.m3u8",
                400_000,
                None,
                "avc1.42c01e,mp4a.40.2",
                Resolution(320, 180),
                Fraction(30),
                "aac",
            ),
        ),
        i_frame_variants=(
            IFrameStreamInf(
                "720p/iframes.m3u8", 200_000, None, "avc1.64001f", Resolution(1280, 720)
            ),
        ),
    )
    text = render_multivariant_playlist(mv)
    assert text == MULTIVARIANT_TEXT
    parsed = m3u8.loads(text)
    assert parsed.is_variant
    info = parsed.playlists[0].stream_info
    assert (info.bandwidth, info.average_bandwidth, info.codecs) == (
        1_280_000,
        1_000_000,
        "avc1.64001f,mp4a.40.2",
    )
    assert (info.resolution, info.frame_rate, info.audio) == ((1280, 720), 29.97, "aac")
    assert parsed.media[0].group_id == "aac"
    assert parsed.iframe_playlists[0].uri == "720p/iframes.m3u8"


# (value, rendered)
DECIMAL_CASES = [
    (Fraction(2), "2.0"),
    (Fraction(0), "0.0"),
    (Fraction(1, 5), "0.2"),
    (Fraction(1, 3), "0.33333"),
    (Fraction(2, 3), "0.66667"),
    (Fraction(1, 200_000), "0.00001"),  # half-up
    (Fraction(1, 200_001), "0.0"),
    (Fraction(3072, 15360), "0.2"),
    (Fraction(6006, 30000), "0.2002"),
    (Fraction(3003, 1000), "3.003"),
]


@pytest.mark.parametrize(("value", "text"), DECIMAL_CASES)
def test_format_decimal(value: Fraction, text: str) -> None:
    assert format_decimal(value) == text


def test_format_decimal_never_exceeds_a_coarser_target() -> None:
    """A part ≤ PART-TARGET still renders ≤ PART-TARGET (PART-TARGET has ≤ 5 places)."""
    target = Fraction(201, 1000)
    for ticks in range(5990, 6031):
        part = Fraction(ticks, 30000)
        if part <= target:
            assert Fraction(format_decimal(part)) <= target


# (datetime, rendered)
PDT_CASES = [
    (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05.000Z"),
    (datetime(2025, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC), "2025-01-02T03:04:05.999Z"),
    (datetime(2025, 1, 2, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2025-01-01T23:30:00.000Z"),
]


@pytest.mark.parametrize(("when", "text"), PDT_CASES)
def test_program_date_time(when: datetime, text: str) -> None:
    assert render_program_date_time(when) == f"#EXT-X-PROGRAM-DATE-TIME:{text}"


def test_program_date_time_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        render_program_date_time(datetime(2025, 1, 1))


# (case, tag renderer output, expected)
TAG_CASES = [
    (
        "gap part with byterange",
        render_part(Part("p.m4s", HALF, gap=True, byterange=ByteRange(100, 0))),
        '#EXT-X-PART:DURATION=0.5,URI="p.m4s",BYTERANGE="100@0",GAP=YES',
    ),
    (
        "server control, block only",
        render_server_control(ServerControl(can_block_reload=True, part_hold_back=Fraction(3, 5))),
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6",
    ),
]


@pytest.mark.parametrize(
    ("rendered", "expected"), [c[1:] for c in TAG_CASES], ids=[c[0] for c in TAG_CASES]
)
def test_tag_renderers(rendered: str, expected: str) -> None:
    assert rendered == expected


def test_quoted_values_reject_quotes() -> None:
    with pytest.raises(ValueError):
        render_part(Part('a"b', HALF))


# (case, playlist, skipping, version)
VERSION_CASES = [
    ("plain", MediaPlaylist(target_duration=2, segments=()), False, 3),
    ("map", MediaPlaylist(target_duration=2, segments=(), map=Map("i")), False, 6),
    ("skip", MediaPlaylist(target_duration=2, segments=(), map=Map("i")), True, 9),
    (
        "byterange",
        MediaPlaylist(target_duration=2, segments=(Segment("a", HALF, byterange=ByteRange(1)),)),
        False,
        4,
    ),
    ("i-frames with map", MediaPlaylist(2, (), map=Map("i"), i_frames_only=True), False, 5),
]


@pytest.mark.parametrize(
    ("pl", "skipping", "version"), [c[1:] for c in VERSION_CASES], ids=[c[0] for c in VERSION_CASES]
)
def test_lowest_version(pl: MediaPlaylist, skipping: bool, version: int) -> None:
    assert evaluate_version(pl, skipping=skipping) == version
