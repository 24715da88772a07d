"""Session fixtures for the packager core tests: real ffmpeg fMP4 output, generated once.

Test modules load this with `pytest_plugins = ["conftest_packager"]`; the commands and box
builders live in `tests/fixtures/fmp4.py`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fixtures.fmp4 import INIT_CASES, LONG_SECONDS, SHORT_SECONDS, ffmpeg_exe, live_command


def _run(cmd: list[str], out: Path) -> bytes:
    if not out.exists():
        data = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout
        out.write_bytes(data)
    return out.read_bytes()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One temp dir per session for generated media."""
    return tmp_path_factory.mktemp("packager-media")


@pytest.fixture(scope="session")
def long_stream(media_dir: Path) -> bytes:
    """Three minutes of live-style fMP4 (video + muxed AAC)."""
    return _run(live_command(LONG_SECONDS), media_dir / "long.mp4")


@pytest.fixture(scope="session")
def short_stream(media_dir: Path) -> bytes:
    """A few seconds of the same: small enough to feed byte by byte."""
    return _run(live_command(SHORT_SECONDS), media_dir / "short.mp4")


@pytest.fixture(scope="session")
def init_segments(media_dir: Path) -> dict[str, bytes]:
    """Real ffmpeg output per INIT_CASES entry (init segment plus one or two fragments)."""
    out: dict[str, bytes] = {}
    for name, (args, _) in INIT_CASES.items():
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
            "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", "0.2", *args,
            "-f", "mp4", "-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof",
            "pipe:1",
        ]  # fmt: skip
        if "-vn" in args:
            cmd[cmd.index("-f") : cmd.index("-f") + 4] = []  # audio only: drop the video input
        out[name] = _run(cmd, media_dir / f"init-{name}.mp4")
    return out
