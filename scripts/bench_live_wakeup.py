"""Wake-up: N requests blocked on the next part; time from publication to the last response.

The bench process plays the packager: it runs the hub (packager.hub.HubServer) and a synthetic
channel (packager.synthetic), and starts the real `origin serve` (default workers) mirroring
that hub. Client processes open N connections, each sending a blocking playlist request for the
next part (`_HLS_msn`/`_HLS_part`), and wait. When all are parked, the bench samples the server's
memory, publishes the part, and every client records when its full response arrived.
Prints p50/p95/p99/max of (arrival - publication) and memory per blocked request.
Goal (issue 3): p99 ≤ 50 ms with 2,000 blocked requests; ≤ 20 KB per blocked request.
The clients are a small C program (scripts/c/blocked_clients.c, built with gcc): in production
players sit on other machines, so receiving must not eat the 2 cores the server is measured on.
Run: scripts/bench-live-wakeup [--requests 2000] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_http import free_port, wait_ready  # noqa: E402
from bench_memory import current_rss_mb  # noqa: E402

from packager.hub import HubServer  # noqa: E402
from packager.synthetic import FakeChannel  # noqa: E402

CLIENT_SOURCE = ROOT / "scripts" / "c" / "blocked_clients.c"


def build_client() -> Path:
    """Compile the C client (players live on other machines: receiving must cost ~nothing)."""
    out = ROOT / ".bench" / "blocked_clients"
    if not out.exists() or out.stat().st_mtime < CLIENT_SOURCE.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-O2", "-o", str(out), str(CLIENT_SOURCE)], check=True)
    return out


async def run(requests: int, clients: int, server_name: str) -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    media = Path(tempfile.mkdtemp(prefix="wakeup-"))
    sock = str(media.parent / f"{media.name}.sock")
    hub = HubServer(sock)
    await hub.start()
    channel = FakeChannel(media, hub, td=2, parts_per_segment=10)
    channel.advance(10 * 7 + 2)  # seven segments and two parts of the next
    port = free_port()
    env = dict(os.environ, ORIGIN_HUB_SOCKET=sock)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "origin"),
            "serve",
            "--no-live",
            "--media-root",
            str(media),
            "--port",
            str(port),
            *(["--server", server_name] if server_name else []),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(wait_ready, port, "/live/ch/low/index.m3u8")
        await asyncio.sleep(1.0)
        idle = current_rss_mb(server.pid)
        path = f"/live/ch/low/index.m3u8?_HLS_msn={channel.msn}&_HLS_part={channel.part}"
        per = requests // clients
        client = build_client()
        procs = [
            await asyncio.create_subprocess_exec(
                str(client), str(port), str(per), path, stdout=asyncio.subprocess.PIPE
            )
            for _ in range(clients)
        ]
        for p in procs:
            assert p.stdout is not None
            line = await p.stdout.readline()
            assert line.strip() == b"READY", line
        await asyncio.sleep(1.0)  # let every request reach the server and park
        blocked = current_rss_mb(server.pid)
        # Publication = the moment the hub sends the rendition's update (its part is on disk).
        stamps: list[float] = []
        send_view = hub.publish

        def stamped(view: object) -> None:
            stamps.append(time.time())
            send_view(view)  # type: ignore[arg-type]

        hub.publish = stamped  # type: ignore[method-assign]
        channel.advance(1)
        published = stamps[0]
        arrivals: list[float] = []
        statuses: dict[str, int] = {}
        for p in procs:
            assert p.stdout is not None
            for line in (await p.stdout.read()).decode().splitlines():
                stamp, code = line.split()
                arrivals.append(float(stamp))
                statuses[code] = statuses.get(code, 0) + 1
            await p.wait()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        await hub.close()
    waits = sorted((a - published) * 1000 for a in arrivals)
    q = statistics.quantiles(waits, n=100)
    print(f"{len(waits)} blocked requests ({clients} client processes), statuses {statuses}")
    print(
        f"publication -> response: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
        f"p99 {q[98]:.1f} ms, max {waits[-1]:.1f} ms   (goal p99 <= 50 ms)"
    )
    per_req_kb = (blocked - idle) * 1024 / max(1, len(waits))
    print(
        f"server RSS idle {idle:.1f} MB, with requests parked {blocked:.1f} MB -> "
        f"{per_req_kb:.1f} KB per blocked request   (goal <= 20 KB)"
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--server", default="", help="uvicorn, hypercorn or granian (default: config)")
    args = ap.parse_args()
    return asyncio.run(run(args.requests, args.clients, args.server))


if __name__ == "__main__":
    sys.exit(main())
