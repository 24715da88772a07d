"""The live encoder command: one ffmpeg process for every rendition of a channel (pure).

Decisions, written down:
- Audio is muxed into every video rendition. Each rendition is then self-contained (one
  playlist, one part per request), hls.js and Safari switch between them at any segment, and
  RENDITION-REPORTs cover everything a player needs; the price is a few kbit/s of duplicated AAC.
- The input is decoded once; `split` feeds one scaler + one x264 encoder per rendition, each
  with the same GOP (keyframe every segment, scene-cut off), so renditions are keyframe-aligned
  and segment boundaries coincide (llhls-rules.md "Multivariant playlist").
- Each rendition is written as CMAF fragmented MP4 to its own pipe: `frag_duration` equal to
  a whole number of frames makes every fragment one LL-HLS part (llhls-rules.md "Why we write
  our own segmenter"). A fixed 90 kHz video timescale keeps tick arithmetic identical across
  encoder restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from origin.config import LiveChannel, Rendition
from packager.segmenter import FragmentPlan

VIDEO_TIMESCALE = 90000
TESTSRC = "testsrc"
_LISTEN_SCHEMES = ("rtmp://", "rtmps://", "srt://", "udp://")
# delay_moov: the AAC encoder's priming gives audio a negative first DTS; without it ffmpeg
# would have to write the moov before it knows, and warns on every start.
MOVFLAGS = "cmaf+frag_keyframe+empty_moov+default_base_moof+delay_moov"


def input_kind(source: str) -> str:
    """Return "testsrc", "network" or "file" for a channel's `input`."""
    if source == TESTSRC:
        return "testsrc"
    if source.startswith(_LISTEN_SCHEMES):
        return "network"
    return "file"


def build_input_args(channel: LiveChannel, top: Rendition) -> list[str]:
    """Return the input half of the command: what ffmpeg reads, paced in real time."""
    kind = input_kind(channel.input)
    if kind == "testsrc":
        rate = channel.frame_rate
        return [
            "-re", "-f", "lavfi", "-i", f"testsrc2=size={top.width}x{top.height}:rate={rate}",
            "-re", "-f", "lavfi", "-i", "sine=frequency=1000:beep_factor=4:sample_rate=48000",
        ]  # fmt: skip
    if kind == "network":
        url = channel.input
        if url.startswith(("rtmp://", "rtmps://")):
            # An encoder (OBS, ffmpeg) publishes to us: ffmpeg is the RTMP server here.
            return ["-f", "flv", "-listen", "1", "-i", url]
        if url.startswith("udp://"):
            return ["-f", "mpegts", "-i", url]
        return ["-i", url]  # srt://…?mode=listener: the URL carries the listener mode
    loop = ["-stream_loop", "-1"] if channel.loop else []
    # -re: read the file at its native rate, so a file plays like a live source.
    return ["-re", *loop, "-i", channel.input]


def _scale(r: Rendition) -> str:
    # Never upscale: min() keeps a smaller input as it is; even sizes for 4:2:0 chroma.
    return (
        f"scale=w='min({r.width},iw)':h='min({r.height},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2"
    )


def build_filter_graph(channel: LiveChannel, font: str | None) -> str:
    """Return the -filter_complex graph: clock (testsrc), frame rate, split, one scale each."""
    n = len(channel.renditions)
    head = f"[0:v]fps={channel.frame_rate}"
    if input_kind(channel.input) == "testsrc" and font is not None:
        # A burnt-in wall clock makes glass-to-glass latency visible in any player.
        head += (
            f",drawtext=fontfile='{font}':text='%{{localtime\\:%X}}'"
            ":x=w-tw-16:y=h-th-16:fontsize=h/10:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8"
        )
    labels = "".join(f"[s{i}]" for i in range(n))
    chains = [f"{head},split={n}{labels}"]
    chains += [f"[s{i}]{_scale(r)}[v{i}]" for i, r in enumerate(channel.renditions)]
    return ";".join(chains)


def build_live_command(
    ffmpeg: str,
    channel: LiveChannel,
    plan: FragmentPlan,
    output_fds: Sequence[int],
    font: str | None,
    preset: str = "veryfast",
    has_audio: bool = True,
) -> list[str]:
    """Return the argv of the one ffmpeg process that encodes every rendition of `channel`.

    `output_fds[i]` is the pipe rendition i is written to (passed with pass_fds).
    """
    if len(output_fds) != len(channel.renditions):
        raise ValueError("one output pipe per rendition")
    top = max(channel.renditions, key=lambda r: r.width * r.height)
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-fflags", "+genpts"]
    args += build_input_args(channel, top)
    args += ["-filter_complex", build_filter_graph(channel, font)]
    audio_input = "1:a:0" if input_kind(channel.input) == "testsrc" else "0:a:0?"
    gop = str(plan.frames_per_segment)
    for i, (r, fd) in enumerate(zip(channel.renditions, output_fds, strict=True)):
        kbps = r.video_kbps
        args += ["-map", f"[v{i}]"]
        if has_audio:
            args += ["-map", audio_input]
        args += [
            "-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p",
            "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k",
            # Same GOP everywhere, no scene cuts: keyframes align across renditions.
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
            "-force_key_frames", f"expr:eq(mod(n,{gop}),0)",
        ]  # fmt: skip
        if has_audio:
            args += ["-c:a", "aac", "-b:a", f"{channel.audio_kbps}k", "-ac", "2", "-ar", "48000"]
        args += [
            "-video_track_timescale", str(VIDEO_TIMESCALE),
            "-f", "mp4", "-movflags", MOVFLAGS,
            "-frag_duration", str(plan.frag_duration_us),
            f"pipe:{fd}",
        ]  # fmt: skip
    return args


def nominal_bandwidth(channel: LiveChannel, r: Rendition) -> int:
    """Return a rendition's configured bit rate (video + audio), bits/s, before measurement."""
    return (r.video_kbps + channel.audio_kbps) * 1000


def frame_rate(channel: LiveChannel) -> Fraction:
    """Return the channel's output frame rate, exactly."""
    return Fraction(channel.frame_rate)
