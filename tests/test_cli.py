"""The `origin` command: help and version, and every user mistake ends in one line, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import origin_command

from origin import __version__


def run(args: list[str], cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIGIN_")}
    return subprocess.run(
        [*origin_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_version(tmp_path: Path) -> None:
    done = run(["--version"], tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"origin {__version__}"


def test_help(tmp_path: Path) -> None:
    done = run(["--help"], tmp_path)
    assert done.returncode == 0
    assert "serve" in done.stdout and done.stderr == ""


def test_serve_help(tmp_path: Path) -> None:
    done = run(["serve", "--help"], tmp_path)
    assert done.returncode == 0
    for flag in (
        "--config",
        "--host",
        "--port",
        "--media-root",
        "--server",
        "--workers",
        "--certfile",
        "--keyfile",
        "--no-access-log",
        "--no-live",
    ):
        assert flag in done.stdout, flag


def test_no_command_prints_help_and_fails(tmp_path: Path) -> None:
    done = run([], tmp_path)
    assert done.returncode != 0
    assert "serve" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


# (config text or None for no file, extra args, text the one stderr line must contain).
# "{media}" is an existing directory, "{port}" a port something is already listening on.
BAD = [
    pytest.param("[server]\nbogus = 1\n", [], "server.bogus", id="unknown-key"),
    pytest.param("[bogus]\n", [], "[bogus]", id="unknown-section"),
    pytest.param('[server]\nport = "80"\n', [], "server.port", id="wrong-type"),
    pytest.param("[server]\nport = 0\n", [], "server.port", id="port-zero"),
    pytest.param("", ["--port", "0"], "server.port", id="port-zero-flag"),
    pytest.param("", ["--port", "70000"], "server.port", id="port-too-big-flag"),
    pytest.param('[server]\nserver = "nginx"\n', [], "server.server", id="unknown-server"),
    pytest.param('[server]\ncertfile = "c.pem"\n', [], "server.certfile", id="cert-without-key"),
    pytest.param("", ["--certfile", "c.pem"], "server.certfile", id="cert-without-key-flag"),
    pytest.param(
        "", ["--certfile", "c.pem", "--keyfile", "k.pem"], "server.certfile", id="cert-file-missing"
    ),
    pytest.param(
        '[media]\nroot = "/nonexistent/media"\n', [], "media.root", id="missing-media-root"
    ),
    pytest.param(
        "", ["--media-root", "/nonexistent/media"], "media.root", id="missing-media-root-flag"
    ),
    pytest.param("[server\nport = 1\n", [], "config.toml", id="invalid-toml"),
    pytest.param(b"\xff\xfe".decode("latin-1"), [], "config.toml", id="not-utf8"),
    pytest.param(None, [], "absent.toml", id="missing-config-file"),
    pytest.param("", ["--port", "{port}"], "server.port", id="port-in-use"),
    pytest.param('[[live]]\nname = "a/b"\n', [], "live[0].name", id="bad-live-channel"),
]


@pytest.mark.parametrize(("config", "args", "names"), BAD)
def test_bad_config_one_line(
    tmp_path: Path, busy_port: int, config: str | None, args: list[str], names: str
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    path = tmp_path / ("absent.toml" if config is None else "config.toml")
    if config is not None:
        text = config if "[media]" in config else f'[media]\nroot = "{media}"\n{config}'
        path.write_bytes(text.encode("latin-1"))
    argv = ["serve", "--config", str(path), "--host", "127.0.0.1", "--no-live"]
    argv += [a.replace("{port}", str(busy_port)) for a in args]
    done = run(argv, tmp_path)
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert names in lines[0], lines[0]
    assert lines[0].startswith("origin: error: ")
