"""packager.probe: ffmpeg's `-i` dump → streams, table-driven over real and hand-written stderr."""

# The samples are ffmpeg's lines verbatim: long, and "Program 1 " really ends in a space.
# ruff: noqa: E501, W291

from __future__ import annotations

from fractions import Fraction

import pytest

from packager.probe import ProbeError, parse_fps, parse_probe, split_fields

TAIL = "At least one output file must be specified\n"

# Real ffmpeg 9 output (imageio-ffmpeg build), trimmed of nothing.
MP4_AVC_AAC = (
    """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
  Metadata:
    major_brand     : isom
    minor_version   : 512
    compatible_brands: isomiso2avc1mp41
    encoder         : Lavf63.1.102
  Duration: 00:00:05.01, start: 0.000000, bitrate: 2276 kb/s
  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p(progressive), 642x362 [SAR 1:1 DAR 321:181], 2197 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
    Metadata:
      handler_name    : VideoHandler
      encoder         : Lavc63.1.102 libx264
    Side data:
      Display Matrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 69 kb/s (default)
    Metadata:
      handler_name    : SoundHandler
"""
    + TAIL
)

MKV_VP9_OPUS = (
    """Input #0, matroska,webm, from 'v.mkv':
  Metadata:
    ENCODER         : Lavf63.1.102
  Duration: 00:00:01.01, start: 0.000000, bitrate: 508 kb/s
  Stream #0:0: Video: vp9 (Profile 0), yuv420p(tv, progressive), 320x240, SAR 1:1 DAR 4:3, 23.98 fps, 23.98 tbr, 1k tbn
    Metadata:
      DURATION        : 00:00:01.001000000
  Stream #0:1: Audio: opus, 48000 Hz, mono, fltp
"""
    + TAIL
)

MP3 = (
    """Input #0, mp3, from 's.mp3':
  Duration: 00:00:02.00, start: 0.025057, bitrate: 66 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, mono, fltp, 64 kb/s, start 0.025057
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 300x300 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)
"""
    + TAIL
)

TS_HEVC_AC3 = (
    """Input #0, mpegts, from 'h.ts':
  Duration: 00:00:01.01, start: 1.474200, bitrate: 427 kb/s
  Program 1 
    Metadata:
      service_name    : Service01
  Stream #0:0[0x100]: Video: hevc (Main) (HEVC / 0x43564548), yuv420p(tv), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 90k tbn, start 1.480000
  Stream #0:1[0x101]: Audio: ac3 (AC-3 / 0x332D4341), 44100 Hz, 5.1(side), fltp, 96 kb/s, start 1.474200
"""
    + TAIL
)

# Hand-written: anamorphic DVD, 59.94 fps, subtitles and data, no duration.
HAND_ANAMORPHIC = (
    """[mpeg @ 0x1] some warning first
Input #0, mpeg, from 'dvd.vob':
  Duration: N/A, bitrate: N/A
  Stream #0:0[0x1e0]: Video: mpeg2video (Main), yuv420p(tv, top first), 720x480 [SAR 32:27 DAR 16:9], 59.94 fps, 59.94 tbr, 90k tbn
  Stream #0:1[0x20]: Subtitle: dvd_subtitle
  Stream #0:2: Data: bin_data (text / 0x74786574)
  Stream #0:3[0x80]: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 48000 Hz, 6 channels, s16, 4608 kb/s
Input #1, wav, from 'second.wav':
  Stream #1:0: Audio: pcm_s16le, 8000 Hz, mono, s16, 128 kb/s
"""
    + TAIL
)

# (id, stderr, duration, [(kind, codec, profile, size, fps, channels, extra checks)])
CASES = [
    pytest.param(
        MP4_AVC_AAC, Fraction(501, 100),
        [("video", "h264", "Constrained Baseline", (642, 362), Fraction(30000, 1001), 0),
         ("audio", "aac", "LC", (0, 0), None, 2)],
        id="mp4-h264-aac-rotated",
    ),
    pytest.param(
        MKV_VP9_OPUS, Fraction(101, 100),
        [("video", "vp9", "Profile 0", (320, 240), Fraction(24000, 1001), 0),
         ("audio", "opus", "", (0, 0), None, 1)],
        id="mkv-vp9-opus-sar-own-field",
    ),
    pytest.param(
        MP3, Fraction(2),
        [("audio", "mp3", "mp3float", (0, 0), None, 1),
         ("video", "mjpeg", "Baseline", (300, 300), Fraction(90000), 0)],
        id="mp3-with-cover-art",
    ),
    pytest.param(
        TS_HEVC_AC3, Fraction(101, 100),
        [("video", "hevc", "Main", (320, 240), Fraction(25), 0),
         ("audio", "ac3", "", (0, 0), None, 6)],
        id="ts-hevc-ac3-program",
    ),
    pytest.param(
        HAND_ANAMORPHIC, None,
        [("video", "mpeg2video", "Main", (720, 480), Fraction(60000, 1001), 0),
         ("subtitle", "dvd_subtitle", "", (0, 0), None, 0),
         ("data", "bin_data", "", (0, 0), None, 0),
         ("audio", "pcm_s16le", "", (0, 0), None, 6)],
        id="anamorphic-no-duration-second-input-ignored",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "duration", "streams"), CASES)
def test_parse(text: str, duration: Fraction | None, streams: list[tuple[object, ...]]) -> None:
    info = parse_probe(text)
    assert info.duration == duration
    got = [
        (s.kind, s.codec, s.profile, (s.width, s.height), s.fps, s.channels) for s in info.streams
    ]
    assert got == streams


def test_first_video_skips_cover_art_and_display_size() -> None:
    assert parse_probe(MP3).video is None
    assert parse_probe(MP3).audio is not None
    dvd = parse_probe(HAND_ANAMORPHIC).video
    assert dvd is not None and dvd.sar == Fraction(32, 27)
    assert dvd.display_size == (853, 480)  # 720 x 32/27, square pixels
    rotated = parse_probe(MP4_AVC_AAC).video
    assert rotated is not None and rotated.rotation == 270
    assert rotated.display_size == (362, 642)  # a quarter turn swaps the sides
    assert parse_probe(MP4_AVC_AAC).format == "mov,mp4,m4a,3gp,3g2,mj2"


FAILURES = [
    pytest.param(
        "[in#0 @ 0x5] Error opening input: No such file or directory\n"
        "Error opening input file nope.mp4.\n",
        "no such file", id="missing",
    ),
    pytest.param(
        "[in#0 @ 0x5] Error opening input: Invalid data found when processing input\n"
        "Error opening input file t.txt.\n",
        "not a media file", id="text-file",
    ),
    pytest.param(
        "[in#0 @ 0x1] moov atom not found\n"
        "[in#0 @ 0x5] Error opening input: Invalid data found when processing input\n",
        "truncated or corrupt", id="mp4-without-moov",
    ),
    pytest.param("[in#0 @ 0x5] Error opening input: Permission denied\n", "permission", id="perm"),
    pytest.param("", "no output", id="empty"),
    pytest.param("weird: something else\n", "something else", id="unknown-names-last-line"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), FAILURES)
def test_failures(text: str, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        parse_probe(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("29.97", Fraction(30000, 1001)),
        ("23.98", Fraction(24000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("119.88", Fraction(120000, 1001)),
        ("25", Fraction(25)),
        ("30", Fraction(30)),
        ("12.5", Fraction(25, 2)),
        ("90k", Fraction(90000)),
        ("0", None),
        ("N/A", None),
    ],
)
def test_parse_fps(text: str, rate: Fraction | None) -> None:
    assert parse_fps(text) == rate


def test_split_fields_keeps_bracketed_commas() -> None:
    assert split_fields(
        "h264 (High), yuv420p(tv, bt709), 1920x1080 [SAR 1:1 DAR 16:9], 25 fps"
    ) == [
        "h264 (High)",
        "yuv420p(tv, bt709)",
        "1920x1080 [SAR 1:1 DAR 16:9]",
        "25 fps",
    ]
