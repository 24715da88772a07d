"""`origin package` end to end with the real ffmpeg on short generated clips.

Every title is checked the same way (`check_title`): playlists parse with m3u8, durations add
up to the input's, every segment starts with a keyframe, CODECS/RESOLUTION/BANDWIDTH agree
with the bytes on disk, I-frame byte ranges land on keyframe fragments, the progressive file
is fast-start, and nothing temporary is left beside the title.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import m3u8
import pytest

from packager.boxes import BoxReader, Fragment, InitSegment, parse_init_segment
from packager.codecs import build_codecs_attribute
from packager.ffmpeg_path import find_ffmpeg
from packager.ladder import Rung
from packager.vod import PackageError, PackageOptions, package, read_top_level_boxes

pytestmark = pytest.mark.slow

LADDER = (Rung("360p", 360, 500), Rung("180p", 180, 200))
SECONDS = 5


@dataclass(frozen=True)
class Clip:
    path: Path
    duration: Fraction  # seconds, as generated
    fps: Fraction | None  # None for audio-only
    video: bool
    audio: bool


def _make(path: Path, args: list[str]) -> Path:
    if not path.exists():
        cmd = [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
        subprocess.run([*cmd, str(path)], check=True, timeout=120)
    return path


def _video(size: str, rate: str) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]


SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    """Short inputs, generated once per session."""
    d = tmp_path_factory.mktemp("vod-inputs")
    t = ["-t", str(SECONDS)]
    av = _make(
        d / "av.mp4", [*_video("640x360", "30"), *SINE, *t, *X264, "-c:a", "aac", "-g", "45"]
    )
    odd = _make(
        d / "odd.mkv",  # odd size, 29.97 fps, not H.264: must be re-encoded to even sizes
        [*_video("643x361", "30000/1001"), *SINE, *t, "-c:v", "mpeg4", "-q:v", "5", "-c:a", "mp2"],
    )
    vonly = _make(d / "vonly.mp4", [*_video("320x180", "25"), *t, *X264])
    aonly = _make(d / "aonly.m4a", [*SINE, *t, "-c:a", "aac"])
    return {
        "av": Clip(av, Fraction(SECONDS), Fraction(30), True, True),
        "odd": Clip(odd, Fraction(SECONDS), Fraction(30000, 1001), True, True),
        "vonly": Clip(vonly, Fraction(SECONDS), Fraction(25), True, False),
        "aonly": Clip(aonly, Fraction(SECONDS), None, False, True),
    }


def run(clip: Clip, dest: Path, **kw: object) -> None:
    opts = PackageOptions(
        input=str(clip.path),
        dest=str(dest),
        name=dest.name,
        ladder=LADDER,
        segment_target=2,
        preset="ultrafast",
        quiet=True,
        **kw,  # type: ignore[arg-type]
    )
    package(opts, stderr=io.StringIO())


def _events(data: bytes) -> list[InitSegment | Fragment]:
    reader = BoxReader()
    return [*reader.feed(data), *reader.close()]


def check_title(dest: Path, clip: Clip, *, copy: bool = False) -> m3u8.M3U8:
    """Check everything a player and a CDN rely on; return the multivariant playlist."""
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")], "temp dir left"
    mv = m3u8.load(str(dest / "index.m3u8"))
    assert mv.is_variant and mv.playlists
    for variant in mv.playlists:
        pl_path = dest / variant.uri
        text = pl_path.read_text()
        pl = m3u8.loads(text)
        assert pl.playlist_type == "vod" and pl.is_endlist and pl.is_independent_segments
        assert "#EXT-X-MAP:URI=" in text
        init_bytes = (pl_path.parent / "init.mp4").read_bytes()
        init = parse_init_segment(init_bytes)
        info = variant.stream_info
        assert info.codecs == build_codecs_attribute(init)
        assert ("mp4a" in info.codecs) == clip.audio
        assert ("avc1" in info.codecs) == clip.video
        total = Fraction(0)
        longest = Fraction(0)
        bits = 0
        for seg in pl.segments:
            data = (pl_path.parent / seg.uri).read_bytes()
            events = _events(init_bytes + data)
            frags = [e for e in events if isinstance(e, Fragment)]
            assert frags[0].primary().first_sample_is_sync, f"{seg.uri} starts without a keyframe"
            run0 = frags[0].primary()
            ticks = sum(f.primary().duration for f in frags)
            exact = Fraction(ticks, run0.timescale)
            assert abs(Fraction(seg.duration) - exact) < Fraction(1, 10000)
            total += exact
            longest = max(longest, exact)
            bits += len(data) * 8
            # BANDWIDTH bounds every single segment's bit rate (rfc8216bis §4.4.6.2).
            assert info.bandwidth >= len(data) * 8 / exact
        assert pl.target_duration == math.ceil(longest)  # honest for every segment
        frame = Fraction(1) / clip.fps if clip.fps else Fraction(1024, 48000)
        assert abs(total - clip.duration) <= frame + Fraction(1, 1000), (total, clip.duration)
        assert info.average_bandwidth == math.ceil(bits / total)
        if clip.video:
            track = init.track("vide")
            assert track is not None
            assert info.resolution == (track.width, track.height)
            assert track.width % 2 == 0 and track.height % 2 == 0
            assert info.frame_rate == round(float(clip.fps or 0), 3)
        else:
            assert info.resolution is None
    if clip.video:
        assert len(mv.iframe_playlists) == len(mv.playlists)
        for ifv in mv.iframe_playlists:
            check_iframes(dest / ifv.uri)
    else:
        assert not mv.iframe_playlists
    progressive = dest / f"{dest.name}.{'mp4' if clip.video else 'm4a'}"
    boxes = read_top_level_boxes(str(progressive))
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # fast-start
    return mv


def check_iframes(path: Path) -> None:
    text = path.read_text()
    pl = m3u8.loads(text)
    assert pl.is_i_frames_only and pl.is_endlist
    init = (path.parent / "init.mp4").read_bytes()
    for seg in pl.segments:
        length, offset = (int(x) for x in seg.byterange.split("@"))
        data = (path.parent / seg.uri).read_bytes()[offset : offset + length]
        frags = [e for e in _events(init + data) if isinstance(e, Fragment)]
        assert frags and frags[0].primary().first_sample_is_sync


def test_av_ladder(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "vod" / "av"
    run(clips["av"], dest)
    mv = check_title(dest, clips["av"])
    assert [p.stream_info.resolution for p in mv.playlists] == [(640, 360), (320, 180)]
    # Keyframe-aligned renditions: the same segment boundaries in every rendition.
    durations = [[s.duration for s in m3u8.load(str(dest / p.uri)).segments] for p in mv.playlists]
    assert durations[0] == durations[1]


def test_odd_size_and_ntsc_rate(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "odd"
    run(clips["odd"], dest)
    mv = check_title(dest, clips["odd"])
    # 643x361: the 360p rung fits (short side 361); 640x360 after even rounding.
    assert [p.stream_info.resolution for p in mv.playlists] == [(642, 360), (320, 180)]
    assert mv.playlists[0].stream_info.frame_rate == 29.97


def test_video_only(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "vonly"
    run(clips["vonly"], dest)
    mv = check_title(dest, clips["vonly"])
    assert [p.stream_info.resolution for p in mv.playlists] == [(320, 180)]


def test_audio_only(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "aonly"
    run(clips["aonly"], dest)
    mv = check_title(dest, clips["aonly"])
    assert [p.uri for p in mv.playlists] == ["audio/index.m3u8"]
    assert mv.playlists[0].stream_info.codecs == "mp4a.40.2"


def test_copy_cuts_at_source_keyframes(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    run(clips["av"], dest, copy=True)
    mv = check_title(dest, clips["av"], copy=True)
    assert len(mv.playlists) == 1
    pl = m3u8.load(str(dest / mv.playlists[0].uri))
    # Source GOP is 45 frames (1.5 s) at 30 fps; target 2 s → segments of two GOPs (3 s).
    assert [s.duration for s in pl.segments] == [3.0, 2.0]
    assert pl.target_duration == 3


@pytest.mark.parametrize("kind", ["vonly", "aonly"])
def test_copy_without_audio_or_video(clips: dict[str, Clip], tmp_path: Path, kind: str) -> None:
    # --copy starts ffmpeg for video + audio before the probe answers; these inputs must
    # throw that run away and get the command made for them.
    dest = tmp_path / kind
    run(clips[kind], dest, copy=True)
    mv = check_title(dest, clips[kind], copy=True)
    assert [p.uri for p in mv.playlists] == ["180p/index.m3u8" if kind == "vonly" else
                                             "audio/index.m3u8"]  # fmt: skip


def test_stream_fault_stops_ffmpeg_and_cleans_up(
    clips: dict[str, Clip], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import packager.boxes

    def broken(*args: object, **kw: object) -> None:
        raise packager.boxes.BoxError("boom")

    monkeypatch.setattr(packager.boxes, "parse_fragment", broken)
    dest = tmp_path / "vod" / "x"
    with pytest.raises(PackageError, match=r"ffmpeg wrote unreadable output \(boom\)"):
        run(clips["av"], dest, copy=True)
    assert list(dest.parent.iterdir()) == []


def test_copy_refused_for_other_codecs(clips: dict[str, Clip], tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"--copy needs H\.264 video, the input has mpeg4"):
        run(clips["odd"], tmp_path / "x", copy=True)
    assert not (tmp_path / "x").exists()


def test_existing_refused_then_forced(clips: dict[str, Clip], tmp_path: Path) -> None:
    dest = tmp_path / "t"
    run(clips["vonly"], dest)
    (dest / "marker").write_text("old")
    with pytest.raises(PackageError, match="already exists; pass --force"):
        run(clips["vonly"], dest)
    assert (dest / "marker").exists()
    run(clips["av"], dest, force=True)
    assert not (dest / "marker").exists()
    check_title(dest, clips["av"])


# --- the CLI: one line, non-zero, no traceback ---------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "origin.cli", "package", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _text_file(d: Path) -> str:
    p = d / "notes.txt"
    p.write_text("not media\n")
    return str(p)


def _truncated(d: Path, clips: dict[str, Clip]) -> str:
    # A fast-start file cut in half: it opens (moov first) but the media data ends early.
    full = d / "fs.mp4"
    subprocess.run(
        [find_ffmpeg(), "-loglevel", "error", "-y", "-i", str(clips["av"].path), "-c", "copy",
         "-movflags", "+faststart", str(full)],
        check=True,
    )  # fmt: skip
    p = d / "truncated.mp4"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return str(p)


def _no_moov(d: Path, clips: dict[str, Clip]) -> str:
    p = d / "nomoov.mp4"
    p.write_bytes(clips["vonly"].path.read_bytes()[:4000])
    return str(p)


def _data_only(d: Path, clips: dict[str, Clip]) -> str:
    p = d / "data.srt"
    p.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    return str(p)


Setup = Callable[[Path, dict[str, Clip]], tuple[list[str], dict[str, str]]]

# (id, setup → (argv, env), expected message fragment)
ERRORS: list[tuple[str, Setup, str]] = [
    ("missing-file", lambda d, c: ([str(d / "nope.mp4")], {}), "no such file"),
    ("directory", lambda d, c: ([str(d)], {}), "is a directory"),
    ("text-file", lambda d, c: ([_text_file(d)], {}), "not a media file"),
    ("no-av-stream", lambda d, c: ([_data_only(d, c)], {}), "no video or audio stream"),
    ("truncated", lambda d, c: ([_truncated(d, c)], {}), "truncated or corrupt"),
    ("no-moov", lambda d, c: ([_no_moov(d, c)], {}), "truncated or corrupt"),
    (
        "ffmpeg-missing",
        lambda d, c: ([str(c["av"].path)], {"ORIGIN_FFMPEG": str(d / "no-ffmpeg")}),
        "ORIGIN_FFMPEG",
    ),
    ("copy-vp", lambda d, c: ([str(c["odd"].path), "--copy"], {}), "--copy needs H.264"),
    ("bad-ladder", lambda d, c: ([str(c["av"].path), "--ladder", "big"], {}), "--ladder"),
    (
        "out-under-a-file",
        lambda d, c: ([str(c["av"].path), "--out", "/etc/passwd/x"], {}),
        "cannot create the output directory",
    ),
]


@pytest.mark.parametrize(("setup", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_one_line(
    clips: dict[str, Clip], tmp_path: Path, setup: Setup, expected: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    argv, env = setup(src, clips)
    out = tmp_path / "out" / "title"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    r = (
        cli(*argv, "--quiet", "--ladder", "180:200", env=env)
        if "--ladder" not in argv
        else cli(*argv, "--quiet", env=env)
    )
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("origin: error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()
    if out.parent.exists():
        assert list(out.parent.iterdir()) == []


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                       capture_output=True, check=False)  # fmt: skip
    return r.returncode == 0


@pytest.mark.parametrize(
    ("options", "expected"),
    [("size=64k", "disk full"), ("ro,size=64k", "cannot create the output directory")],
    ids=["disk-full", "read-only-fs"],
)
def test_unwritable_destination(
    clips: dict[str, Clip], tmp_path: Path, options: str, expected: str
) -> None:
    mnt = tmp_path / "mnt"
    if not _mount_tmpfs(mnt, options):
        if os.environ.get("CI") == "true":
            pytest.fail("cannot mount a tmpfs: CI runs as root and must test a real full disk")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        r = cli(str(clips["av"].path), "--out", str(mnt / "vod" / "t"), "--quiet",
                "--ladder", "180:200")  # fmt: skip
        assert r.returncode != 0
        assert r.stderr.count("\n") == 1 and expected in r.stderr, r.stderr
        assert not (mnt / "vod" / "t").exists()
        if (mnt / "vod").exists():
            assert list((mnt / "vod").iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_progress_lines_when_not_a_tty(clips: dict[str, Clip], tmp_path: Path) -> None:
    r = cli(str(clips["vonly"].path), "--out", str(tmp_path / "p"), "--ladder", "180:200")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert any("100%" in ln and "of 0:05" in ln for ln in lines), lines
    assert "\r" not in r.stderr  # no bar redraws into a log file
    assert lines[-1].startswith("vonly: packaged 1 rendition(s) into")
    quiet = cli(str(clips["vonly"].path), "--out", str(tmp_path / "q"), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_sigint_cleans_up(tmp_path: Path) -> None:
    # A longer input so ffmpeg is surely still running when the signal arrives.
    src = _make(tmp_path / "long.mp4", [*_video("640x360", "30"), "-t", "60", *X264])
    dest = tmp_path / "vod" / "long"
    proc = subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "package", str(src), "--out", str(dest),
         "--ladder", "360:500,180:200"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    # Wait for the first progress line: ffmpeg is running and the temp dir exists.
    first = proc.stderr.readline()
    assert "encoding" in first, first
    assert [p for p in dest.parent.iterdir() if p.name.startswith(".long.")]
    proc.send_signal(2)
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 130, rest
    assert "interrupted" in rest
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
    # And no ffmpeg left writing: nothing reappears.
    assert subprocess.run(["pgrep", "-f", str(dest.parent)], capture_output=True).returncode == 1
