"""`origin live` as an operator runs it: the real server process, its packager and workers."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import origin_server

from packager.ffmpeg_path import find_ffmpeg

pytestmark = [pytest.mark.server, pytest.mark.slow]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def test_ended_file_input_keeps_its_final_playlist(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
         "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
        check=True,
    )  # fmt: skip
    args = ["live", "--input", str(clip), "--no-loop", "--name", "f", "--segment-duration", "1",
            "--workers", "1"]  # fmt: skip
    with origin_server(args, ["/live/f/index.m3u8"]) as server:
        playlist = server.url("/live/f/360p/index.m3u8")
        deadline = time.monotonic() + 20
        text = fetch(playlist)
        while "#EXT-X-ENDLIST" not in text and time.monotonic() < deadline:
            time.sleep(0.3)
            text = fetch(playlist)
        assert "#EXT-X-ENDLIST" in text
        time.sleep(3)  # long enough for a restarted packager to have replaced the stream
        assert fetch(playlist) == text  # the ended stream stays exactly as it ended
        # Directives are ignored once the playlist has ENDLIST: answered at once, not a 400.
        assert fetch(playlist + "?_HLS_msn=999999999999&_HLS_part=0") == text
        assert "restarting" not in server.log()
