"""Shared fixtures: a media tree on disk, the real `origin serve` process, a raw HTTP/1.1 client.

Generic on purpose: other test modules add their own fixtures here. The server fixtures start the
real command (`origin serve --config ...`) on 127.0.0.1 and talk to it over sockets, so what is
tested is what a CDN would see, byte for byte.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# -- media ---------------------------------------------------------------------------------------

SMALL_FILE_MAX = 4096  # so that BIG_SIZE exercises the streaming path (and granian's pathsend)
F_SIZE = 10000
BIG_SIZE = 3_000_000
SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT"
DOTFILE_SECRET = "DOTFILE-SECRET"


def pattern(size: int, seed: int = 0) -> bytes:
    """Given a size, return deterministic bytes: (i + seed) % 251 (period 251, a prime)."""
    period = bytes((i + seed) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


def playlist_text() -> str:
    """Return a ~2 KB static HLS media playlist (compressible text)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0"]
    for i in range(40):
        lines += ["#EXTINF:4.000,", f"seg{i:05d}.m4s"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


# Files with one of each content type in http-rules.md "Content types".
TYPED_FILES = {
    "types/a.m3u8": "application/vnd.apple.mpegurl",
    "types/a.mp4": "video/mp4",
    "types/a.m4s": "video/iso.segment",
    "types/a.m4v": "video/mp4",
    "types/a.m4a": "audio/mp4",
    "types/a.ts": "video/mp2t",
    "types/a.aac": "audio/aac",
    "types/a.vtt": "text/vtt",
    "types/a.mpd": "application/dash+xml",
    "types/a.key": "application/octet-stream",
    "types/a.jpg": "image/jpeg",
    "types/a.json": "application/json",
    "types/a.unknownext": "application/octet-stream",
    "types/noextension": "application/octet-stream",
    "types/UPPER.MP4": "video/mp4",
}


@dataclass(frozen=True)
class MediaTree:
    """A temporary media root and the facts tests check against."""

    base: Path  # parent directory (holds the outside secret)
    root: Path  # the media root served at "/"
    files: dict[str, bytes]  # rel path → exact bytes, for every regular file served

    def data(self, rel: str) -> bytes:
        return self.files[rel]


def build_media_tree(base: Path) -> MediaTree:
    """Create the media root under `base` and return what is in it."""
    root = base / "media"
    root.mkdir(parents=True)
    files: dict[str, bytes] = {
        "f.bin": pattern(F_SIZE),
        "clip.mp4": pattern(F_SIZE),  # same bytes as f.bin under another name and type
        "big.bin": pattern(BIG_SIZE, seed=7),
        "vod/t/big.mp4": pattern(BIG_SIZE, seed=7),
        "empty.bin": b"",
        "p.m3u8": playlist_text().encode(),
        "live/ch/part.m4s": pattern(3000, seed=1),
        "live/ch/index.m3u8": playlist_text().replace("#EXT-X-ENDLIST\n", "").encode(),
        "vod/t/seg.m4s": pattern(5000, seed=2),
        "vod/t/index.m3u8": playlist_text().encode(),
        "sub/inner.txt": b"inner\n",
        ".secret": DOTFILE_SECRET.encode(),
        ".git/config": f"[core]\n# {DOTFILE_SECRET}\n".encode(),
        "future.bin": pattern(100, seed=3),
    }
    for rel in TYPED_FILES:
        files[rel] = pattern(300, seed=len(rel))
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # A file dated a day ahead: Last-Modified must still not be later than Date.
    ahead = time.time() + 86400
    os.utime(root / "future.bin", (ahead, ahead))
    (base / "secret.txt").write_text(SECRET)
    (root / "outside-link").symlink_to(base / "secret.txt")
    (root / "outside-dir").symlink_to(base, target_is_directory=True)
    (root / "inside-link.bin").symlink_to(root / "f.bin")
    files["inside-link.bin"] = files["f.bin"]
    return MediaTree(base=base, root=root, files=files)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaTree:
    """The session's media tree (do not modify shared files; add new names instead)."""
    return build_media_tree(tmp_path_factory.mktemp("origin"))


def write_config(path: Path, root: Path, extra: str = "") -> Path:
    """Write a config.toml serving `root` with small_file_max = SMALL_FILE_MAX; return its path."""
    path.write_text(
        f"[media]\nroot = {str(root)!r}\n\n"
        # The preview page owns "/" by default; these tests are about the file tree under it.
        f"[http]\nsmall_file_max = {SMALL_FILE_MAX}\npreview_page = false\n\n"
        f"[server]\naccess_log = true\n{extra}"
    )
    return path


@pytest.fixture(scope="session")
def media_config(media: MediaTree) -> Path:
    """A config.toml for the session's media tree."""
    return write_config(media.base / "config.toml", media.root)


# -- raw HTTP/1.1 ----------------------------------------------------------------------------------


@dataclass
class RawResponse:
    """A response read off the socket: status, headers in order (names lower-cased), exact body."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes = field(repr=False, default=b"")

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return ", ".join(values) if values else None

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(f"no {name} header in {self.status} response: {self.headers}")
        return value


def parse_response(raw: bytes) -> RawResponse:
    """Given everything read from a `Connection: close` exchange, return the response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"incomplete response: {raw[:500]!r}")
    lines = head.decode("latin-1").split("\r\n")
    match = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: (.*))?", lines[0])
    if match is None:
        raise AssertionError(f"bad status line: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise AssertionError(f"bad header line: {line!r}")
        headers.append((name.strip().lower(), value.strip()))
    return RawResponse(int(match[1]), match[2] or "", headers, body, raw)


def raw_exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send `request` bytes to 127.0.0.1:port and return everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def build_request(
    method: str, target: str, headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> bytes:
    """Return an HTTP/1.1 request with `Connection: close`; header values are sent as UTF-8."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


# -- the real server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def origin_command() -> list[str]:
    """The `origin` console script next to this interpreter, else `python -m origin.cli`."""
    script = Path(sys.executable).with_name("origin")
    return [str(script)] if script.exists() else [sys.executable, "-m", "origin.cli"]


class OriginServer:
    """A running `origin serve` process with its stderr captured to a file."""

    def __init__(
        self, config: Path, server: str, log_path: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.server = server
        self.port = free_port()
        self.log_path = log_path
        self.stopped = False
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                *origin_command(),
                "serve",
                "--config",
                str(config),
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--workers",
                "1",
                "--server",
                server,
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"origin serve ({self.server}) exited with {self.proc.returncode}:\n"
                    + self.log_text()
                )
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"origin serve ({self.server}) not ready in {timeout}s:\n{self.log_text()}"
        )

    def raw(self, request: bytes, timeout: float = 10.0) -> RawResponse:
        return parse_response(raw_exchange(self.port, request, timeout))

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None
    ) -> RawResponse:
        return self.raw(build_request(method, target, headers))

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"origin serve ({self.server}) died with {self.proc.returncode}:\n{self.log_text()}"
            )

    def assert_no_errors(self) -> None:
        """Fail if the server logged an exception (the app raised while answering)."""
        log = self.log_text()
        if "Traceback" in log or " ERROR " in log:
            raise AssertionError(f"origin serve ({self.server}) logged errors:\n{log[-5000:]}")

    def stop(self) -> int | None:
        """Terminate the process; return its exit code if it had already died, else None."""
        if self.stopped:
            return None
        self.stopped = True
        died = self.proc.poll()
        if died is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return died


@pytest.fixture(scope="session")
def start_origin(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., OriginServer]]:
    """A factory: start_origin(config_path, server="uvicorn", args=()) → a running OriginServer.

    Every server started is stopped at the end of the session; one that died on its own fails it.
    """
    started: list[OriginServer] = []

    def start(config: Path, server: str = "uvicorn", args: tuple[str, ...] = ()) -> OriginServer:
        log = tmp_path_factory.mktemp("log") / f"origin-{server}.log"
        srv = OriginServer(config, server, log, args)
        started.append(srv)
        return srv

    yield start
    dead = [(srv, code) for srv in started if (code := srv.stop()) is not None]
    if dead:
        pytest.fail(
            "origin server(s) died during the session:\n"
            + "\n".join(f"{s.server} exit {c}:\n{s.log_text()}" for s, c in dead)
        )


SERVERS = ["uvicorn", "granian"]
FILES_ONLY = ("--no-live",)  # static-file tests do not depend on the live packager


@pytest.fixture(scope="session", params=SERVERS)
def origin_server(
    request: pytest.FixtureRequest, media_config: Path, start_origin: Callable[..., OriginServer]
) -> Iterator[OriginServer]:
    """The real server on the session's media tree, once per ASGI server in SERVERS."""
    srv = start_origin(media_config, request.param, FILES_ONLY)
    yield srv
    srv.assert_alive()
    srv.assert_no_errors()


@pytest.fixture(scope="session")
def uvicorn_server(media_config: Path, start_origin: Callable[..., OriginServer]) -> OriginServer:
    """The real server (uvicorn only) for tests that need one process, not one per server."""
    return start_origin(media_config, "uvicorn", FILES_ONLY)


def poll(
    check: Callable[[], object], timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> object:
    """Call `check` until it returns a truthy value (returned) or `timeout` passes (fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def sample_mp4(media: MediaTree) -> str:
    """A real 2 s 160x90 H.264/AAC fast-start MP4 made once with ffmpeg; returns its URL path."""
    from packager.ffmpeg_path import find_ffmpeg

    rel = "sample/clip.mp4"
    out = media.root / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".clip.tmp.mp4")
    subprocess.run(
        [
            find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    os.replace(tmp, out)
    media.files[rel] = out.read_bytes()
    return "/" + rel
