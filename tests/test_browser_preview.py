"""The preview page at GET / in headless Chromium: it lists what there is and draws frames.

A frame counts as drawn when the <video> painted onto a canvas has more than a handful of
distinct colours (a blank or black video has one or two). The page's hls.js is the copy the
origin serves itself, so this also proves the page needs nothing beyond the origin.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from browser_support import BROWSER_DIR, origin_server, require_browser

from packager.ffmpeg_path import find_ffmpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREVIEW = BROWSER_DIR / "preview.mjs"
NO_VALUE = "\u2013"  # what the page shows for a figure it does not have
LIVE_CONFIG = """
[[live]]
name = "cam"
input = "testsrc"
segment_duration = 1
part_target = "0.2"
preset = "ultrafast"
renditions = [ { name = "180p", width = 320, height = 180, video_kbps = 300 } ]
"""


def open_preview(origin: str, item: str, png: Path) -> dict[str, object]:
    done = subprocess.run(
        ["node", str(PREVIEW), "--origin", origin, "--item", item, "--seconds", "20",
         "--png", str(png)],
        capture_output=True, text=True, timeout=60, cwd=BROWSER_DIR, check=False,
    )  # fmt: skip
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"preview.mjs printed no report: {done.stderr[-2000:]}"
    report: dict[str, object] = json.loads(lines[-1])
    print(json.dumps(report))
    assert report["ok"], report
    return report


@pytest.mark.parametrize(
    ("item", "player"),
    [
        pytest.param("/sample.mp4", "<video>", id="mp4-in-video-element"),
        pytest.param("/live/cam/index.m3u8", "hls.js", id="live-in-hls.js"),
    ],
)
def test_preview_page_plays_and_draws_frames(tmp_path: Path, item: str, player: str) -> None:
    require_browser()
    root = tmp_path / "media"
    root.mkdir()
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine", "-t", "12",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart",
         str(root / "sample.mp4")],
        check=True,
    )  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text(LIVE_CONFIG)
    with origin_server(
        ["serve", "--config", str(config), "--workers", "1"],
        ["/", "/live/cam/index.m3u8"],
        media_root=root,
    ) as server:
        with urllib.request.urlopen(server.url("/"), timeout=5) as resp:
            page = resp.read().decode()
        assert '"/sample.mp4"' in page and '"/live/cam/index.m3u8"' in page
        report = open_preview(server.base_url, item, tmp_path / "preview.png")
    assert not report["pageErrors"], report["pageErrors"]
    assert not report["error"], report["error"]
    assert report["currentTime"] > 2, report  # playback advanced
    assert report["colours"] > 8, report  # a real frame, not a blank or black video
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert stats["player"].startswith(player)
    assert stats["level"] != NO_VALUE and stats["buffer"] != NO_VALUE
    if player == "hls.js":
        assert stats["latency"].endswith(" s"), stats  # live latency on screen
