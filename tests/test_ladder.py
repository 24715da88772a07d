"""packager.ladder: rendition choice, ffmpeg argv, and the numbers measured from output."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from packager.ladder import (
    EncodePlan,
    IFrame,
    Rendition,
    Rung,
    SegmentRecord,
    average_bandwidth,
    build_copy_args,
    build_encode_args,
    build_iframe_playlist,
    build_vod_playlist,
    check_copy,
    even,
    parse_ladder,
    peak_bandwidth,
    select_ladder,
    target_duration,
)
from packager.playlist import render_media_playlist
from packager.probe import MediaInfo, StreamInfo

DEFAULT = (
    Rung("1080p", 1080, 5000),
    Rung("720p", 720, 2800),
    Rung("480p", 480, 1400),
    Rung("360p", 360, 800),
)

# (id, display size, expected (name, width, height, kbps) largest first)
LADDERS = [
    pytest.param((1920, 1080), [("1080p", 1920, 1080, 5000), ("720p", 1280, 720, 2800),
                                ("480p", 854, 480, 1400), ("360p", 640, 360, 800)], id="1080p-all"),
    pytest.param((1280, 720), [("720p", 1280, 720, 2800), ("480p", 854, 480, 1400),
                               ("360p", 640, 360, 800)], id="720p-drops-1080"),
    pytest.param((1000, 700), [("480p", 686, 480, 1400), ("360p", 514, 360, 800)],
                 id="between-rungs-never-upscale"),
    pytest.param((643, 361), [("360p", 642, 360, 800)], id="odd-size-even-output"),
    pytest.param((1080, 1920), [("1080p", 1080, 1920, 5000), ("720p", 720, 1280, 2800),
                                ("480p", 480, 854, 1400), ("360p", 360, 640, 800)],
                 id="portrait-short-side"),
    pytest.param((321, 181), [("180p", 320, 180, 201)], id="smaller-than-smallest-own-size"),
    pytest.param((96, 54), [("54p", 96, 54, 100)], id="tiny-floor-bitrate"),
    pytest.param((1440, 1080), [("1080p", 1440, 1080, 5000), ("720p", 960, 720, 2800),
                                ("480p", 640, 480, 1400), ("360p", 480, 360, 800)], id="4x3"),
]  # fmt: skip


@pytest.mark.parametrize(("display", "expected"), LADDERS)
def test_select_ladder(display: tuple[int, int], expected: list[tuple[object, ...]]) -> None:
    got = select_ladder(DEFAULT, display)
    assert [(r.name, r.width, r.height, r.video_kbps) for r in got] == expected
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in got)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("720:2800,360:800", (Rung("720p", 720, 2800), Rung("360p", 360, 800))),
        ("480p:1400", (Rung("480p", 480, 1400),)),
        (" 240 : 300 ".replace(" ", ""), (Rung("240p", 240, 300),)),
    ],
)
def test_parse_ladder(text: str, expected: tuple[Rung, ...]) -> None:
    assert parse_ladder(text) == expected


@pytest.mark.parametrize("text", ["big", "720", "720:", "721:100", "720:0", "720:1,720:2", ""])
def test_parse_ladder_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ladder(text)


def test_even() -> None:
    assert [even(x) for x in (0, 1, 3, 5, 641.2, Fraction(361))] == [2, 2, 4, 4, 642, 360]


def _info(vcodec: str | None, acodec: str | None) -> MediaInfo:
    streams = []
    if vcodec:
        streams.append(StreamInfo(0, "video", vcodec, width=640, height=360))
    if acodec:
        streams.append(StreamInfo(1, "audio", acodec))
    return MediaInfo("mp4", Fraction(5), tuple(streams))


@pytest.mark.parametrize(
    ("v", "a", "ok"),
    [("h264", "aac", True), ("h264", None, True), (None, "aac", True),
     ("hevc", "aac", False), ("h264", "mp3", False), ("vp9", None, False)],
)  # fmt: skip
def test_check_copy(v: str | None, a: str | None, ok: bool) -> None:
    assert (check_copy(_info(v, a)) is None) == ok


PLAN = EncodePlan(
    renditions=(Rendition("360p", 640, 360, 800), Rendition("180p", 320, 180, 200)),
    audio=True,
    audio_kbps=128,
    audio_channels=0,
    segment_target=4,
    preset="veryfast",
    frame_rate=Fraction(30000, 1001),
)


def test_encode_args_one_decode_aligned_keyframes() -> None:
    args = build_encode_args("ffmpeg", "in.mkv", PLAN, ["/t/a.mp4", "/t/b.mp4"], "/t/x|y.mp4")
    assert args.count("-i") == 1  # decoded once
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]split=2[s0][s1];")
    assert "scale=640:360" in graph and "scale=320:180" in graph
    # Every encoder forces the same keyframes: renditions switchable at every segment.
    assert args.count("expr:gte(t,n_forced*4)") == 2
    assert args.count("libx264") == 2 and args.count("aac") == 2
    assert "-r" not in args  # the input's frame rate is kept
    assert args[args.index("-g") + 1] == str(2 * math.ceil(Fraction(30000, 1001) * 4))
    tee = args[args.index("tee") + 1]
    assert "file:/t/a.mp4" in tee and "movflags=+faststart]file:/t/x\\|y.mp4" in tee
    assert args[-1] == "file:/t/b.mp4"
    assert args[args.index("-progress") + 1] == "pipe:1"


def test_encode_args_video_only_and_audio_only() -> None:
    video_only = EncodePlan(PLAN.renditions[:1], False, 128, 0, 4, "ultrafast", Fraction(25))
    args = build_encode_args("ffmpeg", "in", video_only, ["a"], "f")
    assert "-an" in args and "0:a:0" not in args and "split" not in " ".join(args)
    audio_only = EncodePlan((), True, 96, 2, 6, "ultrafast", None)
    args = build_encode_args("ffmpeg", "in", audio_only, ["a"], "f.m4a")
    assert "-vn" in args and "libx264" not in args and "-filter_complex" not in args
    assert args[args.index("-ac") + 1] == "2"
    assert "frag_duration=6000000" in args[-1]


def test_copy_args() -> None:
    args = build_copy_args("ffmpeg", "in.mp4", _info("h264", "aac"), "o.mp4", "f.mp4")
    assert args[args.index("-c") + 1] == "copy"
    assert args[args.index("-map") : args.index("-map") + 4] == ["-map", "0:v:0", "-map", "0:a:0"]
    # Two plain outputs of one demux (no tee): the CMAF stream, then the fast-start MP4.
    assert "tee" not in args and args.count("-i") == 1
    assert args.count("0:v:0") == 2 and args.count("copy") == 2
    cmaf = args.index("cmaf+frag_keyframe+empty_moov+default_base_moof")
    assert args[cmaf + 1] == "file:o.mp4"
    assert args[-3:] == ["-movflags", "+faststart", "file:f.mp4"]
    # A pipe of ours is passed as is; anything else is a file name, even "pipe:x".
    piped = build_copy_args("ffmpeg", "in", _info(None, "aac"), "pipe:7", "pipe:x.m4a")
    assert args.count("-frag_duration") == 0 and piped.count("-frag_duration") == 1
    assert "pipe:7" in piped and piped[-1] == "file:pipe:x.m4a"


def _segs(*pairs: tuple[float | Fraction, int]) -> list[SegmentRecord]:
    return [SegmentRecord(f"s{i}", Fraction(d), n) for i, (d, n) in enumerate(pairs)]


def test_target_duration_rounds_up() -> None:
    assert target_duration([Fraction(4), Fraction(4004, 1000), Fraction(1)]) == 5
    assert target_duration([Fraction(4)]) == 4
    assert target_duration([]) == 1


def test_bandwidth() -> None:
    segs = _segs((4, 500_000), (4, 1_000_000), (4, 250_000), (1, 400_000))
    # The 1 s tail (3.2 Mbit/s) is below 0.5 x TD alone, but BANDWIDTH still bounds it.
    assert peak_bandwidth(segs, 4) == 3_200_000
    assert peak_bandwidth(segs[:3], 4) == 2_000_000
    assert average_bandwidth(segs) == math.ceil(Fraction(2_150_000 * 8, 13))
    assert average_bandwidth([]) == 0


def test_vod_playlists_render() -> None:
    segs = _segs((4, 10), (Fraction(1001, 1000), 5))
    text = render_media_playlist(build_vod_playlist(segs, "init.mp4"))
    assert text.splitlines()[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:4",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    assert '#EXT-X-MAP:URI="init.mp4"' in text and text.endswith("#EXT-X-ENDLIST\n")
    frames = [IFrame("s0", 0, 700, Fraction(2)), IFrame("s0", 700, 600, Fraction(2))]
    text = render_media_playlist(build_iframe_playlist(frames, "init.mp4"))
    assert "#EXT-X-I-FRAMES-ONLY" in text
    assert "#EXT-X-BYTERANGE:700@0" in text and "#EXT-X-BYTERANGE:600@700" in text
