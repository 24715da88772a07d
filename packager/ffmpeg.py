"""ffmpeg argument building for a live channel: one process, one input, every rendition.

Pure: no process is started here (that is `packager.live`). Decisions written down:
- One ffmpeg per channel. The input is decoded once; `split` feeds one `scale` per rendition,
  each with its own libx264 encoder on the same frames with the same GOP (a keyframe every
  segment, `-sc_threshold 0`, `-force_key_frames` on the frame number), so renditions are
  keyframe-aligned and players can switch at every segment (llhls-rules.md "Multivariant").
- Audio is muxed: AAC is encoded into EVERY rendition output, so each rendition is
  self-contained (one init segment, one part URI per part, CODECS "avc1…,mp4a.40.2"); no
  separate audio rendition group to keep in step. The cost is one small AAC encoder per
  rendition and a few kbit/s per variant.
- Never upscale: each rendition is scaled to fit min(its size, the input size), aspect kept,
  even dimensions; the multivariant RESOLUTION is read back from the init segment.
- An input without audio (probed by the shell) gets silent audio (anullsrc), so every rendition
  always has the same two tracks; `fps` + `format` normalise odd frame rates and pixel formats.
- Each output is fragmented CMAF MP4 written to its own inherited pipe (`pipe:<fd>`), one
  fragment (= one LL-HLS part) per `frag_duration`, video timescale fixed at 90 kHz so every
  run of the encoder has the same timescale (the window's integer ticks stay valid).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from origin.config import LiveChannel, Rendition
from packager.segmenter import FragmentPlan, build_fragment_plan

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "VIDEO_TIMESCALE",
    "InputKind",
    "ProbeResult",
    "build_live_command",
    "build_probe_command",
    "build_video_filter",
    "classify_input",
    "escape_filter_value",
    "parse_probe_output",
    "plan_for_channel",
    "top_rendition",
]

TESTSRC = "testsrc"
AUDIO_SAMPLE_RATE = 48000
# 90 kHz divides every integer frame rate's frame duration a channel can have (≤ 90000 fps)
# and is the same for every run, so a restart never changes the window's timescale.
VIDEO_TIMESCALE = 90000
# The burnt-in clock: UTC with milliseconds (FFmpeg's strftime extension %3N), like PDT.
CLOCK_TEXT = r"%{gmtime\:%T.%3N} UTC"
# The plan's mp4 muxer flags plus delay_moov: the moov waits for the first packets, so AAC's
# priming delay (a first DTS of -1024) goes into an edit list instead of a warning per run.
DELAY_MOOV = "+delay_moov"


class InputKind(Enum):
    """Where the channel's media comes from."""

    TESTSRC = "testsrc"
    FILE = "file"
    RTMP = "rtmp"
    SRT = "srt"
    UDP = "udp"

    @property
    def is_network(self) -> bool:
        """True for inputs an encoder connects to: waiting for it is not a hang."""
        return self in (InputKind.RTMP, InputKind.SRT, InputKind.UDP)


_SCHEMES = {"rtmp": InputKind.RTMP, "srt": InputKind.SRT, "udp": InputKind.UDP}


def classify_input(spec: str) -> InputKind:
    """Given a channel's `input`, return its kind: testsrc, a file, or a listening URL."""
    if spec == TESTSRC:
        return InputKind.TESTSRC
    scheme, sep, _ = spec.partition("://")
    if sep and scheme.lower() in _SCHEMES:
        return _SCHEMES[scheme.lower()]
    return InputKind.FILE


def top_rendition(channel: LiveChannel) -> Rendition:
    """Return the largest rendition (by pixels): the test source is generated at its size."""
    return max(channel.renditions, key=lambda r: (r.width * r.height, r.width))


def plan_for_channel(channel: LiveChannel) -> FragmentPlan:
    """Return the channel's fragment plan: the part target rounded UP to whole frames."""
    rate = Fraction(channel.frame_rate)
    # llhls-rules.md: ffmpeg cuts whole frames; advertise PART-TARGET rounded up, never down.
    frames = max(1, math.ceil(Fraction(channel.part_target) * rate))
    return build_fragment_plan(rate, Fraction(frames) / rate, Fraction(channel.segment_duration))


def escape_filter_value(value: str) -> str:
    """Return `value` quoted for a filter option inside -filter_complex (two parse levels)."""
    # Level 1 (option parser): '\' and ':' are special; level 2 (graph parser): quote with '.
    inner = value.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    return "'" + inner.replace("'", "'\\''") + "'"


# Real-time pacing for generated and file inputs. ffmpeg's -re lets the first 0.5 s through at
# full speed (-readrate_initial_burst); that burst would put the encoder ahead of the wall clock
# and every PROGRAM-DATE-TIME 0.3-0.4 s late, so the burst is made negligible (0 means default).
REALTIME = ["-re", "-readrate_initial_burst", "0.001"]


def _input_args(channel: LiveChannel, kind: InputKind, has_audio: bool) -> list[str]:
    """Return the input options: input 0 is the media; input 1 the tone or silence, if any."""
    genpts = ["-fflags", "+genpts"]
    if kind is InputKind.TESTSRC:
        top = top_rendition(channel)
        return [
            *REALTIME, *genpts, "-f", "lavfi",
            "-i", f"testsrc2=size={top.width}x{top.height}:rate={channel.frame_rate}",
            *REALTIME, "-f", "lavfi",
            "-i", f"sine=frequency=1000:beep_factor=4:sample_rate={AUDIO_SAMPLE_RATE}",
        ]  # fmt: skip
    if kind is InputKind.FILE:
        loop = ["-stream_loop", "-1"] if channel.loop else []
        args = [*REALTIME, *loop, *genpts, "-i", channel.input]
    elif kind is InputKind.RTMP:
        args = [*genpts, "-listen", "1", "-f", "flv", "-i", channel.input]
    elif kind is InputKind.SRT:
        url = channel.input
        if "mode=" not in url:
            url += ("&" if "?" in url else "?") + "mode=listener"
        args = [*genpts, "-i", url]
    else:
        args = [*genpts, "-f", "mpegts", "-i", channel.input]
    if not has_audio:
        silence = f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_SAMPLE_RATE}"
        args += [*REALTIME, "-f", "lavfi", "-i", silence]
    return args


def build_video_filter(channel: LiveChannel, font: str | None, *, clock: bool) -> str:
    """Return the video part of the filter graph: [0:v] → one [v<i>] label per rendition."""
    n = len(channel.renditions)
    chain = [f"fps={channel.frame_rate}", "format=yuv420p"]
    if clock and font is not None:
        size = max(10, top_rendition(channel).height // 10)
        chain.append(
            f"drawtext=fontfile={escape_filter_value(font)}:text='{CLOCK_TEXT}'"
            f":fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8"
        )
    chain.append(f"split={n}" + "".join(f"[vs{i}]" for i in range(n)))
    parts = ["[0:v]" + ",".join(chain)]
    for i, r in enumerate(channel.renditions):
        # Never upscale: fit inside min(rendition, input), aspect kept, even dimensions.
        parts.append(
            f"[vs{i}]scale=w='min({r.width},iw)':h='min({r.height},ih)'"
            f":force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v{i}]"
        )
    return ";".join(parts)


def _audio_filter(channel: LiveChannel, source: str) -> str:
    n = len(channel.renditions)
    labels = "".join(f"[a{i}]" for i in range(n))
    # async=1: fill or trim small gaps so audio stays locked to its timestamps.
    return f"[{source}]aresample={AUDIO_SAMPLE_RATE}:async=1,asplit={n}{labels}"


def _plan_args(plan: FragmentPlan) -> list[str]:
    args = plan.ffmpeg_args()
    i = args.index("-movflags") + 1
    args[i] += DELAY_MOOV
    return args


def _output_args(
    channel: LiveChannel, plan: FragmentPlan, index: int, fd: int, preset: str, shortest: bool
) -> list[str]:
    r = channel.renditions[index]
    gop = plan.frames_per_segment
    return [
        "-map", f"[v{index}]", "-map", f"[a{index}]",
        "-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-bf", "0",
        "-b:v", f"{r.video_kbps}k", "-maxrate", f"{r.video_kbps}k",
        "-bufsize", f"{r.video_kbps}k",
        # Keyframes on the frame number, identical in every rendition: aligned segments.
        "-force_key_frames", f"expr:eq(mod(n,{gop}),0)",
        *_plan_args(plan),
        "-c:a", "aac", "-b:a", f"{channel.audio_kbps}k",
        "-ar", str(AUDIO_SAMPLE_RATE), "-ac", "2",
        *(["-shortest"] if shortest else []),
        "-video_track_timescale", str(VIDEO_TIMESCALE),
        "-flush_packets", "1",
        "-f", "mp4",
        f"pipe:{fd}",
    ]  # fmt: skip


def build_live_command(
    ffmpeg: str,
    channel: LiveChannel,
    plan: FragmentPlan,
    output_fds: Sequence[int],
    font: str | None,
    *,
    preset: str | None = None,
    input_has_audio: bool = True,
) -> list[str]:
    """Return the argv of the one ffmpeg process that encodes every rendition of `channel`.

    `output_fds[i]` is the inherited pipe rendition i is written to. `font` is a TTF for the
    test source's burnt-in clock (None: no clock). `input_has_audio` comes from probing a file
    input (network inputs are assumed to carry audio); without it, silence is muxed.
    """
    if len(output_fds) != len(channel.renditions):
        raise ValueError("one output fd per rendition")
    kind = classify_input(channel.input)
    has_audio = input_has_audio or kind is InputKind.TESTSRC
    audio_source = "1:a" if kind is InputKind.TESTSRC or not has_audio else "0:a"
    graph = ";".join(
        [
            build_video_filter(channel, font, clock=kind is InputKind.TESTSRC),
            _audio_filter(channel, audio_source),
        ]
    )
    # A finite file without audio ends when the file does, not when the endless silence does.
    shortest = kind is InputKind.FILE and not has_audio and not channel.loop
    chosen = preset or channel.preset
    args = [
        ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "warning",
        *_input_args(channel, kind, has_audio),
        "-filter_complex", graph,
    ]  # fmt: skip
    for i, fd in enumerate(output_fds):
        args += _output_args(channel, plan, i, fd, chosen, shortest)
    return args


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What `ffmpeg -i` says about an input file's streams (there is no ffprobe)."""

    has_video: bool
    has_audio: bool


_STREAM = re.compile(r"^\s*Stream #0:\d+.*?: (Video|Audio):", re.MULTILINE)


def build_probe_command(ffmpeg: str, path: str) -> list[str]:
    """Return an argv that prints the input's stream list on stderr (and exits non-zero)."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-i", path]


def parse_probe_output(stderr: str) -> ProbeResult:
    """Given `ffmpeg -i` stderr, return which kinds of streams input #0 has."""
    kinds = set(_STREAM.findall(stderr))
    return ProbeResult(has_video="Video" in kinds, has_audio="Audio" in kinds)
