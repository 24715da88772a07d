"""A packaged VOD title in hls.js, straight from the origin: it plays, and it switches renditions.

`origin package` makes two renditions of a generated clip; the test forces the low one, then the
high one a few seconds later (hls.currentLevel). The switch must complete and the
segments after it must come from the other rendition's directory (renditions keyframe-aligned at
every segment, so a switch needs nothing but the next segment).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import origin_server, require_browser, run_player

from packager.ffmpeg_path import find_ffmpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP_SECONDS = 12


def test_hlsjs_plays_packaged_title_and_switches_rendition(tmp_path: Path) -> None:
    require_browser()
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-f", "lavfi", "-i", "sine", "-t", str(CLIP_SECONDS), "-c:v", "libx264",
         "-preset", "ultrafast", "-c:a", "aac", str(clip)],
        check=True,
    )  # fmt: skip
    root = tmp_path / "media"
    subprocess.run(
        [sys.executable, "-m", "origin.cli", "package", str(clip),
         "--out", str(root / "vod" / "clip"), "--ladder", "360:1200,180:250", "--quiet"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    playlist = "/vod/clip/index.m3u8"
    with origin_server(["serve", "--no-live", "--workers", "1"], [playlist], root) as server:
        first = run_player(server.url(playlist), 3, "vod")
        levels = first["levels"]
        assert len(levels) == 2, levels
        low = min(range(2), key=lambda i: levels[i]["height"])
        high = 1 - low
        report = run_player(
            server.url(playlist), CLIP_SECONDS + 10, "vod",
            "--action", f"level={low}@1,level={high}@6", "--until-ended",
        )  # fmt: skip
    assert report["errors"]["fatal"] == [], report["errors"]
    assert report["playback"]["ended"], report["playback"]
    switched = [s["level"] for s in report["level_switches"] if s["ev"] == "switched"]
    assert low in switched and high in switched, report["level_switches"]
    main = [f for f in report["hls_frag_loads"] if f["type"] == "main"]
    dirs = {f["level"]: f["url"].rsplit("/", 2)[-2] for f in main if f["url"]}
    assert {low, high} <= set(dirs), main  # segments came from both renditions
    assert dirs[low] != dirs[high]
    assert report["requests"]["failed_count"] == 0, report["requests"]["failed"]
