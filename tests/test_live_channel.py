"""The live packager with real ffmpeg: what it publishes, and how it survives faults.

Each channel runs in-process (ChannelRunner) with tiny renditions and a recording publisher that
checks, at the instant of every publication, that everything the playlist names is on disk in
full (llhls-rules.md: "every part/segment it names is already downloadable in full").
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import m3u8
import pytest

from origin.config import LiveChannel, Rendition
from packager.ffmpeg_path import find_ffmpeg
from packager.hub import ChannelView, LiveHub, RenditionView, View
from packager.live import ChannelRunner

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

URI = re.compile(r'URI="([^"]+)"')
RENDITIONS = (Rendition("lo", 160, 90, 150), Rendition("hi", 320, 180, 300))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def channel(**kw: object) -> LiveChannel:
    """A small, fast test channel: 160x90 + 320x180, 1 s segments, 0.2 s parts."""
    base = LiveChannel(
        name="c", input="testsrc", segment_duration=1, part_target="0.2", preset="ultrafast",
        renditions=RENDITIONS, window_segments=6,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


class Recorder:
    """A Publisher that keeps every view and checks the disk at publication time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hub = LiveHub()
        self.views: list[View] = []
        self.problems: list[str] = []

    def publish(self, view: View) -> None:
        if isinstance(view, RenditionView):
            base = self.root / "live" / view.channel / view.rendition
            text = view.playlist.decode()
            names = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
            names += [
                u
                for ln in text.splitlines()
                if not ln.startswith("#EXT-X-PRELOAD-HINT")
                and not ln.startswith("#EXT-X-RENDITION-REPORT")
                for u in URI.findall(ln)
            ]
            for name in names:
                if not (base / name).is_file():
                    self.problems.append(f"v{view.version} names missing {name}")
            if (base / "index.m3u8").read_bytes() != view.playlist:
                self.problems.append(f"v{view.version}: playlist on disk differs from the view")
        self.views.append(view)
        self.hub.publish(view)

    def latest(self, rendition: str) -> RenditionView | None:
        return self.hub.rendition("c", rendition)


async def run_until(
    runner: ChannelRunner, done: Callable[[], bool], timeout: float
) -> asyncio.Event:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done() and loop.time() < deadline and not task.done():
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 10)
    return stop


def parts_of(text: str) -> list[tuple[Fraction, bool]]:
    out = []
    for ln in text.splitlines():
        if ln.startswith("#EXT-X-PART:"):
            dur = Fraction(re.search(r"DURATION=([\d.]+)", ln)[1])  # type: ignore[index]
            out.append((dur, "INDEPENDENT=YES" in ln))
    return out


async def test_publishes_valid_ll_hls(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(), str(tmp_path), rec)
    seen_mv: list[bytes] = []

    def enough() -> bool:
        v = rec.latest("lo")
        ch = rec.hub.channel("c")
        if ch and ch.multivariant:
            seen_mv.append(ch.multivariant)
        return v is not None and len(v.snapshot.segments) >= 4 and bool(seen_mv)

    await run_until(runner, enough, 25)
    assert not rec.problems, rec.problems[:5]
    view = rec.latest("lo")
    assert view is not None
    text = view.playlist.decode()
    pl = m3u8.loads(text)
    assert pl.target_duration == 1
    assert pl.server_control["can_block_reload"] == "YES"
    assert float(pl.server_control["part_hold_back"]) == pytest.approx(0.6)
    assert float(pl.server_control["hold_back"]) == 3.0
    assert float(pl.server_control["can_skip_until"]) == 6.0
    assert pl.part_inf.part_target == pytest.approx(0.2)
    # Every part ≤ PART-TARGET; ≥ 0.85 x PART-TARGET unless independent or last of a segment.
    for dur, _independent in parts_of(text):
        assert dur <= Fraction(1, 5)
        assert dur >= Fraction(17, 100) or _independent
    complete = [s for s in pl.segments if s.uri]  # m3u8 lists the open segment's parts too
    assert len(complete) >= 4
    for seg in complete:
        assert round(seg.duration) <= 1
        assert seg.program_date_time is not None
    # PROGRAM-DATE-TIME advances exactly with the durations (anchored once).
    pdts = [s.program_date_time for s in complete]
    for a, b, seg in zip(pdts, pdts[1:], complete, strict=False):
        assert (b - a).total_seconds() == pytest.approx(seg.duration, abs=0.002)
    hints = [ln for ln in text.splitlines() if ln.startswith("#EXT-X-PRELOAD-HINT")]
    assert len(hints) == 1
    snap = view.snapshot
    assert snap.preload_hint is not None
    assert f"part{snap.preload_hint[0]}.{snap.preload_hint[1]}.m4s" in hints[0]
    reports = [ln for ln in text.splitlines() if ln.startswith("#EXT-X-RENDITION-REPORT")]
    assert len(reports) == 1 and 'URI="../hi/index.m3u8"' in reports[0]
    mv = m3u8.loads(seen_mv[-1].decode())
    assert [p.uri for p in mv.playlists] == ["hi/index.m3u8", "lo/index.m3u8"]
    for p, size in zip(mv.playlists, [(320, 180), (160, 90)], strict=True):
        assert p.stream_info.resolution == size
        assert re.fullmatch(r"avc1\.42c0[0-9a-f]{2},mp4a\.40\.2", p.stream_info.codecs)
        assert p.stream_info.bandwidth >= p.stream_info.average_bandwidth > 0
        assert p.stream_info.frame_rate == 30.0


async def test_encoder_killed_gives_discontinuity(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(), str(tmp_path), rec)
    killed: list[int] = []
    first_msn: list[int] = []

    def after_kill() -> bool:
        v = rec.latest("lo")
        if v is None or len(v.snapshot.segments) < 2:
            return False
        if not killed and runner._proc is not None:
            first_msn.append(v.snapshot.last_msn)
            killed.append(runner._proc.pid)
            os.killpg(runner._proc.pid, signal.SIGKILL)
            return False
        return (
            killed != []
            and runner.runs >= 2
            and "#EXT-X-DISCONTINUITY" in v.playlist.decode()
            and v.snapshot.last_msn >= first_msn[0] + 3
        )

    await run_until(runner, after_kill, 30)
    assert not rec.problems, rec.problems[:5]
    view = rec.latest("lo")
    assert view is not None
    text = view.playlist.decode()
    assert runner.runs >= 2
    assert "#EXT-X-DISCONTINUITY" in text
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    assert "init1.mp4" in maps, maps
    msns = [s.msn for s in view.snapshot.segments]
    assert msns == sorted(msns) and len(set(msns)) == len(msns)  # MEDIA-SEQUENCE keeps rising
    assert msns[-1] > first_msn[0]


async def test_hung_encoder_is_restarted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(), str(tmp_path), rec)
    stopped: list[int] = []

    def restarted() -> bool:
        v = rec.latest("lo")
        if v is None or not v.snapshot.segments:
            return False
        if not stopped and runner._proc is not None:
            stopped.append(runner._proc.pid)
            os.killpg(runner._proc.pid, signal.SIGSTOP)  # alive but silent
        return runner.runs >= 2 and "#EXT-X-DISCONTINUITY" in v.playlist.decode()

    with caplog.at_level(logging.WARNING, logger="origin.live"):
        await run_until(runner, restarted, 30)
    assert runner.runs >= 2
    assert any("no output for 2 s (hung)" in r.getMessage() for r in caplog.records)


async def test_unwritable_directory_is_one_clear_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(), str(tmp_path), rec)
    broken: list[bool] = []

    def after_break() -> bool:
        v = rec.latest("lo")
        if v is None or len(v.snapshot.segments) < 2:
            return False
        if not broken:
            # Root ignores permission bits: make the rendition directory a file's child instead.
            target = tmp_path / "live" / "c" / "lo"
            os.rename(target, tmp_path / "lo-aside")
            target.write_text("not a directory")
            broken.append(True)
        return len([r for r in caplog.records if "cannot write" in r.getMessage()]) >= 1 and (
            runner.runs >= 2
        )

    with caplog.at_level(logging.WARNING, logger="origin.live"):
        await run_until(runner, after_break, 20)
    errors = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert errors, "no log line for the failed write"
    assert len(errors) <= 2, errors  # rate-limited, not one per part
    assert "\n" not in errors[0] and str(tmp_path) in errors[0]
    assert "not a directory" in errors[0] or "a file, not a directory" in errors[0]
    # Nothing published after the break names a file that is not there.
    assert not rec.problems, rec.problems[:5]


async def test_file_input_without_loop_ends_with_endlist(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine", "-t", "3",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip)],
        check=True,
    )  # fmt: skip
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(input=str(clip), loop=False), str(tmp_path), rec)
    await run_until(runner, lambda: runner.ended, 20)
    assert runner.ended
    for r in ("lo", "hi"):
        view = rec.latest(r)
        assert view is not None
        text = view.playlist.decode()
        assert "#EXT-X-ENDLIST" in text.splitlines()
        assert "#EXT-X-PRELOAD-HINT" not in text
        total = sum(s.duration for s in m3u8.loads(text).segments)
        assert total == pytest.approx(3.0, abs=0.05)
    ch = rec.hub.channel("c")
    assert isinstance(ch, ChannelView) and ch.ended
    assert not rec.problems, rec.problems[:5]


async def test_network_input_that_disconnects_and_comes_back(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/app/key"
    rec = Recorder(tmp_path)
    runner = ChannelRunner(channel(input=url), str(tmp_path), rec)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def publish(seconds: int) -> None:
        # An encoder (like OBS) publishing to the channel, then going away.
        for _ in range(50):  # until the channel's ffmpeg listens
            proc = await asyncio.create_subprocess_exec(
                find_ffmpeg(), "-v", "error", "-re", "-f", "lavfi",
                "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine",
                "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                "-c:a", "aac", "-f", "flv", url,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            if await proc.wait() == 0:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("could not publish to the channel")

    try:
        await publish(4)
        first = rec.latest("lo")
        assert first is not None and first.snapshot.segments
        await publish(4)
        view = rec.latest("lo")
        assert view is not None
        text = view.playlist.decode()
        assert "#EXT-X-DISCONTINUITY" in text
        assert 'URI="init1.mp4"' in text
        assert view.snapshot.last_msn > first.snapshot.last_msn  # MEDIA-SEQUENCE kept rising
        assert not rec.problems, rec.problems[:5]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
