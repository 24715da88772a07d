"""Tests for packager.codecs: codec strings of real ffmpeg init segments, then synthetic
configuration records for the corners ffmpeg does not produce here."""

from __future__ import annotations

from fractions import Fraction

import pytest
from fixtures.fmp4 import INIT_CASES

from packager.boxes import BoxError, BoxReader, Fragment, InitSegment, TrackInfo, TrackRun
from packager.codecs import (
    build_codec_string,
    build_codecs_attribute,
    derive_frame_rate,
    parse_audio_object_type,
)

pytest_plugins = ["conftest_packager"]


def read(stream: bytes) -> tuple[InitSegment, list[Fragment]]:
    reader = BoxReader()
    events = reader.feed(stream) + reader.close()
    init = events[0]
    assert isinstance(init, InitSegment)
    return init, [e for e in events if isinstance(e, Fragment)]


@pytest.mark.parametrize("name", list(INIT_CASES))
def test_real_init_segments(init_segments: dict[str, bytes], name: str) -> None:
    init, fragments = read(init_segments[name])
    expected = INIT_CASES[name][1]
    handler = "soun" if expected.startswith("mp4a") else "vide"
    track = init.track(handler)
    assert track is not None
    assert build_codec_string(track) == expected
    if handler == "vide":
        assert (track.width, track.height) == (320, 180)
        assert derive_frame_rate(fragments[0].primary()) == 30
        audio = init.track("soun")
        assert audio is not None
        assert build_codecs_attribute(init) == f"{expected},mp4a.40.2"
    else:
        assert (track.channel_count, track.sample_rate) == (1, 48000)
        assert build_codecs_attribute(init) == expected


def track(entry: str, ctype: str, config: bytes, handler: str = "vide") -> TrackInfo:
    return TrackInfo(1, handler, 90000, 0, 0, entry, ctype, config, 0, 0, None)


def esds(oti: int, dsi: bytes | None, es_flags: int = 0, extra: bytes = b"") -> bytes:
    """An esds payload with 1-byte descriptor sizes (and 4-byte ones for the DSI)."""
    dcd_body = bytes([oti, 0x15]) + bytes(3 + 4 + 4)
    if dsi is not None:
        dcd_body += bytes([0x05, 0x80, 0x80, 0x80, len(dsi)]) + dsi
    dcd = bytes([0x04, len(dcd_body)]) + dcd_body
    es_body = b"\x00\x01" + bytes([es_flags]) + extra + dcd
    return b"\0\0\0\0" + bytes([0x03, len(es_body)]) + es_body


# (case, track, codec string)
SYNTHETIC_CASES = [
    ("avc1 high 3.1", track("avc1", "avcC", bytes([1, 0x64, 0, 0x1F, 0xFF])), "avc1.64001f"),
    ("avc3 keeps its entry", track("avc3", "avcC", bytes([1, 0x4D, 0x40, 0x28])), "avc3.4d4028"),
    (
        "hvc1 main 10, high tier",
        track("hvc1", "hvcC", bytes([1, 0x22, 0x20, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 153])),
        "hvc1.2.4.H153.90",
    ),
    (
        "hev1 main, profile space 1",
        track("hev1", "hvcC", bytes([1, 0x41, 0x60, 0, 0, 0, 0xB0, 0x08, 0, 0, 0, 0, 93])),
        "hev1.A1.6.L93.B0.08",
    ),
    ("AAC-LC", track("mp4a", "esds", esds(0x40, bytes([0x12, 0x10])), "soun"), "mp4a.40.2"),
    ("HE-AAC", track("mp4a", "esds", esds(0x40, bytes([0x2B, 0x92, 0x08])), "soun"), "mp4a.40.5"),
    (
        "escaped AOT 42 (USAC)",
        track("mp4a", "esds", esds(0x40, bytes([0xF9, 0x40])), "soun"),
        "mp4a.40.42",
    ),
    ("MP3 has no AOT", track("mp4a", "esds", esds(0x6B, None), "soun"), "mp4a.6b"),
    (
        "ES flags: dependsOn + URL + OCR",
        track("mp4a", "esds", esds(0x40, bytes([0x10, 0x10]), 0xE0, b"\0\1\3abc\0\2"), "soun"),
        "mp4a.40.2",
    ),
]


@pytest.mark.parametrize(
    ("info", "expected"), [c[1:] for c in SYNTHETIC_CASES], ids=[c[0] for c in SYNTHETIC_CASES]
)
def test_synthetic_codec_strings(info: TrackInfo, expected: str) -> None:
    assert build_codec_string(info) == expected


BROKEN = [
    track("avc1", "avcC", b"\x01\x64"),
    track("hvc1", "hvcC", bytes(5)),
    track("mp4a", "esds", b"\0\0\0\0\x03\x7f\x00", "soun"),
    track("mp4a", "esds", b"\0\0\0\0\x04\x00", "soun"),
    track("vp09", "", b""),
]


@pytest.mark.parametrize("info", BROKEN, ids=lambda t: f"{t.sample_entry}-{len(t.codec_config)}")
def test_broken_configs_raise(info: TrackInfo) -> None:
    with pytest.raises(BoxError):
        build_codec_string(info)


def test_audio_object_type_parse() -> None:
    assert parse_audio_object_type(esds(0x40, bytes([0x12, 0x10]))) == (0x40, 2)


# (run, frame rate)
FRAME_RATE_CASES = [
    (TrackRun(1, "vide", 15360, 0, 6, 3072, True, 1), Fraction(30)),
    (TrackRun(1, "vide", 30000, 0, 6, 6006, True, 1), Fraction(30000, 1001)),
    (TrackRun(1, "soun", 48000, 0, 10, 10240, True, 1), None),
    (TrackRun(1, "vide", 0, 0, 6, 3072, True, 1), None),
]


@pytest.mark.parametrize(("run", "rate"), FRAME_RATE_CASES)
def test_derive_frame_rate(run: TrackRun, rate: Fraction | None) -> None:
    assert derive_frame_rate(run) == rate
