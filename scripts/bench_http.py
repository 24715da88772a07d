"""Side-by-side HTTP benchmark: origin vs nginx vs Starlette StaticFiles (the Python baseline).

All three serve the same directory on 127.0.0.1 with the same worker count. wrk (2 threads)
measures, in interleaved rounds, each scenario twice per server:
  (a) random 64 KiB Range requests into a 50 MB MP4, 64 connections  → requests/s
  (b) whole-file downloads of it, 4 connections                        → MB/s
  (b2) open-ended `bytes=N-` ranges (what <video> sends first), 4 conn → MB/s
  (c) a 2 KB playlist, 64 connections                                   → requests/s
then each server's peak RSS (all its processes), and the ratios origin/nginx, origin/baseline.
Run by scripts/bench-http; figures go in README.md's performance section.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BENCH = ROOT / ".bench"
MP4_SIZE = 50 * 1024 * 1024
WORKERS = 2

NGINX_CONF = """
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/nginx-access.log combined buffer=64k flush=1s;
    sendfile on;
    tcp_nopush off;
    keepalive_requests 1000000;
    types {{ video/mp4 mp4; application/vnd.apple.mpegurl m3u8; }}
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""

BASELINE_APP = """
import os
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
app = Starlette(routes=[Mount("/", StaticFiles(directory=os.environ["BENCH_ROOT"]))])
"""

RANGE_LUA = """
math.randomseed(os.time() + {seed})
local size = {size}
local span = 65536
request = function()
  local start = math.random(0, size - span - 1)
  local range = "bytes=" .. start .. "-" .. (start + span - 1)
  return wrk.format("GET", "/big.mp4", {{["Range"] = range}})
end
"""

OPEN_LUA = """
math.randomseed(os.time() + {seed})
local size = {size}
request = function()
  local start = math.random(0, size - 1)
  return wrk.format("GET", "/big.mp4", {{["Range"] = "bytes=" .. start .. "-"}})
end
"""


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_media(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    big = root / "big.mp4"
    if not big.exists() or big.stat().st_size < MP4_SIZE:
        ffmpeg = subprocess.check_output(
            [sys.executable, "-m", "packager.ffmpeg_path"], text=True, cwd=ROOT
        ).strip()
        tmp = root / ".big.tmp.mp4"
        # Lossless ultrafast x264 of the test pattern: a real MP4 of ~50 MB in a few seconds.
        subprocess.run(
            [
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=30",
                "-t",
                "30",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-qp",
                "0",
                "-fs",
                str(MP4_SIZE + 4096),
                "-movflags",
                "+faststart",
                str(tmp),
            ],
            check=True,
        )
        tmp.rename(big)
    playlist = root / "live.m3u8"
    if not playlist.exists():
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:6",
            "#EXT-X-TARGETDURATION:4",
            "#EXT-X-MEDIA-SEQUENCE:100",
        ]
        n = 100
        while len("\n".join(lines)) < 2000:
            lines += ["#EXTINF:4.00000,", f"segment_{n:06d}.m4s"]
            n += 1
        playlist.write_text("\n".join(lines) + "\n")


def wait_ready(port: int, path: str = "/live.m3u8", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                r.read()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not come up")


def start(name: str, root: Path, work: Path, origin_server: str) -> Server:
    port = free_port()
    env = dict(os.environ)
    if name == "nginx":
        (work / "tmp").mkdir(exist_ok=True)
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=WORKERS, dir=work, port=port, root=root))
        cmd = ["nginx", "-c", str(conf), "-p", str(work)]
    elif name == "baseline":
        (work / "baseline_app.py").write_text(BASELINE_APP)
        env["BENCH_ROOT"] = str(root)
        env["PYTHONPATH"] = str(work)
        cmd = [
            str(VENV_BIN / "uvicorn"),
            "baseline_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    else:
        cmd = [
            str(VENV_BIN / "origin"),
            "serve",
            "--no-live",  # the files alone: a live encoder would take the CPU being measured
            "--config",
            str(ROOT / "config.toml"),
            "--media-root",
            str(root),
            "--port",
            str(port),
        ]
        if origin_server:
            cmd += ["--server", origin_server]
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    wait_ready(port)
    return Server(name, port, proc)


def tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                pids += tree_pids(int(p.name))
    return pids


def peak_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmHWM:\s+(\d+) kB", status)
        if m:
            total += int(m.group(1))
    return total / 1024


def wrk(port: int, path: str, conns: int, seconds: int, script: str | None) -> tuple[float, float]:
    cmd = [
        "wrk",
        "-t2",
        f"-c{conns}",
        f"-d{seconds}s",
        "--latency",
        f"http://127.0.0.1:{port}{path}",
    ]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    unit = {"B": 1 / 1e6, "KB": 1024 / 1e6, "MB": 1024**2 / 1e6, "GB": 1024**3 / 1e6}
    mbs = float(m.group(1)) * unit[m.group(2)] if m else 0.0  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"port {port} {path}: {errors.group(1)} non-2xx responses")
    return rps, mbs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seconds", nargs="?", type=int, default=6, help="duration of each wrk run")
    ap.add_argument("--origin-server", default="", help="override server.server for the origin")
    ap.add_argument("--only", default="", help="scenario letters to run, e.g. 'a' or 'ac'")
    args = ap.parse_args()
    root = BENCH / "media"
    make_media(root)
    size = (root / "big.mp4").stat().st_size
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    scripts = {}
    for name, tpl in (("range", RANGE_LUA), ("open", OPEN_LUA)):
        path = work / f"{name}.lua"
        path.write_text(tpl.format(size=size, seed=len(name)))
        scripts[name] = str(path)
    scenarios = [
        ("a) 64 KiB ranges, 64 conn", "/big.mp4", 64, scripts["range"], "req/s"),
        ("b) whole file, 4 conn", "/big.mp4", 4, None, "MB/s"),
        ("b2) open-ended bytes=N-, 4 conn", "/big.mp4", 4, scripts["open"], "MB/s"),
        ("c) 2 KB playlist, 64 conn", "/live.m3u8", 64, None, "req/s"),
    ]
    if args.only:
        scenarios = [sc for sc in scenarios if sc[0][0] in args.only]
    names = ["nginx", "origin", "baseline"]
    servers: dict[str, Server] = {}
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for name in names:
            servers[name] = start(name, root, work, args.origin_server)
        for name in names:  # warm caches and content hashes
            wrk(servers[name].port, "/big.mp4", 2, 1, scripts["range"])
            wrk(servers[name].port, "/live.m3u8", 2, 1, None)
        for rnd in range(2):
            for label, path, conns, script, unit in scenarios:
                for name in names if rnd == 0 else reversed(names):
                    rps, mbs = wrk(servers[name].port, path, conns, args.seconds, script)
                    results.setdefault((label, name), []).append(rps if unit == "req/s" else mbs)
                    print(
                        f"  round {rnd + 1} {label:34s} {name:9s} "
                        f"{rps if unit == 'req/s' else mbs:10.1f} {unit}",
                        flush=True,
                    )
        rss = {name: peak_rss_mb(s.proc.pid) for name, s in servers.items() if s.proc}
    finally:
        for s in servers.values():
            if s.proc and s.proc.poll() is None:
                os.killpg(s.proc.pid, signal.SIGTERM)
                try:
                    s.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(s.proc.pid, signal.SIGKILL)
    print(f"\nworkers: {WORKERS} each; wrk -t2; {args.seconds}s per run, 2 runs each (mean shown)")
    print(
        f"{'scenario':34s} {'nginx':>10s} {'origin':>10s} {'baseline':>10s} "
        f"{'orig/nginx':>11s} {'orig/base':>10s} {'base/nginx':>11s}"
    )
    for label, _, _, _, unit in scenarios:
        v = {n: statistics.mean(results[(label, n)]) for n in names}
        print(
            f"{label:34s} {v['nginx']:10.1f} {v['origin']:10.1f} {v['baseline']:10.1f} "
            f"{v['origin'] / v['nginx']:11.3f} {v['origin'] / v['baseline']:10.2f} "
            f"{v['baseline'] / v['nginx']:11.3f}   ({unit})"
        )
    print(
        f"{'d) peak RSS, all processes (MB)':34s} {rss['nginx']:10.1f} {rss['origin']:10.1f} "
        f"{rss['baseline']:10.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
