"""Real players through the nginx CDN edge (docs/nginx-cdn.conf) in front of the real origin.

Headless Chromium (tests/browser/player.mjs, from a page on a third origin: every media request
is a CORS request that crosses the edge):
- hls.js plays a VOD title made by `origin package` to the end;
- a <video> element plays the title's progressive MP4, and a seek to the middle lands within
  0.5 s of the target (Chromium's Range requests are answered from 1 MiB cache slices);
- hls.js in lowLatencyMode plays a real live LL-HLS channel (`origin live --input testsrc`) for
  30 s without a fatal error.
The figures are printed as one JSON line per player (run with -s).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    BROWSER_DIR,
    SMALL_LIVE_CONFIG,
    origin_server,
    require_browser,
    run_player,
    summary,
)
from cdn_support import Nginx, require_nginx
from conftest import origin_command

from packager.ffmpeg_path import FfmpegNotFound, find_ffmpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.server]

CLIP_SECONDS = 8
SEEK_TO = 4.0  # the middle of the clip
PLAY_SECONDS = 30
LIVE_CONFIG = SMALL_LIVE_CONFIG

# page.html (the harness's page, unchanged) plus one script: after the first 'playing', seek to
# ?seek=<seconds>. page.html already records every 'seeked' with the currentTime it landed on.
SEEK_SCRIPT = """
<script>
(() => {
  const target = Number(new URLSearchParams(location.search).get('seek'));
  const video = document.getElementById('v');
  let done = false;
  video.addEventListener('playing', () => {
    if (done || !target) return;
    done = true;
    setTimeout(() => { video.currentTime = target; }, 1000);
  });
})();
</script>
"""


def show(name: str, report: dict[str, Any]) -> None:
    print(f"\n{name}: " + json.dumps(summary(report), separators=(",", ":")))


def cache_summary(cdn: Nginx) -> dict[str, int]:
    counts = cdn.cache_statuses()
    print(f"edge cache statuses: {counts}")
    return counts


@dataclass
class Title:
    root: Path  # media root
    name: str

    @property
    def playlist(self) -> str:
        return f"/vod/{self.name}/index.m3u8"

    @property
    def mp4(self) -> str:
        return f"/vod/{self.name}/{self.name}.mp4"


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> Title:
    """A short clip packaged by `origin package` (two renditions + the fast-start MP4)."""
    require_browser()
    require_nginx()
    try:
        ffmpeg = find_ffmpeg()
    except FfmpegNotFound as exc:
        pytest.fail(str(exc))
    work = tmp_path_factory.mktemp("cdn-title")
    clip = work / "clip.mp4"
    subprocess.run(
        [
            ffmpeg, "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(CLIP_SECONDS), "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", str(clip),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    root = work / "media"
    out = root / "vod" / "clip"
    out.parent.mkdir(parents=True)
    subprocess.run(
        [*origin_command(), "package", str(clip), "--out", str(out), "--ladder", "360:2400,180:200",
         "--quiet"],
        check=True,
        timeout=180,
        cwd=work,
    )  # fmt: skip
    # The seek page is served by the origin itself (another origin than the edge's and the
    # player's): page.html unchanged + the seek script, and its hls.min.js beside it.
    page = (BROWSER_DIR / "page.html").read_text()
    assert "</body>" in page
    (root / "seek.html").write_text(page.replace("</body>", SEEK_SCRIPT + "</body>", 1))
    shutil.copy(BROWSER_DIR / "node_modules" / "hls.js" / "dist" / "hls.min.js", root)
    return Title(root, "clip")


@pytest.fixture(scope="module")
def edge(title: Title, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Nginx]]:
    """`origin serve --no-live` on the title's media root, nginx in front."""
    with origin_server(
        ["serve", "--no-live", "--workers", "1"], [title.playlist, title.mp4], title.root
    ) as server:
        cdn = Nginx(server.base_url, tmp_path_factory.mktemp("cdn-nginx"))
        try:
            yield server, cdn
        finally:
            cdn.stop()


def test_hlsjs_plays_a_packaged_title_through_the_cdn(
    title: Title, edge: tuple[Any, Nginx]
) -> None:
    _, cdn = edge
    report = run_player(cdn.base_url + title.playlist, 25, "vod", "--until-ended")
    show("vod via cdn", report)
    counts = cache_summary(cdn)
    assert report["errors"]["fatal"] == []
    assert report["playback"]["ended"], "the title did not play to the end"
    assert report["playback"]["current_time_end"] >= CLIP_SECONDS - 0.5
    assert report["requests"]["failed_count"] == 0, report["requests"]["failed"]
    assert report["requests"]["by_kind"].get("segment", 0) >= 2
    # Every request crossed the edge (its access log has them, with a cache status).
    assert sum(counts.values()) >= report["requests"]["total"]


def test_video_element_plays_the_mp4_and_seeks_through_the_cdn(
    title: Title, edge: tuple[Any, Nginx]
) -> None:
    server, cdn = edge
    page = f"{server.base_url}/seek.html?seek={SEEK_TO}"
    report = run_player(cdn.base_url + title.mp4, 6, "mp4", "--page", page)
    show("mp4 via cdn", report)
    assert report["errors"]["fatal"] == [], report["errors"]
    seeked = [e for e in report["video_events"] if e["ev"] == "seeked"]
    assert seeked, f"no 'seeked' event: {report['video_events']}"
    landed = seeked[0]["currentTime"]
    assert abs(landed - SEEK_TO) <= 0.5, f"seek to {SEEK_TO} landed at {landed}"
    assert report["playback"]["current_time_end"] > SEEK_TO, "playback did not go on after it"
    mp4_lines = [line for line in cdn.access_lines() if f"GET {title.mp4} " in line]
    assert mp4_lines and all(re.search(r'" (200|206) ', line) for line in mp4_lines), mp4_lines
    cache_summary(cdn)


def test_hlsjs_low_latency_live_through_the_cdn(tmp_path: Path) -> None:
    require_browser()
    require_nginx()
    config = tmp_path / "config.toml"
    config.write_text(LIVE_CONFIG)
    args = ["live", "--input", "testsrc", "--name", "t", "--config", str(config), "--workers", "1"]
    ready = ["/live/t/index.m3u8", "/live/t/180p/index.m3u8"]
    with origin_server(args, ready, media_root=tmp_path / "media") as server:
        cdn = Nginx(server.base_url, tmp_path / "nginx")
        try:
            report = run_player(
                cdn.base_url + "/live/t/index.m3u8", PLAY_SECONDS, "live", warmup=10
            )
        finally:
            cdn.stop()
        log = server.log()
    show("live via cdn", report)
    counts = cache_summary(cdn)

    assert report["errors"]["fatal"] == [], f"fatal hls.js error; origin log:\n{log}"
    advanced = report["playback"]["advanced"]
    assert advanced >= PLAY_SECONDS - 5, f"currentTime advanced only {advanced} s"
    req = report["requests"]
    assert req["playlist_with_msn_and_part"] > 0, "no blocking reload with _HLS_msn and _HLS_part"
    assert req["parts_loaded"] > 0, "no part loaded"
    final = report["latency"]["final_hls"]
    assert final is not None and final < 3.5, f"hls.latency at the end: {final} s"
    assert sum(counts.values()) >= req["total"]
