"""Tests for packager.ffmpeg: tables over the argument lists, then two short real-ffmpeg runs."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from origin.config import LiveChannel, Rendition
from packager.boxes import BoxReader, Fragment, InitSegment
from packager.ffmpeg import (
    InputKind,
    ProbeResult,
    build_live_command,
    build_probe_command,
    classify_input,
    escape_filter_value,
    parse_probe_output,
    plan_for_channel,
    top_rendition,
)
from packager.ffmpeg_path import find_ffmpeg

RT = ["-re", "-readrate_initial_burst", "0.001"]  # real-time pacing, no initial burst

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TINY = (Rendition("90p", 160, 90, 150), Rendition("180p", 320, 180, 300))


def channel(**kw: object) -> LiveChannel:
    return replace(LiveChannel(), **kw)  # type: ignore[arg-type]


def command(ch: LiveChannel, *, font: str | None = FONT, audio: bool = True) -> list[str]:
    fds = list(range(10, 10 + len(ch.renditions)))
    return build_live_command("ffmpeg", ch, plan_for_channel(ch), fds, font, input_has_audio=audio)


def inputs(args: list[str]) -> list[list[str]]:
    """Split the options before -filter_complex into one option list per -i (value last)."""
    head = args[: args.index("-filter_complex")]
    groups: list[list[str]] = []
    start = 6  # ffmpeg + the five global flags
    for i, a in enumerate(head):
        if a == "-i":
            groups.append(head[start : i + 2])
            start = i + 2
    return groups


def outputs(args: list[str]) -> list[list[str]]:
    """Split the options after the filter graph into one list per output (URL last)."""
    tail = args[args.index("-filter_complex") + 2 :]
    groups: list[list[str]] = []
    start = 0
    for i, a in enumerate(tail):
        if a.startswith("pipe:"):
            groups.append(tail[start : i + 1])
            start = i + 1
    assert start == len(tail), "trailing options without an output"
    return groups


def graph(args: list[str]) -> str:
    return args[args.index("-filter_complex") + 1]


def opt(group: list[str], name: str) -> str | None:
    return group[group.index(name) + 1] if name in group else None


# -- classification and planning ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("testsrc", InputKind.TESTSRC),
        ("media/clip.mp4", InputKind.FILE),
        ("/abs/path with space.mov", InputKind.FILE),
        ("rtmp://0.0.0.0:1935/live/stream", InputKind.RTMP),
        ("RTMP://0.0.0.0/live", InputKind.RTMP),
        ("srt://0.0.0.0:9000?mode=listener", InputKind.SRT),
        ("udp://0.0.0.0:9000", InputKind.UDP),
        ("http://example.com/a.mp4", InputKind.FILE),  # ffmpeg reads it like a file
        ("testsrc.mp4", InputKind.FILE),
    ],
)
def test_classify_input(spec: str, kind: InputKind) -> None:
    assert classify_input(spec) is kind


@pytest.mark.parametrize(
    ("rate", "part", "segment", "frames", "gop", "part_target", "td"),
    [
        (30, "0.2", 2, 6, 60, Fraction(1, 5), 2),
        (30, "0.2", 1, 6, 30, Fraction(1, 5), 1),
        (30, "0.21", 2, 7, 63, Fraction(234, 1000), 2),  # 6.3 frames → 7, never 6
        (30, "0.25", 2, 8, 64, Fraction(267, 1000), 2),  # 7.5 → 8; 0.2666… rounds up
        (25, "0.2", 2, 5, 50, Fraction(1, 5), 2),
        (24, "0.333", 4, 8, 96, Fraction(334, 1000), 4),
        (60, "0.1", 2, 6, 120, Fraction(1, 10), 2),
    ],
)
def test_plan_rounds_part_target_up_to_whole_frames(
    rate: int, part: str, segment: int, frames: int, gop: int, part_target: Fraction, td: int
) -> None:
    plan = plan_for_channel(channel(frame_rate=rate, part_target=part, segment_duration=segment))
    assert (plan.frames_per_part, plan.frames_per_segment) == (frames, gop)
    assert plan.part_target == part_target
    assert plan.part_duration >= Fraction(part)  # rounded up, never down
    assert plan.part_duration <= plan.part_target
    assert plan.target_duration == td


def test_top_rendition_is_the_largest() -> None:
    ch = channel(renditions=(TINY[1], Rendition("1080p", 1920, 1080, 5000), TINY[0]))
    assert top_rendition(ch).name == "1080p"


# -- inputs --------------------------------------------------------------------------------------
# (channel input, loop, has audio) → the expected per-input option lists.
INPUT_CASES = [
    pytest.param(
        "testsrc", True, True,
        [
            [*RT, "-fflags", "+genpts", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=30"],
            [*RT, "-f", "lavfi", "-i", "sine=frequency=1000:beep_factor=4:sample_rate=48000"],
        ],
        id="testsrc",
    ),
    pytest.param(
        "clip.mp4", True, True,
        [[*RT, "-stream_loop", "-1", "-fflags", "+genpts", "-i", "clip.mp4"]],
        id="file-loop",
    ),
    pytest.param(
        "clip.mp4", False, True,
        [[*RT, "-fflags", "+genpts", "-i", "clip.mp4"]],
        id="file-once",
    ),
    pytest.param(
        "clip.mp4", False, False,
        [
            [*RT, "-fflags", "+genpts", "-i", "clip.mp4"],
            [*RT, "-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=48000"],
        ],
        id="file-without-audio",
    ),
    pytest.param(
        "rtmp://0.0.0.0:1935/live/s", True, True,
        [["-fflags", "+genpts", "-listen", "1", "-f", "flv", "-i", "rtmp://0.0.0.0:1935/live/s"]],
        id="rtmp-listens",
    ),
    pytest.param(
        "srt://0.0.0.0:9000", True, True,
        [["-fflags", "+genpts", "-i", "srt://0.0.0.0:9000?mode=listener"]],
        id="srt-becomes-listener",
    ),
    pytest.param(
        "srt://0.0.0.0:9000?latency=200000", True, True,
        [["-fflags", "+genpts", "-i", "srt://0.0.0.0:9000?latency=200000&mode=listener"]],
        id="srt-query-kept",
    ),
    pytest.param(
        "srt://1.2.3.4:9000?mode=caller", True, True,
        [["-fflags", "+genpts", "-i", "srt://1.2.3.4:9000?mode=caller"]],
        id="srt-mode-as-given",
    ),
    pytest.param(
        "udp://0.0.0.0:9000", True, True,
        [["-fflags", "+genpts", "-f", "mpegts", "-i", "udp://0.0.0.0:9000"]],
        id="udp-mpegts",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "loop", "audio", "expected"), INPUT_CASES)
def test_input_options(spec: str, loop: bool, audio: bool, expected: list[list[str]]) -> None:
    args = command(channel(input=spec, loop=loop), audio=audio)
    assert args[:6] == ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "warning"]
    assert inputs(args) == expected


# (input, has audio) → the label the audio chain reads
AUDIO_SOURCE_CASES = [
    ("testsrc", False, "[1:a]"),  # the sine input; probing does not apply
    ("testsrc", True, "[1:a]"),
    ("clip.mp4", True, "[0:a]"),
    ("clip.mp4", False, "[1:a]"),  # silence
    ("rtmp://0.0.0.0/live/s", True, "[0:a]"),
]


@pytest.mark.parametrize(("spec", "audio", "source"), AUDIO_SOURCE_CASES)
def test_every_rendition_gets_audio(spec: str, audio: bool, source: str) -> None:
    ch = channel(input=spec)
    args = command(ch, audio=audio)
    assert f"{source}aresample=48000:async=1,asplit=2[a0][a1]" in graph(args)
    for i, out in enumerate(outputs(args)):
        maps = [out[j + 1] for j, a in enumerate(out) if a == "-map"]
        assert maps == [f"[v{i}]", f"[a{i}]"]
        assert (opt(out, "-c:a"), opt(out, "-b:a"), opt(out, "-ac")) == ("aac", "96k", "2")


@pytest.mark.parametrize(
    ("spec", "loop", "audio", "shortest"),
    [
        ("clip.mp4", False, False, True),  # ends with the file, not with the endless silence
        ("clip.mp4", True, False, False),
        ("clip.mp4", False, True, False),
        ("testsrc", False, True, False),
    ],
)
def test_shortest_only_for_finite_silent_files(
    spec: str, loop: bool, audio: bool, shortest: bool
) -> None:
    args = command(channel(input=spec, loop=loop), audio=audio)
    assert all(("-shortest" in out) is shortest for out in outputs(args))


# -- filter graph --------------------------------------------------------------------------------
def test_video_graph_splits_once_and_never_upscales() -> None:
    g = graph(command(channel(renditions=TINY)))
    video = g.split(";")
    assert video[0].startswith("[0:v]fps=30,format=yuv420p,drawtext=")
    assert video[0].endswith(",split=2[vs0][vs1]")
    assert video[1] == (
        "[vs0]scale=w='min(160,iw)':h='min(90,ih)':force_original_aspect_ratio=decrease"
        ":force_divisible_by=2,setsar=1[v0]"
    )
    assert video[2].startswith("[vs1]scale=w='min(320,iw)':h='min(180,ih)'")
    assert g.count(",split=") == 1 and g.count("scale=") == 2


@pytest.mark.parametrize(
    ("spec", "font", "clock"),
    [
        ("testsrc", FONT, True),
        ("testsrc", None, False),  # no font: no clock, the channel still works
        ("clip.mp4", FONT, False),  # real pictures get no overlay
        ("rtmp://0.0.0.0/live/s", FONT, False),
    ],
)
def test_clock_only_on_testsrc_with_a_font(spec: str, font: str | None, clock: bool) -> None:
    g = graph(command(channel(input=spec), font=font))
    assert ("drawtext=" in g) is clock
    if clock:
        assert f"fontfile='{FONT}'" in g
        assert r"text='%{gmtime\:%T.%3N} UTC'" in g
        assert "fontsize=54" in g  # a tenth of the 540-line picture


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("/usr/share/fonts/a.ttf", "'/usr/share/fonts/a.ttf'"),
        ("C:/Fonts/a.ttf", r"'C\:/Fonts/a.ttf'"),
        ("/x/it's.ttf", "'/x/it\\'\\''s.ttf'"),
        ("/x/back\\slash.ttf", r"'/x/back\\slash.ttf'"),
        ("/x/a,b;[c].ttf", "'/x/a,b;[c].ttf'"),
    ],
)
def test_escape_filter_value(value: str, escaped: str) -> None:
    assert escape_filter_value(value) == escaped


# -- outputs -------------------------------------------------------------------------------------
def test_outputs_are_aligned_cmaf_fragments_on_their_pipes() -> None:
    ch = channel()
    plan = plan_for_channel(ch)
    args = build_live_command("ffmpeg", ch, plan, [7, 9], None)
    outs = outputs(args)
    assert [o[-1] for o in outs] == ["pipe:7", "pipe:9"]
    for out, r in zip(outs, ch.renditions, strict=True):
        assert opt(out, "-c:v") == "libx264"
        assert opt(out, "-preset") == "veryfast"  # the channel's preset
        assert opt(out, "-tune") == "zerolatency"
        assert opt(out, "-bf") == "0"
        assert (opt(out, "-b:v"), opt(out, "-maxrate")) == (f"{r.video_kbps}k",) * 2
        # identical GOP in every rendition: keyframe-aligned segments
        assert (opt(out, "-g"), opt(out, "-keyint_min")) == ("60", "60")
        assert opt(out, "-sc_threshold") == "0"
        assert opt(out, "-force_key_frames") == "expr:eq(mod(n,60),0)"
        assert opt(out, "-f") == "mp4"
        assert opt(out, "-movflags") == "cmaf+frag_keyframe+empty_moov+default_base_moof+delay_moov"
        assert opt(out, "-frag_duration") == "200000"
        assert opt(out, "-video_track_timescale") == "90000"
        assert opt(out, "-flush_packets") == "1"
        assert out.count("-movflags") == 1


def test_preset_override_and_fd_count() -> None:
    ch = channel(renditions=TINY)
    plan = plan_for_channel(ch)
    args = build_live_command("ff", ch, plan, [3, 4], None, preset="ultrafast")
    assert {opt(o, "-preset") for o in outputs(args)} == {"ultrafast"}
    with pytest.raises(ValueError, match="one output fd per rendition"):
        build_live_command("ff", ch, plan, [3], None)


# -- probing without ffprobe ---------------------------------------------------------------------
PROBE_VIDEO = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
  Duration: 00:00:03.00, start: 0.000000, bitrate: 463 kb/s
  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p
At least one output file must be specified
"""
PROBE_BOTH = PROBE_VIDEO.replace(
    "At least", "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz\nAt least"
)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (PROBE_VIDEO, ProbeResult(has_video=True, has_audio=False)),
        (PROBE_BOTH, ProbeResult(has_video=True, has_audio=True)),
        ("  Stream #0:0: Audio: mp3, 44100 Hz\n", ProbeResult(has_video=False, has_audio=True)),
        ("a.mp4: No such file or directory\n", ProbeResult(has_video=False, has_audio=False)),
        ("  Stream #1:0: Audio: aac\n", ProbeResult(has_video=False, has_audio=False)),
    ],
)
def test_parse_probe_output(stderr: str, expected: ProbeResult) -> None:
    assert parse_probe_output(stderr) == expected


# -- the real thing ------------------------------------------------------------------------------
def run_for(
    args_of: Callable[[list[int]], list[str]], seconds: float, n: int
) -> tuple[int, list[bytes], str]:
    """Run the command built for `n` pipes; return (exit code, bytes per pipe, stderr)."""
    pipes = [os.pipe() for _ in range(n)]
    cmd = args_of([w for _, w in pipes])
    proc = subprocess.Popen(
        cmd, pass_fds=[w for _, w in pipes], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    for _, w in pipes:
        os.close(w)
    data: list[bytes] = [b""] * n

    def read(i: int, fd: int) -> None:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        os.close(fd)
        data[i] = b"".join(chunks)

    threads = [threading.Thread(target=read, args=(i, r)) for i, (r, _) in enumerate(pipes)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for t in threads:
        t.join()
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return proc.returncode, data, err


def events(data: bytes) -> tuple[InitSegment, list[Fragment]]:
    reader = BoxReader()
    evs = reader.feed(data)
    init = evs[0]
    assert isinstance(init, InitSegment)
    return init, [e for e in evs[1:] if isinstance(e, Fragment)]


def test_testsrc_command_gives_aligned_parts_on_every_pipe() -> None:
    ch = channel(renditions=TINY, segment_duration=1, preset="ultrafast")
    plan = plan_for_channel(ch)
    _, data, err = run_for(
        lambda fds: build_live_command(find_ffmpeg(), ch, plan, fds, FONT), 2.5, 2
    )
    assert err == ""  # -loglevel warning: a warning per start would flood the log
    starts = []
    for out, r in zip(data, TINY, strict=True):
        init, frags = events(out)
        video, audio = init.track("vide"), init.track("soun")
        assert video is not None and audio is not None
        assert (video.width, video.height, video.timescale) == (r.width, r.height, 90000)
        assert audio.sample_rate == 48000
        assert len(frags) >= 8
        runs = [f.primary() for f in frags]
        assert all(run.sample_count == plan.frames_per_part for run in runs)
        assert [run.first_sample_is_sync for run in runs[:6]] == [True] + [False] * 4 + [True]
        starts.append([(run.base_media_decode_time, run.first_sample_is_sync) for run in runs])
    n = min(len(s) for s in starts)
    assert starts[0][:n] == starts[1][:n]  # keyframe-aligned, same timeline


def test_file_without_audio_gets_silence_and_ends(tmp_path: Path) -> None:
    clip = tmp_path / "noaudio.mp4"
    subprocess.run(
        [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc2=size=200x150:rate=25", "-t", "1",
         "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
        check=True, timeout=30,
    )  # fmt: skip
    probe = subprocess.run(
        build_probe_command(find_ffmpeg(), str(clip)), capture_output=True, text=True, timeout=30
    )
    assert parse_probe_output(probe.stderr) == ProbeResult(has_video=True, has_audio=False)
    ch = channel(input=str(clip), loop=False, renditions=TINY, segment_duration=1)
    plan = plan_for_channel(ch)
    code, data, _ = run_for(
        lambda fds: build_live_command(
            find_ffmpeg(), ch, plan, fds, None, preset="ultrafast", input_has_audio=False
        ),
        10,
        2,
    )
    assert code == 0  # -shortest: the file's end is the stream's end
    sizes = []
    for out in data:
        init, frags = events(out)
        video, audio = init.track("vide"), init.track("soun")
        assert video is not None and audio is not None
        sizes.append((video.width, video.height))
        assert sum(f.primary().sample_count for f in frags) == 30  # 25 → 30 fps, 1 s
    assert sizes == [(120, 90), (200, 150)]  # aspect kept, never upscaled
