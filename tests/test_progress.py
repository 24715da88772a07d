"""packager.progress: ffmpeg -progress blocks → values → one line (bar or plain)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from packager.progress import (
    Progress,
    ProgressParser,
    estimate_eta,
    format_clock,
    render_bar,
    render_line,
)

BLOCKS = """frame=0
fps=0.00
out_time_us=N/A
speed=N/A
progress=continue
frame=150
stream_0_0_q=-1.0
out_time_us=2500000
out_time=00:00:02.500000
speed=10.2x
progress=continue
out_time_us=5005000
speed=12x
progress=end
"""


def test_parser_yields_one_value_per_block() -> None:
    parser = ProgressParser()
    got = [p for line in BLOCKS.splitlines(keepends=True) if (p := parser.feed_line(line))]
    assert got == [
        Progress(0, None, False),
        Progress(2_500_000, 10.2, False),
        Progress(5_005_000, 12.0, True),
    ]


def test_parser_ignores_noise() -> None:
    parser = ProgressParser()
    assert parser.feed_line("garbage without equals\n") is None
    assert parser.feed_line("\n") is None


@pytest.mark.parametrize(
    ("fraction", "elapsed", "eta"),
    [(0.0, 5, None), (0.5, 10, 10.0), (0.25, 3, 9.0), (1.0, 7, 0.0), (0.5, 0, None)],
)
def test_eta(fraction: float, elapsed: float, eta: float | None) -> None:
    assert estimate_eta(fraction, elapsed) == eta


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "--:--"), (0, "0:00"), (59.6, "1:00"), (3725, "1:02:05")]
)
def test_clock(seconds: float | None, text: str) -> None:
    assert format_clock(seconds) == text


@pytest.mark.parametrize("width", [40, 80, 120])
def test_bar_fits_and_shows_eta(width: int) -> None:
    line = render_bar("title", Progress(2_500_000, 2.0, False), Fraction(10), 5.0, width)
    assert len(line) == width
    assert " 25.0%" in line and "ETA 0:15" in line and "2.0x" in line
    assert line.count("#") == round(0.25 * line.count("#") / 0.25)


def test_bar_done_is_full_and_unknown_duration_has_no_bar() -> None:
    done = render_bar("t", Progress(9_900_000, None, True), Fraction(10), 4.0, 60)
    assert "100.0%" in done and "." not in done.split("]")[0] and "ETA 0:00" in done
    assert "[" not in render_bar("t", Progress(3_000_000, 1.0, False), None, 1.0, 60)
    assert len(render_bar("a-very-long-label" * 5, Progress(0, None, False), Fraction(1), 0)) <= 80


def test_plain_line() -> None:
    assert render_line("t", Progress(30_000_000, 1.5, False), Fraction(60), 20.0) == (
        "t: 0:30 of 1:00 50% speed 1.50x eta 0:20"
    )
    assert render_line("t", Progress(1_000_000, None, False), None, 1.0) == "t: 0:01 of ?"
