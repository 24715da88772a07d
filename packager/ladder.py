"""VOD planning and measuring: which renditions to make, the ffmpeg command that makes them, and
the playlists and bandwidth figures derived from what was actually written.

Pure: no processes or files. `packager.vod` runs the commands and writes the results.

- A rung is named by the picture's short side ("720p" = 720 lines for landscape, 720 columns for
  portrait), so a portrait phone video gets a sensible ladder too. Rungs taller than the input
  are dropped (never upscale); an input smaller than every rung gets one rendition at its own
  size. Sizes are even (4:2:0 chroma needs it); the sample aspect ratio is applied first, so
  every output has square pixels.
- Frame rate is the input's (23.976/29.97/59.94 stay n/1001): no `-r`, no fps filter.
- One ffmpeg process decodes the input once; `split` feeds one scaler + libx264 per rendition.
  Keyframes are forced at every multiple of the segment target (`expr:gte(t,n_forced*T)`) with
  scene-cut detection off, so all renditions cut at the same instants (llhls-rules.md
  "Multivariant playlist": keyframe-aligned renditions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time, imported where used: `origin package` starts ffmpeg sooner
    from packager.model import MediaPlaylist
    from packager.probe import MediaInfo

__all__ = [
    "CMAF_MOVFLAGS",
    "EncodePlan",
    "IFrame",
    "Rendition",
    "Rung",
    "SegmentRecord",
    "average_bandwidth",
    "build_copy_args",
    "build_encode_args",
    "build_iframe_playlist",
    "build_vod_playlist",
    "check_copy",
    "even",
    "parse_ladder",
    "peak_bandwidth",
    "select_ladder",
    "target_duration",
]

CMAF_MOVFLAGS = "cmaf+frag_keyframe+empty_moov+default_base_moof"
# VBV: peaks may reach 110% of the average over a 2-second-of-bitrate buffer: streamable, yet
# easy scenes still save bits. BANDWIDTH is measured afterwards, never assumed from these.
MAXRATE_RATIO = Fraction(11, 10)
BUFSIZE_RATIO = 2
# Below this, an input-sized single rendition still gets a watchable bitrate.
MIN_VIDEO_KBPS = 100
COPY_VIDEO_CODECS = frozenset({"h264"})
COPY_AUDIO_CODECS = frozenset({"aac"})


@dataclass(frozen=True, slots=True)
class Rung:
    """One configured ladder step: a name, the picture's short side, a video bitrate."""

    name: str  # directory name of the rendition, e.g. "720p"
    height: int  # short side, pixels
    video_kbps: int  # libx264 -b:v, kbit/s


@dataclass(frozen=True, slots=True)
class Rendition:
    """One output rendition, sized for this input."""

    name: str
    width: int  # pixels, even
    height: int  # pixels, even
    video_kbps: int


@dataclass(frozen=True, slots=True)
class EncodePlan:
    """Everything the ffmpeg command needs besides file names."""

    renditions: tuple[Rendition, ...]  # empty for an audio-only input
    audio: bool  # encode (or copy) the first audio stream into every output
    audio_kbps: int
    audio_channels: int  # 0 = keep the source's; AAC is downmixed to stereo above two
    segment_target: int  # seconds: keyframe cadence and minimum segment length
    preset: str  # libx264 -preset
    frame_rate: Fraction | None  # the input's, for the GOP cap


def even(value: float | Fraction, minimum: int = 2) -> int:
    """Return value rounded to the nearest even integer, at least minimum."""
    return max(minimum, 2 * round(Fraction(value) / 2))


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """Given "720:2800,360:800" (short side:kbit/s, largest first or not), return the rungs.

    Raises ValueError naming the bad item.
    """
    rungs: list[Rung] = []
    for item in (i.strip() for i in text.split(",")):
        side, sep, kbps = item.partition(":")
        side = side.removesuffix("p")
        if not sep or not side.isdigit() or not kbps.isdigit():
            raise ValueError(f"ladder item {item!r}: expected SHORT_SIDE:KBPS, e.g. 720:2800")
        if int(side) < 2 or int(side) % 2 or int(kbps) <= 0:
            raise ValueError(f"ladder item {item!r}: need an even size and a positive bitrate")
        rungs.append(Rung(f"{int(side)}p", int(side), int(kbps)))
    if len({r.name for r in rungs}) != len(rungs):
        raise ValueError(f"ladder {text!r}: each size may appear once")
    return tuple(rungs)


def _fit(display: tuple[int, int], short: int) -> tuple[int, int]:
    """Scale a display size so its short side is `short`, keeping the aspect ratio, even."""
    w, h = display
    if w >= h:
        return even(Fraction(w * short, h)), even(short)
    return even(short), even(Fraction(h * short, w))


def select_ladder(rungs: Sequence[Rung], display: tuple[int, int]) -> tuple[Rendition, ...]:
    """Given the rungs and the input's display size, return the renditions, largest first."""
    w, h = display
    if w <= 0 or h <= 0:
        raise ValueError(f"bad input size {w}x{h}")
    short = min(w, h)
    kept = sorted((r for r in rungs if r.height <= short), key=lambda r: -r.height)
    if kept:
        return tuple(Rendition(r.name, *_fit(display, r.height), r.video_kbps) for r in kept)
    # Smaller than every rung: one rendition at the input's own (even) size, the smallest
    # rung's bitrate scaled by area so a tiny input does not get a huge budget.
    smallest = min(rungs, key=lambda r: r.height)
    out_w, out_h = even(math.floor(w / 2) * 2), even(math.floor(h / 2) * 2)
    rung_w, rung_h = _fit(display, smallest.height)
    kbps = max(MIN_VIDEO_KBPS, round(smallest.video_kbps * out_w * out_h / (rung_w * rung_h)))
    return (Rendition(f"{min(out_w, out_h)}p", out_w, out_h, kbps),)


def check_copy(info: MediaInfo) -> str | None:
    """Return why `--copy` cannot be used for this input, or None if it can."""
    video, audio = info.video, info.audio
    if video is not None and video.codec not in COPY_VIDEO_CODECS:
        return f"--copy needs H.264 video, the input has {video.codec}; drop --copy to re-encode"
    if audio is not None and audio.codec not in COPY_AUDIO_CODECS:
        return f"--copy needs AAC audio, the input has {audio.codec}; drop --copy to re-encode"
    return None


def _common_head(ffmpeg: str, input_path: str) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        # Machine-readable progress on stdout, twice a second; the human line is ours.
        "-progress", "pipe:1", "-nostats", "-stats_period", "0.5",
        "-i", input_path,
    ]  # fmt: skip


_CLEAN = ["-map_metadata", "-1", "-map_chapters", "-1", "-dn", "-sn"]


def build_encode_args(
    ffmpeg: str, input_path: str, plan: EncodePlan, outputs: Sequence[str], faststart: str
) -> list[str]:
    """Return the ffmpeg argv writing one CMAF fMP4 per output (same order as renditions).

    An output is a file path or an inherited pipe, "pipe:N" (the way `packager.vod` uses it:
    the fragmented MP4 streams to a reader that cuts segments as they arrive, no intermediate
    file). The first (largest) rendition also goes, through the tee muxer, to `faststart`: a
    progressive MP4 with moov before mdat, made from the same encode. An audio-only plan has
    one output and its faststart file is the .m4a.
    """
    T = plan.segment_target
    args = _common_head(ffmpeg, input_path)
    audio = ["-c:a", "aac", "-b:a", f"{plan.audio_kbps}k"]
    if plan.audio_channels:
        audio += ["-ac", str(plan.audio_channels)]
    if not plan.renditions:
        frag = ["-frag_duration", str(T * 1_000_000)]  # every AAC frame is a keyframe
        return [
            *args, *_CLEAN, "-map", "0:a:0", "-vn", *audio,
            *_tee(outputs[0], faststart, frag),
        ]  # fmt: skip
    n = len(plan.renditions)
    graph = [f"[0:v:0]split={n}" + "".join(f"[s{i}]" for i in range(n))] if n > 1 else []
    for i, r in enumerate(plan.renditions):
        src = f"[s{i}]" if n > 1 else "[0:v:0]"
        graph.append(f"{src}scale={r.width}:{r.height},setsar=1,format=yuv420p[v{i}]")
    args += ["-filter_complex", ";".join(graph)]
    # Cap the GOP at two segments so only the forced keyframes (or a fallback) ever cut.
    fps = plan.frame_rate or Fraction(60)
    gop = str(2 * math.ceil(fps * T))
    for i, r in enumerate(plan.renditions):
        kbps = r.video_kbps
        video = [
            "-c:v", "libx264", "-preset", plan.preset, "-profile:v", "high",
            "-b:v", f"{kbps}k",
            "-maxrate", f"{math.ceil(kbps * MAXRATE_RATIO)}k",
            "-bufsize", f"{kbps * BUFSIZE_RATIO}k",
            "-g", gop, "-sc_threshold", "0",
            "-force_key_frames", f"expr:gte(t,n_forced*{T})",
        ]  # fmt: skip
        maps = ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if plan.audio else [])
        tail = (audio if plan.audio else ["-an"]) + _CLEAN
        if i == 0:
            args += [*maps, *video, *tail, *_tee(outputs[i], faststart, [])]
        else:
            out = ["-f", "mp4", "-movflags", CMAF_MOVFLAGS, _url(outputs[i])]
            args += [*maps, *video, *tail, *out]
    return args


def _tee(fragmented: str, faststart: str, frag: Sequence[str]) -> list[str]:
    """Return the tee muxer arguments: one encode, two files (fragmented + fast-start)."""
    opts = "".join(f":{k.lstrip('-')}={v}" for k, v in zip(frag[::2], frag[1::2], strict=True))
    return [
        # The tee muxer does not ask encoders for global headers as mp4 does; without them
        # the empty_moov init segment would carry an empty avcC/esds.
        "-flags", "+global_header",
        "-f", "tee",
        f"[f=mp4:movflags={CMAF_MOVFLAGS}{opts}]{_tee_escape(fragmented)}"
        f"|[f=mp4:movflags=+faststart]{_tee_escape(faststart)}",
    ]  # fmt: skip


def _url(target: str) -> str:
    """Return the ffmpeg output URL of a file path, or of "pipe:N" as is."""
    # "file:" stops a ':' in a file name from being read as a protocol.
    pipe = target.startswith("pipe:") and target[5:].isdigit()
    return target if pipe else "file:" + target


def _tee_escape(target: str) -> str:
    # The tee muxer splits slaves with av_get_token ('|' separates, '\\' and quotes escape).
    return "".join("\\" + c if c in "\\|'" else c for c in _url(target))


def build_copy_args(
    ffmpeg: str, input_path: str, info: MediaInfo, output: str, faststart: str
) -> list[str]:
    """Return the ffmpeg argv remuxing (no re-encode) the first video/audio streams.

    Two outputs of one demux: the CMAF fMP4 to `output` (a path or "pipe:N") and the
    progressive `faststart` MP4. With nothing encoded, two plain outputs cost nothing extra,
    and unlike the tee muxer each gets its own muxer thread, so the fast-start rewrite of one
    overlaps the streaming of the other.
    """
    streams: list[str] = []
    if info.video is not None:
        streams += ["-map", "0:v:0"]
    if info.audio is not None:
        streams += ["-map", "0:a:0"]
    streams += ["-c", "copy", *_CLEAN]
    frag = [] if info.video is not None else ["-frag_duration", "4000000"]
    return [
        *_common_head(ffmpeg, input_path),
        *streams, "-f", "mp4", "-movflags", CMAF_MOVFLAGS, *frag, _url(output),
        *streams, "-f", "mp4", "-movflags", "+faststart", _url(faststart),
    ]  # fmt: skip


# --- measuring what was written -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """One written media segment."""

    uri: str
    duration: Fraction  # seconds, exact
    size: int  # bytes


@dataclass(frozen=True, slots=True)
class IFrame:
    """One keyframe fragment inside a segment file (an I-frame playlist entry)."""

    uri: str  # the segment file
    offset: int  # byte offset of its moof within that file
    length: int  # bytes: moof + mdat
    duration: Fraction  # seconds until the next keyframe fragment (or the end)


def target_duration(durations: Sequence[Fraction]) -> int:
    """EXT-X-TARGETDURATION: the longest segment rounded up (≥ 1)."""
    # rfc8216bis §4.4.3.1: each EXTINF rounded to the nearest integer MUST be ≤ TARGETDURATION;
    # rounding the longest UP satisfies it with no rounding-mode argument.
    return max(1, math.ceil(max(durations, default=Fraction(1))))


def peak_bandwidth(segments: Sequence[SegmentRecord], target: int) -> int:
    """BANDWIDTH in bits/s: the peak segment bit rate, and never below any one segment's rate.

    rfc8216bis §4.4.6.2: the peak segment bit rate is the largest bit rate of any contiguous
    run of segments lasting 0.5-1.5 x TARGETDURATION. Taking the max with each single segment's
    rate too makes BANDWIDTH an upper bound even for a short, keyframe-heavy last segment.
    """
    best = Fraction(0)
    for i, seg in enumerate(segments):
        if seg.duration > 0:
            best = max(best, Fraction(seg.size * 8) / seg.duration)
        bits, seconds = 0, Fraction(0)
        for run in segments[i:]:
            bits, seconds = bits + run.size * 8, seconds + run.duration
            if seconds > Fraction(3, 2) * target:
                break
            if seconds >= Fraction(1, 2) * target:
                best = max(best, bits / seconds)
    return math.ceil(best)


def average_bandwidth(segments: Sequence[SegmentRecord]) -> int:
    """AVERAGE-BANDWIDTH in bits/s: all segment bits over all segment time (rfc8216bis §4.4.6.2)."""
    seconds = sum((s.duration for s in segments), Fraction(0))
    if seconds <= 0:
        return 0
    return math.ceil(Fraction(sum(s.size for s in segments) * 8) / seconds)


def build_vod_playlist(segments: Sequence[SegmentRecord], init_uri: str) -> MediaPlaylist:
    """Return the VOD media playlist of these segments."""
    from packager.model import Map, MediaPlaylist, Segment

    return MediaPlaylist(
        target_duration=target_duration([s.duration for s in segments]),
        segments=tuple(Segment(uri=s.uri, duration=s.duration) for s in segments),
        map=Map(init_uri),  # rfc8216bis §4.4.4.5: fMP4 segments need EXT-X-MAP
        endlist=True,  # rfc8216bis §4.4.3.5: a VOD playlist is complete: ENDLIST present
        playlist_type="VOD",
        # Every segment starts with a keyframe (closed GOPs cut at keyframes).
        independent_segments=True,
    )


def build_iframe_playlist(iframes: Sequence[IFrame], init_uri: str) -> MediaPlaylist:
    """Return the I-frame-only playlist: one byte range per keyframe fragment."""
    from packager.model import ByteRange, Map, MediaPlaylist, Segment

    return MediaPlaylist(
        target_duration=target_duration([f.duration for f in iframes]),
        segments=tuple(
            # rfc8216bis §4.4.3.6: in an I-frame playlist, EXTINF is the time until the
            # next I-frame and the byte range locates the I-frame's resource.
            Segment(uri=f.uri, duration=f.duration, byterange=ByteRange(f.length, f.offset))
            for f in iframes
        ),
        map=Map(init_uri),
        endlist=True,
        playlist_type="VOD",
        independent_segments=True,
        i_frames_only=True,
    )
