"""A packaged title under media/vod/ is served by the real `origin serve` as immutable."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from packager.ffmpeg_path import find_ffmpeg
from packager.ladder import Rung
from packager.vod import PackageOptions, package

pytestmark = [pytest.mark.server, pytest.mark.slow]

IMMUTABLE = "public, max-age=31536000, immutable"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("vod-root")
    src = root.parent / "in.mp4"
    subprocess.run(
        [find_ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine", "-t", "3",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(src)],
        check=True,
    )  # fmt: skip
    opts = PackageOptions(
        str(src), str(root / "vod" / "clip"), "clip", (Rung("180p", 180, 200),),
        segment_target=2, preset="ultrafast", quiet=True,
    )  # fmt: skip
    package(opts, stderr=io.StringIO())
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "serve", "--no-live", "--media-root", str(root),
         "--port", str(port), "--workers", "1", "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/vod/clip/index.m3u8", "application/vnd.apple.mpegurl"),
        ("/vod/clip/180p/index.m3u8", "application/vnd.apple.mpegurl"),
        ("/vod/clip/180p/iframes.m3u8", "application/vnd.apple.mpegurl"),
        ("/vod/clip/180p/init.mp4", "video/mp4"),
        ("/vod/clip/180p/seg0.m4s", "video/iso.segment"),
        ("/vod/clip/clip.mp4", "video/mp4"),
    ],
)
def test_served_immutable(served: str, path: str, ctype: str) -> None:
    with urllib.request.urlopen(served + path, timeout=5) as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == IMMUTABLE
        assert r.headers["Content-Type"].split(";")[0] == ctype
        assert r.read()
