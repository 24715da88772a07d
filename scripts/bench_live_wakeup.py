"""Wake-up: N requests blocked on the next part; time from publication to the last response.

The bench process plays the packager: it runs the hub (packager.hub.HubServer) and a synthetic
channel (packager.synthetic), and starts the real `origin serve` (default workers) mirroring
that hub. Client processes open N connections, each sending a blocking playlist request for the
next part (`_HLS_msn`/`_HLS_part`), and wait. When all are parked, the bench samples the server's
memory, publishes the part, and every client records when its full response arrived.
Prints p50/p95/p99/max of (arrival - publication) and memory per blocked request.
Goal (issue 3): p99 ≤ 50 ms with 2,000 blocked requests; ≤ 20 KB per blocked request.
Run: scripts/bench-live-wakeup [--requests 2000] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

CLIENT = r"""
import asyncio, json, resource, sys, time
port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
arrivals, statuses = [], {}
async def one():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await r.readexactly(length)
    arrivals.append(time.time())
    code = head.split(b" ")[1].decode()
    statuses[code] = statuses.get(code, 0) + 1
    w.close()
async def main():
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(one()))
        if i % 100 == 99:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    print("READY", flush=True)
    await asyncio.gather(*tasks)
    print(json.dumps({"arrivals": arrivals, "statuses": statuses}), flush=True)
asyncio.run(main())
"""


async def run(requests: int, clients: int) -> int:
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
        [str(Path(sys.executable).parent / "origin"), "serve", "--no-live", "--no-access-log",
         "--media-root", str(media), "--port", str(port)],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(wait_ready, port, "/live/ch/low/index.m3u8")
        await asyncio.sleep(1.0)
        idle = current_rss_mb(server.pid)
        path = f"/live/ch/low/index.m3u8?_HLS_msn={channel.msn}&_HLS_part={channel.part}"
        per = requests // clients
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", CLIENT, str(port), str(per), path,
                stdout=asyncio.subprocess.PIPE,
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
            result = json.loads(await p.stdout.readline())
            arrivals += result["arrivals"]
            for k, v in result["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
            await p.wait()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        await hub.close()
    waits = sorted((a - published) * 1000 for a in arrivals)
    q = statistics.quantiles(waits, n=100)
    print(f"{len(waits)} blocked requests ({clients} client processes), statuses {statuses}")
    print(f"publication -> response: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"p99 {q[98]:.1f} ms, max {waits[-1]:.1f} ms   (goal p99 <= 50 ms)")
    per_req_kb = (blocked - idle) * 1024 / max(1, len(waits))
    print(f"server RSS idle {idle:.1f} MB, with requests parked {blocked:.1f} MB -> "
          f"{per_req_kb:.1f} KB per blocked request   (goal <= 20 KB)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    return asyncio.run(run(args.requests, args.clients))


if __name__ == "__main__":
    sys.exit(main())
