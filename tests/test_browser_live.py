"""hls.js in headless Chromium against the real origin process, from another origin (real CORS).

Live: `origin live --input testsrc` with two small renditions (a 2-core CI box encodes them in real
time), played 30 s in hls.js lowLatencyMode. The figures are printed as one JSON line so CI logs
show them: run with `-s` (or look at the captured stdout of a failure).
VOD: a 10 s fMP4 HLS made with the project's ffmpeg, played to the end: checks the harness and the
static path without the packager.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from browser_support import SMALL_LIVE_CONFIG, origin_server, require_browser, run_player, summary

from packager.ffmpeg_path import FfmpegNotFound, find_ffmpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

PLAY_SECONDS = 30
LIVE_CONFIG = SMALL_LIVE_CONFIG
PART_URL = re.compile(r"/part(\d+)\.(\d+)\.m4s$")


def show(name: str, report: dict[str, Any]) -> None:
    print(f"\n{name}: " + json.dumps(summary(report), separators=(",", ":")))


def test_hlsjs_low_latency_live(tmp_path: Path) -> None:
    require_browser()
    config = tmp_path / "config.toml"
    config.write_text(LIVE_CONFIG)
    args = ["live", "--input", "testsrc", "--name", "t", "--config", str(config), "--workers", "1"]
    ready = ["/live/t/index.m3u8", "/live/t/180p/index.m3u8"]
    with origin_server(args, ready, media_root=tmp_path / "media") as server:
        report = run_player(server.url("/live/t/index.m3u8"), PLAY_SECONDS, "live", warmup=10)
        log = server.log()
    show("live", report)

    assert report["errors"]["fatal"] == [], f"fatal hls.js error; origin log:\n{log}"
    advanced = report["playback"]["advanced"]
    assert advanced >= PLAY_SECONDS - 5, f"currentTime advanced only {advanced} s"

    req = report["requests"]
    assert req["playlist_with_msn_and_part"] > 0, "no blocking reload with _HLS_msn and _HLS_part"
    parts = [r["url"] for r in req["log"] if r["kind"] == "part" and r["status"] == 200]
    assert parts and all(PART_URL.search(u) for u in parts), "no part<msn>.<i>.m4s loaded"

    final = report["latency"]["final_hls"]
    assert final is not None and final < 3.0, f"hls.latency at the end: {final} s"


def test_hlsjs_plays_vod_cross_origin(tmp_path: Path) -> None:
    require_browser()
    try:
        binary = find_ffmpeg()
    except FfmpegNotFound as exc:
        pytest.fail(str(exc))
    out = tmp_path / "media" / "vod" / "bars"
    out.mkdir(parents=True)
    subprocess.run(
        [
            binary, "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
            "-hls_time", "2", "-hls_segment_filename", str(out / "seg%d.m4s"),
            str(out / "index.m3u8"),
        ],
        check=True,
    )  # fmt: skip
    with origin_server(
        ["serve", "--no-live", "--workers", "1"], ["/vod/bars/index.m3u8"], tmp_path / "media"
    ) as server:
        report = run_player(server.url("/vod/bars/index.m3u8"), 20, "vod", "--until-ended")
    show("vod", report)

    assert report["errors"]["fatal"] == []
    assert report["playback"]["ended"], "VOD did not play to the end"
    assert report["playback"]["current_time_end"] >= 7.9
    assert report["requests"]["failed_count"] == 0, report["requests"]["failed"]
    assert report["requests"]["by_kind"].get("segment") == 4
