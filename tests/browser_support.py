"""Helpers for the browser tests: the tools they need, the real origin process, the player.

The player is tests/browser/player.mjs (headless Chromium + hls.js from tests/browser/node_modules,
installed by `scripts/setup --test`). A missing tool skips the test with its name, except under CI
(CI=true), where a missing tool is a failure: a browser test that silently never runs is worse
than a red build.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BROWSER_DIR = REPO / "tests" / "browser"
PLAYER = BROWSER_DIR / "player.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
READY_SECONDS = 20.0
# A live channel for browser tests: small renditions keep two x264 encoders well inside real
# time on 2 cores; PART-TARGET and the segment duration are the product defaults (0.2 s, 2 s),
# so the latency figures are the real ones.
SMALL_LIVE_CONFIG = """\
[[live]]
name = "t"
input = "testsrc"
frame_rate = 30
segment_duration = 2
part_target = "0.2"
audio_kbps = 64
renditions = [
  { name = "180p", width = 320, height = 180, video_kbps = 400 },
  { name = "270p", width = 480, height = 270, video_kbps = 700 },
]
"""


def missing_tools() -> list[str]:
    """Return a description of each tool the browser tests need and cannot find."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium ({CHROMIUM}; apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node (Node.js 20+; apt-get install nodejs)")
    for package in ("hls.js", "playwright-core"):
        if not (BROWSER_DIR / "node_modules" / package / "package.json").is_file():
            missing.append(f"{package} (npm ci --prefix tests/browser, or scripts/setup --test)")
    return missing


def require_browser() -> None:
    """Skip the calling test when a tool is missing; fail instead under CI."""
    missing = missing_tools()
    if not missing:
        return
    reason = "browser test needs: " + "; ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: a missing tool is a failure)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _origin_command() -> list[str]:
    script = Path(sys.executable).parent / "origin"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from origin.cli import main; sys.exit(main())"]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Return the status of a GET of `url`, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


class OriginProcess:
    """A real `origin` process on 127.0.0.1 (its own process group: ffmpeg children included)."""

    def __init__(self, args: Sequence[str], media_root: Path, port: int, cwd: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.media_root = media_root
        self.log_path = cwd / f"origin-{port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.argv = [*_origin_command(), *args]
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,  # away from the repo's config.toml: only what args say applies
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self, tail: int = 4000) -> str:
        """Return the end of the process's output."""
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-tail:].decode("utf-8", "replace")
        return ""

    def wait_ready(self, paths: Sequence[str], timeout: float = READY_SECONDS) -> float:
        """Poll each path in turn until it answers 200; return the seconds it took."""
        started = time.monotonic()
        for path in paths:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"origin exited ({self.proc.returncode}) before {path} was ready:\n"
                        + self.log()
                    )
                if http_status(self.url(path)) == 200:
                    break
                if time.monotonic() - started > timeout:
                    raise RuntimeError(
                        f"{self.url(path)} not 200 after {timeout:.0f} s:\n" + self.log()
                    )
                time.sleep(0.2)
        return time.monotonic() - started

    def media_playlists(self, multivariant: str) -> list[str]:
        """Return the paths of the media playlists a multivariant playlist names."""
        from urllib.parse import urljoin, urlsplit

        url = self.url(multivariant)
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode("utf-8")
        uris = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        return [urlsplit(urljoin(url, u)).path for u in uris]

    def stop(self) -> None:
        """SIGTERM the server (it stops its workers and packager), then kill what is left."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        # Whatever of this process group is still alive (ffmpeg, a wedged worker) goes now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def origin_server(
    args: Sequence[str],
    ready_paths: Sequence[str],
    media_root: Path | None = None,
    timeout: float = READY_SECONDS,
) -> Iterator[OriginProcess]:
    """Run `origin ARGS --port P --media-root DIR --no-access-log` until the block ends.

    `args` starts with the subcommand (`serve --no-live`, `live --input testsrc ...`). Ready when
    every one of `ready_paths` answers 200 (in order), within `timeout` seconds.
    """
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="origin-browser-")))
        root = media_root if media_root is not None else work / "media"
        root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = OriginProcess(
            [*args, "--port", str(port), "--media-root", str(root), "--no-access-log"],
            root,
            port,
            work,
        )
        try:
            server.wait_ready(ready_paths, timeout)
            yield server
        finally:
            server.stop()


def run_player(
    url: str,
    seconds: float,
    mode: str = "live",
    *args: str,
    hls_config: dict[str, Any] | None = None,
    warmup: float | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Play `url` in headless Chromium for `seconds`; return player.mjs's JSON report.

    Extra `args` go to player.mjs (`--level 1`, `--action level=0@10`, `--until-ended`).
    Raises RuntimeError when the player could not run (launch failure, page error, timeout).
    """
    cmd = ["node", str(PLAYER), "--url", url, "--seconds", str(seconds), "--mode", mode, *args]
    if hls_config is not None:
        cmd += ["--hls-config", json.dumps(hls_config)]
    if warmup is not None:
        cmd += ["--warmup", str(warmup)]
    limit = timeout if timeout is not None else seconds + 60
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=limit + 10, cwd=BROWSER_DIR, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"player.mjs did not finish in {limit + 10:.0f} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or not report.get("ok"):
        raise RuntimeError(
            f"player.mjs exit {done.returncode}: {report.get('error', 'no report')}\n"
            f"stderr: {done.stderr[-2000:]}"
        )
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures worth a line in a CI log (the full report has every request and sample)."""
    req = report["requests"]
    return {
        "versions": report["versions"],
        "stop_reason": report["stop_reason"],
        "playback": report["playback"],
        "latency": report["latency"],
        "stalls": {
            k: report["stalls"][k] for k in ("count", "buffer_stalled_errors", "total_seconds")
        },
        "fatal_errors": report["errors"]["fatal"],
        "non_fatal_errors": report["errors"]["non_fatal_count"],
        "non_fatal_details": sorted({e["details"] for e in report["errors"]["non_fatal"]}),
        "levels": [(lv["width"], lv["height"], lv["bitrate"]) for lv in report["levels"]],
        "level_switches": [s for s in report["level_switches"] if s["ev"] == "switched"],
        "requests": {
            k: req[k]
            for k in (
                "total",
                "by_kind",
                "by_status",
                "failed_count",
                "playlist_with_msn_and_part",
                "parts_loaded",
                "blocking_seconds",
                "sample_blocking_urls",
                "sample_part_urls",
            )
        },
        "failed_requests": req["failed"][:10],
        "console": report["console"][:10],
    }
