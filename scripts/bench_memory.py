"""Memory under slow clients: N concurrent clients each download a 100 MB file at a throttled rate.

Starts the real origin (default config, or --server), opens N connections that each read at
--rate KB/s with a small receive buffer, samples the server's RSS (all its processes) every
0.2 s for --seconds, and prints the peak. The goal (issue 2): 200 clients, peak RSS < 150 MB.
Run: scripts/bench-memory [--clients 200] [--seconds 20] [--server uvicorn|granian|hypercorn]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_http import free_port, peak_rss_mb, tree_pids, wait_ready  # noqa: E402

SIZE = 100 * 1024 * 1024


def current_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        if m:
            total += int(m.group(1))
    return total / 1024


async def slow_client(port: int, rate: int, stop: float, stats: dict[str, int]) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /big100.mp4 HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    step = 0.1
    while time.monotonic() < stop:
        data = await reader.read(int(rate * step))
        if not data:
            break
        stats["bytes"] += len(data)
        await asyncio.sleep(step)
    writer.close()


async def run(port: int, pid: int, clients: int, rate: int, seconds: float) -> tuple[float, int]:
    stats = {"bytes": 0}
    stop = time.monotonic() + seconds
    tasks = [asyncio.create_task(slow_client(port, rate, stop, stats)) for _ in range(clients)]
    peak = 0.0
    while time.monotonic() < stop:
        peak = max(peak, current_rss_mb(pid))
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks, return_exceptions=True)
    return peak, stats["bytes"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=256 * 1024, help="bytes/s per client")
    ap.add_argument("--server", default="")
    args = ap.parse_args()
    media = ROOT / ".bench" / "media"
    media.mkdir(parents=True, exist_ok=True)
    big = media / "big100.mp4"
    if not big.exists() or big.stat().st_size != SIZE:
        with open(big.with_suffix(".tmp"), "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                f.write(block)
        big.with_suffix(".tmp").rename(big)
    (media / "live.m3u8").exists() or (media / "live.m3u8").write_text("#EXTM3U\n")
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "origin"),
        "serve",
        "--no-live",
        "--config",
        str(ROOT / "config.toml"),
        "--media-root",
        str(media),
        "--port",
        str(port),
        "--no-access-log",
    ]
    if args.server:
        cmd += ["--server", args.server]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_ready(port, "/live.m3u8")
        idle = current_rss_mb(proc.pid)
        peak, nbytes = asyncio.run(run(port, proc.pid, args.clients, args.rate, args.seconds))
        hwm = peak_rss_mb(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    print(
        f"server: {args.server or 'default'}; {args.clients} clients x 100 MB file at "
        f"{args.rate // 1024} KB/s each for {args.seconds:.0f}s; received {nbytes / 1e6:.0f} MB"
    )
    print(
        f"RSS idle {idle:.1f} MB, peak sampled {peak:.1f} MB, peak VmHWM (sum) {hwm:.1f} MB "
        f"-> {'OK' if hwm < 150 else 'OVER'} (goal < 150 MB)"
    )
    return 0 if hwm < 150 else 1


if __name__ == "__main__":
    sys.exit(main())
