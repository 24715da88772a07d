"""Parse what `ffmpeg -hide_banner -i INPUT` prints on stderr into streams and a duration.

There is no ffprobe in the imageio-ffmpeg wheel (design.md "Dependencies"), so the probe is
ffmpeg's own input dump: exit status 1 ("At least one output file must be specified") is the
normal outcome; the text is what matters. Only the first input (`Input #0`) is read. A failure
to open the input becomes a `ProbeError` whose message says what is wrong with the file, for
the CLI to print as one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

__all__ = [
    "MediaInfo",
    "ProbeError",
    "StreamInfo",
    "parse_fps",
    "parse_probe",
    "split_fields",
]


class ProbeError(ValueError):
    """The input could not be opened as media; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One `Stream #0:N` line (plus its side data)."""

    index: int  # N in "#0:N"
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str  # "h264", "aac", "vp9", ...
    profile: str = ""  # "High", "LC", "Constrained Baseline"; "" when absent
    width: int = 0  # coded size, pixels (video)
    height: int = 0
    sar: Fraction = Fraction(1)  # sample aspect ratio (video; 1 when unknown)
    fps: Fraction | None = None  # average frame rate, snapped to n/1001 rates (video)
    rotation: int = 0  # display-matrix rotation, degrees (multiple of 90)
    sample_rate: int = 0  # Hz (audio)
    channels: int = 0  # (audio)
    bitrate_kbps: int = 0  # as ffmpeg reports it; 0 when absent
    attached_pic: bool = False  # cover art: a still image, not a video track

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown: SAR applied to the width, rotation applied."""
        width = round(self.width * self.sar) if self.sar > 0 else self.width
        if self.rotation % 180:
            return self.height, width
        return width, self.height


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What ffmpeg found in the input."""

    format: str  # demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: Fraction | None  # container duration, seconds; None when "N/A"
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        """The first real video stream (cover art is not video)."""
        return next((s for s in self.streams if s.kind == "video" and not s.attached_pic), None)

    @property
    def audio(self) -> StreamInfo | None:
        """The first audio stream."""
        return next((s for s in self.streams if s.kind == "audio"), None)


# ffmpeg's own failure lines → what to tell the user. First match wins; order matters.
_FAILURES: tuple[tuple[str, str], ...] = (
    ("No such file or directory", "no such file; check the path"),
    ("Permission denied", "permission denied; check the file's permissions"),
    ("moov atom not found", "MP4 without its index (moov): the file is truncated or corrupt"),
    ("Invalid data found when processing input", "not a media file ffmpeg can read"),
    ("Is a directory", "is a directory, not a media file"),
)

_INPUT = re.compile(r"^Input #0, (?P<format>.+), from '")
_DURATION = re.compile(r"^\s+Duration: (?:(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)|N/A)")
_STREAM = re.compile(
    r"^\s+Stream #0:(?P<index>\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (?P<kind>\w+): (?P<rest>.*)$"
)
_SIZE = re.compile(r"^(?P<w>\d+)x(?P<h>\d+)(?:\s*\[SAR (?P<sn>\d+):(?P<sd>\d+) DAR [^\]]*\])?")
_SAR = re.compile(r"^SAR (?P<sn>\d+):(?P<sd>\d+) DAR ")
_ROTATION = re.compile(r"(?i)^\s+(?:display ?matrix): rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees")
_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}
# ffmpeg prints rates with two decimals: map the NTSC family back to its exact n/1001 value.
_NTSC_BASES = (24, 30, 48, 60, 120)


def parse_fps(text: str) -> Fraction | None:
    """Given ffmpeg's printed rate ("29.97", "25", "90k"), return it exactly (n/1001 snapped)."""
    text = text.strip()
    try:
        value = Fraction(text[:-1]) * 1000 if text.endswith("k") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    if value <= 0:
        return None
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(value - ntsc) < Fraction(1, 100):
            return ntsc
    return value


def split_fields(text: str) -> list[str]:
    """Split a stream description at top-level commas (commas inside brackets stay)."""
    fields: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        fields.append(tail)
    return fields


def _codec_and_profile(first: str) -> tuple[str, str]:
    codec, _, rest = first.partition(" ")
    profile = ""
    for group in re.findall(r"\(([^()]*)\)", rest):
        if " / " not in group:  # "(avc1 / 0x31637661)" is the codec tag, not a profile
            profile = group
            break
    return codec, profile


def _parse_stream(index: int, kind: str, rest: str) -> StreamInfo:
    fields = split_fields(rest)
    codec, profile = _codec_and_profile(fields[0] if fields else "")
    info: dict[str, object] = {}
    attached = rest.rstrip().endswith("(attached pic)") or "(attached pic)" in rest
    for f in fields[1:]:
        f = re.sub(r"\s*\((?:default|forced|attached pic|dependent|original)\)", "", f).strip()
        if m := _SIZE.match(f):
            info["width"], info["height"] = int(m["w"]), int(m["h"])
            if m["sn"] and int(m["sd"]):
                info["sar"] = Fraction(int(m["sn"]), int(m["sd"]))
        elif (m := _SAR.match(f)) and int(m["sd"]):
            info["sar"] = Fraction(int(m["sn"]), int(m["sd"]))
        elif f.endswith(" fps"):
            info["fps"] = parse_fps(f[: -len(" fps")])
        elif f.endswith(" tbr") and "fps" not in info:
            info["tbr"] = parse_fps(f[: -len(" tbr")])
        elif f.endswith(" Hz") and f[:-3].isdigit():
            info["sample_rate"] = int(f[:-3])
        elif f.endswith(" kb/s") and f[:-5].isdigit():
            info["bitrate_kbps"] = int(f[:-5])
        elif m := re.match(r"^(\d+) channels", f):
            info["channels"] = int(m[1])
        elif kind.lower() == "audio" and (layout := f.split("(")[0]) in _CHANNEL_LAYOUTS:
            info["channels"] = _CHANNEL_LAYOUTS[layout]
    fps = info.get("fps") or info.get("tbr")
    sar = info.get("sar", Fraction(1))
    return StreamInfo(
        index=index,
        kind=kind.lower(),
        codec=codec,
        profile=profile,
        width=int(str(info.get("width", 0))),
        height=int(str(info.get("height", 0))),
        sar=sar if isinstance(sar, Fraction) and sar > 0 else Fraction(1),
        fps=fps if isinstance(fps, Fraction) else None,
        sample_rate=int(str(info.get("sample_rate", 0))),
        channels=int(str(info.get("channels", 0))),
        bitrate_kbps=int(str(info.get("bitrate_kbps", 0))),
        attached_pic=attached,
    )


def _failure(text: str) -> str:
    for needle, message in _FAILURES:
        if needle in text:
            return message
    last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
    return f"ffmpeg cannot open it ({last or 'no output'})"


def parse_probe(stderr: str) -> MediaInfo:
    """Given the stderr of `ffmpeg -hide_banner -i INPUT`, return MediaInfo or raise ProbeError."""
    lines = stderr.splitlines()
    start = next((i for i, ln in enumerate(lines) if _INPUT.match(ln)), None)
    if start is None:
        raise ProbeError(_failure(stderr))
    fmt_match = _INPUT.match(lines[start])
    assert fmt_match is not None
    duration: Fraction | None = None
    streams: list[StreamInfo] = []
    for line in lines[start + 1 :]:
        if line.startswith(("Input #", "Output #")) or not line.startswith(" "):
            break  # the next input, or ffmpeg's closing complaint
        if m := _DURATION.match(line):
            if m["h"] is not None:
                duration = int(m["h"]) * 3600 + int(m["m"]) * 60 + Fraction(m["s"])
        elif m := _STREAM.match(line):
            streams.append(_parse_stream(int(m["index"]), m["kind"], m["rest"]))
        elif (m := _ROTATION.match(line)) and streams:
            deg = round(float(m["deg"])) % 360
            streams[-1] = replace(streams[-1], rotation=deg - deg % 90)
    return MediaInfo(format=fmt_match["format"], duration=duration, streams=tuple(streams))
