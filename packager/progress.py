"""ffmpeg `-progress` output → progress values → one human line (a bar with ETA, or plain).

ffmpeg writes blocks of `key=value` lines, each ended by `progress=continue` (or `progress=end`
for the last). Feed it lines; every completed block yields a `Progress`. Rendering is a pure
function of the values and the clock readings the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "Progress",
    "ProgressParser",
    "estimate_eta",
    "format_clock",
    "render_bar",
    "render_line",
]


@dataclass(frozen=True, slots=True)
class Progress:
    """One `-progress` block."""

    out_time_us: int  # media time written so far, microseconds (0 when ffmpeg says N/A)
    speed: float | None  # "speed=2.5x" → 2.5; None when N/A
    done: bool  # progress=end


class ProgressParser:
    """Sans-I/O: `feed_line()` each line of ffmpeg's -progress output."""

    def __init__(self) -> None:
        self._block: dict[str, str] = {}

    def feed_line(self, line: str) -> Progress | None:
        """Consume one line; return a Progress when it completes a block."""
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._block[key] = value.strip()
            return None
        block, self._block = self._block, {}
        return Progress(
            out_time_us=_int(block.get("out_time_us", "")),
            speed=_speed(block.get("speed", "")),
            done=value.strip() == "end",
        )


def _int(text: str) -> int:
    try:
        return max(0, int(text))
    except ValueError:
        return 0  # "N/A" before the first packet


def _speed(text: str) -> float | None:
    try:
        return float(text.strip().removesuffix("x"))
    except ValueError:
        return None


def estimate_eta(fraction: float, elapsed: float) -> float | None:
    """Seconds left, extrapolating the average rate so far; None until there is a rate."""
    if fraction <= 0 or elapsed <= 0:
        return None
    if fraction >= 1:
        return 0.0
    return elapsed * (1 - fraction) / fraction


def format_clock(seconds: float | None) -> str:
    """Return M:SS (or H:MM:SS); "--:--" when unknown."""
    if seconds is None:
        return "--:--"
    total = max(0, round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _fraction(p: Progress, duration: Fraction | None) -> float | None:
    if not duration or duration <= 0:
        return None
    if p.done:
        return 1.0  # the last block: whatever the clock says, the job is complete
    return min(1.0, p.out_time_us / 1_000_000 / float(duration))


def render_bar(
    label: str, p: Progress, duration: Fraction | None, elapsed: float, width: int = 80
) -> str:
    """Return one terminal line: label, a bar, percent, speed, ETA; fits in `width` columns."""
    frac = _fraction(p, duration)
    speed = f"{p.speed:.1f}x" if p.speed is not None else "-"
    if frac is None:
        tail = f" {format_clock(p.out_time_us / 1e6)} {speed}"
        return f"{label}{tail}"[:width]
    tail = f" {frac * 100:5.1f}% {speed:>6} ETA {format_clock(estimate_eta(frac, elapsed))}"
    room = width - len(label) - len(tail) - 3
    if room < 5:
        return f"{label}{tail}"[:width]
    filled = round(frac * room)
    return f"{label} [{'#' * filled}{'.' * (room - filled)}]{tail}"


def render_line(label: str, p: Progress, duration: Fraction | None, elapsed: float) -> str:
    """Return a plain log line for a non-terminal stderr."""
    frac = _fraction(p, duration)
    done = format_clock(p.out_time_us / 1e6)
    total = format_clock(float(duration)) if duration else "?"
    speed = f" speed {p.speed:.2f}x" if p.speed is not None else ""
    pct = f" {frac * 100:.0f}%" if frac is not None else ""
    eta = f" eta {format_clock(estimate_eta(frac, elapsed))}" if frac is not None else ""
    return f"{label}: {done} of {total}{pct}{speed}{eta}"
