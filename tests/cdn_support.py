"""Helpers for the CDN tests: nginx from docs/nginx-cdn.conf, the origin, a synthetic live channel.

nginx is Debian's /usr/sbin/nginx (`apt-get install nginx`, done by `scripts/setup --test` as root)
run with the operator template rendered by scripts/cdn.py, so what is tested is what the docs
ship. A missing nginx skips the test with its reason, except under CI (CI=true), where it fails.

The origin is the real `origin serve` process. Live channels come from a synthetic packager
(packager.synthetic.FakeChannel) whose hub (packager.hub.HubServer) runs on an event loop in a
thread of the test process: the test decides when each part is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import RawResponse, build_request, free_port, parse_response, raw_exchange

from packager.hub import HubServer
from packager.synthetic import FakeChannel

REPO = Path(__file__).resolve().parent.parent
CDN_SCRIPT = REPO / "scripts" / "cdn.py"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def require_nginx() -> None:
    """Skip the calling test when nginx is missing; fail instead under CI."""
    if os.access(NGINX, os.X_OK):
        return
    reason = f"CDN test needs nginx ({NGINX}; apt-get install nginx, or scripts/setup --test)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: a missing tool is a failure)", pytrace=False)
    pytest.skip(reason)


def cdn_script() -> ModuleType:
    """scripts/cdn.py as a module (render() and command() are what the tests use)."""
    spec = importlib.util.spec_from_file_location("origin_scripts_cdn", CDN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Callable[[], str]) -> None:
    """Wait until 127.0.0.1:port accepts connections, or fail with the process's log."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not listening on {port} after 20 s:\n{log()}")


class Process:
    """A child process in its own process group with its output in a file."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def dechunk(body: bytes) -> bytes:
    """Given a chunked message body (RFC 9112 §7.1), return its content."""
    out = bytearray()
    rest = body
    while True:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            raise AssertionError(f"truncated chunked body: {body[:200]!r}")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        if rest[size : size + 2] != b"\r\n":
            raise AssertionError(f"bad chunk framing: {body[:200]!r}")
        rest = rest[size + 2 :]


class HttpEndpoint:
    """Raw HTTP/1.1 requests to 127.0.0.1:port (one connection per request)."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        target: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        timeout: float = 15.0,
    ) -> RawResponse:
        response = parse_response(
            raw_exchange(self.port, build_request(method, target, headers), timeout)
        )
        if "chunked" in (response.get("transfer-encoding") or "").lower():
            response.body = dechunk(response.body)
        return response

    def many(
        self, target: str, count: int, headers: dict[str, str] | None = None
    ) -> list[tuple[RawResponse, float]]:
        """`count` identical requests at once; each response with the time.time() it completed."""

        def one(_: int) -> tuple[RawResponse, float]:
            response = self.request(target, headers)
            return response, time.time()

        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count)))


class Origin(HttpEndpoint):
    """`origin serve --no-live` on a media root; live channels mirrored from `hub_socket`."""

    def __init__(self, media_root: Path, work: Path, hub_socket: str | None = None) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env.pop("ORIGIN_HUB_SOCKET", None)
        if hub_socket is not None:
            env["ORIGIN_HUB_SOCKET"] = hub_socket
        origin = Path(sys.executable).with_name("origin")
        argv = [str(origin)] if origin.exists() else [sys.executable, "-m", "origin.cli"]
        argv += [
            "serve", "--no-live", "--media-root", str(media_root), "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        # cwd away from the repo: its config.toml must not apply.
        self.process = Process(argv, work / f"origin-{self.port}.log", work, env)
        wait_port(self.port, self.process.proc, "origin serve", self.process.log)

    def log(self) -> str:
        return self.process.log()

    def hits(self, target: str) -> int:
        """Requests for exactly `target` (path?query) in the access log so far."""
        needle = f' "GET {target}" '
        return sum(1 for line in self.log().splitlines() if needle in line)

    def lines(self, target: str) -> list[str]:
        needle = f' "GET {target}" '
        return [line for line in self.log().splitlines() if needle in line]

    def settled_hits(self, target: str, settle: float = 0.6) -> int:
        """hits() once the buffered access log has been flushed (it flushes every 0.25 s)."""
        time.sleep(settle)
        return self.hits(target)

    def stop(self) -> None:
        self.process.stop()


class Nginx(HttpEndpoint):
    """nginx running docs/nginx-cdn.conf (rendered by scripts/cdn.py) in front of `origin_url`."""

    def __init__(
        self,
        origin_url: str,
        run_dir: Path,
        workers: str = "1",
        replace: dict[str, str] | None = None,
    ) -> None:
        cdn = cdn_script()
        self.port = free_port()
        self.run_dir = run_dir
        self.conf: Path = cdn.render(origin_url, f"127.0.0.1:{self.port}", run_dir, workers=workers)
        if replace:  # variations of the template for measurements (e.g. proxy_cache_lock off)
            text = self.conf.read_text()
            for old, new in replace.items():
                if old not in text:
                    raise ValueError(f"{old!r} is not in {self.conf}")
                text = text.replace(old, new)
            self.conf.write_text(text)
        self.process = Process(
            cdn.command(self.conf), run_dir / "nginx.out", run_dir, dict(os.environ)
        )
        wait_port(self.port, self.process.proc, "nginx", self.log)

    def log(self) -> str:
        out = self.process.log()
        with contextlib.suppress(OSError):
            out += (self.run_dir / "error.log").read_text(errors="replace")
        return out

    def access_lines(self) -> list[str]:
        with contextlib.suppress(OSError):
            return (self.run_dir / "access.log").read_text().splitlines()
        return []

    def cache_statuses(self) -> dict[str, int]:
        """How many client requests had each $upstream_cache_status so far."""
        counts: dict[str, int] = {}
        for line in self.access_lines():
            m = re.search(r" cache=(\S+) ", line)
            if m:
                counts[m[1]] = counts.get(m[1], 0) + 1
        return counts

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM)  # nginx: fast shutdown


class LiveHubThread:
    """A HubServer and a synthetic channel driven from the test, on a loop in a thread."""

    def __init__(self, media_root: Path, socket_path: str, **channel: Any) -> None:
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.hub = HubServer(socket_path)
        self.call(self.hub.start())
        self.channel: FakeChannel = self.call(self._make(media_root, channel))

    async def _make(self, media_root: Path, kwargs: dict[str, Any]) -> FakeChannel:
        return FakeChannel(media_root, self.hub, **kwargs)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def advance(self, parts: int = 1) -> None:
        """Publish `parts` more parts (files written, then views sent to the origin)."""

        async def step() -> None:
            self.channel.advance(parts)

        self.call(step())

    @property
    def position(self) -> tuple[int, int]:
        """(msn, part) of the next part to be published (the preload hint)."""
        return self.channel.msn, self.channel.part

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.hub.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def poll_until(
    check: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = ""
) -> tuple[Any, float]:
    """Call `check` until truthy; return (value, seconds it took). Fails after `timeout`."""
    started = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(interval)
