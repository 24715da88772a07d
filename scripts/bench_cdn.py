"""Live LL-HLS through the nginx CDN edge (docs/nginx-cdn.conf) vs straight to the origin.

Same origin process, same channel, one phase straight to the origin then one through the edge:
  origin load     requests/s the origin answered (its /metrics, by object kind), and what the
                  clients sent, with N simultaneous players;
  delivery        how late each player learns of each part: receipt of the blocking playlist
                  naming part (msn, i) minus the moment the packager published it;
  latency         (--live real) hls.js in headless Chromium: hls.latency and wall-clock latency
                  (Date.now() - playingDate), one real player among the N.

--live synthetic (default): packager.synthetic publishes one part every PART-TARGET in real time
(TD 2 s, 10 parts of 0.2 s: the product's defaults) to the real `origin serve` over the hub. The
players are N emulated hls.js lowLatencyMode clients (Python, asyncio, one keep-alive HTTP/1.1
client each): a blocking reload for the hinted part (_HLS_msn/_HLS_part), then every new part it
names, like hls.js. Synthetic parts are not media, so no real player can play them.
--live real: `origin live --input testsrc` (needs packager/live.py); one hls.js player
(tests/browser/player.mjs) + N-1 emulated clients, direct then through the edge.

Run: scripts/bench-cdn [--players 20] [--seconds 30] [--warmup 8] [--live synthetic|real]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

PART = re.compile(rb'#EXT-X-PART:[^\n]*URI="part(\d+)\.(\d+)\.m4s"')
HINT = re.compile(rb'#EXT-X-PRELOAD-HINT:[^\n]*URI="part(\d+)\.(\d+)\.m4s"')


# -- the emulated players (run in a child process: `bench_cdn.py --client ...`) -------------------


async def emulate_one(base: str, path: str, until: float, events: list[list[Any]]) -> None:
    """One hls.js-like LL-HLS client on the media playlist `path` until `until` (time.time())."""
    import httpx

    folder = path.rsplit("/", 1)[0]
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        nxt: tuple[int, int] | None = None
        while time.time() < until:
            if nxt is None:
                r = await client.get(path)
                m = HINT.search(r.content) if r.status_code == 200 else None
                if m is None:
                    await asyncio.sleep(0.2)
                    continue
                nxt = (int(m[1]), int(m[2]))
            msn, part = nxt
            r = await client.get(f"{path}?_HLS_msn={msn}&_HLS_part={part}")
            got = time.time()
            events.append(
                ["playlist", msn, part, got, r.status_code, r.headers.get("x-cache-status")]
            )
            if r.status_code != 200:
                nxt = None
                await asyncio.sleep(0.1)
                continue
            hint = HINT.search(r.content)
            parts = [(int(a), int(b)) for a, b in PART.findall(r.content)]
            for pm, pp in (x for x in parts if x >= nxt):
                pr = await client.get(f"{folder}/part{pm}.{pp}.m4s")
                events.append(["part", pm, pp, time.time(), pr.status_code, None])
            nxt = (int(hint[1]), int(hint[2])) if hint else None


async def emulate(base: str, path: str, players: int, seconds: float) -> list[list[Any]]:
    events: list[list[Any]] = []
    until = time.time() + seconds
    await asyncio.gather(*(emulate_one(base, path, until, events) for _ in range(players)))
    return events


def client_main(args: argparse.Namespace) -> int:
    events = asyncio.run(emulate(args.base, args.path, args.players, args.seconds))
    Path(args.out).write_text(json.dumps(events))
    return 0


# -- measuring -------------------------------------------------------------------------------------


def metrics(base_url: str) -> dict[str, int]:
    """origin_requests_total by kind (status summed), from the origin's /metrics."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, int] = {}
    for kind, count in re.findall(
        r'origin_requests_total\{status="\d+",kind="([^"]+)"\} (\d+)', text
    ):
        out[kind] = out.get(kind, 0) + int(count)
    return out


def quantiles(xs: list[float]) -> dict[str, float | None]:
    if len(xs) < 2:
        return {"n": len(xs), "p50": None, "p95": None, "max": None}
    q = statistics.quantiles(xs, n=100)
    return {"n": len(xs), "p50": round(q[49], 1), "p95": round(q[94], 1), "max": round(max(xs), 1)}


def start_clients(
    base: str, path: str, players: int, seconds: float, procs: int, work: Path
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    started = []
    for i in range(procs):
        n = players // procs + (1 if i < players % procs else 0)
        if n == 0:
            continue
        out = work / f"events-{time.monotonic_ns()}-{i}.json"
        argv = [sys.executable, __file__, "--client", "--base", base, "--path", path]
        argv += ["--players", str(n), "--seconds", str(seconds), "--out", str(out)]
        started.append((subprocess.Popen(argv), out))
    return started


def collect_clients(started: list[tuple[subprocess.Popen[bytes], Path]]) -> list[list[Any]]:
    events: list[list[Any]] = []
    for proc, out in started:
        if proc.wait() != 0:
            raise RuntimeError(f"emulated clients exited with {proc.returncode}")
        events += json.loads(out.read_text())
    return events


def summarise(
    name: str,
    events: list[list[Any]],
    published: dict[tuple[int, int], float] | None,
    window: tuple[float, float],
    origin_delta: dict[str, int],
    seconds: float,
) -> dict[str, Any]:
    start, end = window
    inside = [e for e in events if start <= e[3] < end]
    sent: dict[str, int] = {}
    statuses: dict[str, int] = {}
    cache: dict[str, int] = {}
    for kind, _, _, _, status, cs in inside:
        sent[kind] = sent.get(kind, 0) + 1
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if kind == "playlist" and cs:
            cache[cs] = cache.get(cs, 0) + 1
    row: dict[str, Any] = {
        "phase": name,
        "client_req_per_s": round(len(inside) / seconds, 1),
        "client_by_kind_per_s": {k: round(v / seconds, 1) for k, v in sorted(sent.items())},
        "client_statuses": statuses,
        "edge_cache_status_playlists": cache or None,
        "origin_req_per_s": round(sum(origin_delta.values()) / seconds, 1),
        "origin_by_kind_per_s": {
            k: round(v / seconds, 1) for k, v in sorted(origin_delta.items()) if v
        },
    }
    if published is not None:
        for kind in ("playlist", "part"):
            delays = [
                (e[3] - published[(e[1], e[2])]) * 1000
                for e in inside
                if e[0] == kind and e[4] == 200 and (e[1], e[2]) in published
            ]
            row[f"delivery_{kind}_ms"] = quantiles(delays)
    return row


def edge_changes(args: argparse.Namespace) -> dict[str, str]:
    """Edits to the rendered template that --lock asks for."""
    if args.lock == "on":
        return {}
    return {"proxy_cache_lock on;": "proxy_cache_lock off;"}


# -- the two live sources --------------------------------------------------------------------------


async def run_synthetic(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from cdn_support import Nginx, Origin

    from packager.hub import HubServer
    from packager.synthetic import FakeChannel

    root = work / "media"
    root.mkdir()
    sock = str(work / "hub.sock")
    hub = HubServer(sock)
    await hub.start()
    channel = FakeChannel(root, hub, name="ch", td=2, parts_per_segment=10)
    channel.advance(10 * 4)  # four segments before anyone looks
    published: dict[tuple[int, int], float] = {}
    stop = asyncio.Event()

    async def publish() -> None:
        period = 0.2
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            published[(channel.msn, channel.part)] = time.time()
            channel.advance(1)

    publisher = asyncio.create_task(publish())
    origin = await asyncio.to_thread(Origin, root, work, sock)
    cdn = await asyncio.to_thread(
        Nginx, origin.base_url, work / "nginx", args.nginx_workers, edge_changes(args)
    )
    rows = []
    try:
        for name, base in (("direct", origin.base_url), ("cdn", cdn.base_url)):
            print(f"{name}: {args.players} emulated LL-HLS players for {args.seconds:.0f} s ...")
            started = start_clients(
                base, "/live/ch/low/index.m3u8", args.players, args.seconds, args.procs, work
            )
            await asyncio.sleep(args.warmup)
            before, t0 = metrics(origin.base_url), time.time()
            await asyncio.sleep(args.seconds - args.warmup - 1)
            after, t1 = metrics(origin.base_url), time.time()
            events = await asyncio.to_thread(collect_clients, started)
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            delta["page"] = max(0, delta.get("page", 0) - 1)  # our own /metrics request
            rows.append(summarise(name, events, published, (t0, t1), delta, t1 - t0))
            await asyncio.sleep(2)  # let the blocked requests of the last phase drain
    finally:
        stop.set()
        await publisher
        cdn.stop()
        origin.stop()
        await hub.close()
    return rows


def run_real(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from browser_support import missing_tools, origin_server, run_player
    from cdn_support import Nginx

    missing = missing_tools()
    if missing:
        raise SystemExit("bench-cdn --live real needs: " + "; ".join(missing))
    config = work / "config.toml"
    config.write_text(
        '[[live]]\nname = "t"\ninput = "testsrc"\nframe_rate = 30\nsegment_duration = 2\n'
        'part_target = "0.2"\naudio_kbps = 64\nrenditions = [\n'
        '  { name = "180p", width = 320, height = 180, video_kbps = 400 },\n'
        '  { name = "270p", width = 480, height = 270, video_kbps = 700 },\n]\n'
    )
    argv = ["live", "--input", "testsrc", "--name", "t", "--config", str(config), "--workers", "1"]
    rows = []
    with origin_server(
        argv, ["/live/t/index.m3u8", "/live/t/180p/index.m3u8"], work / "media"
    ) as srv:
        cdn = Nginx(srv.base_url, work / "nginx", args.nginx_workers, edge_changes(args))
        try:
            for name, base in (("direct", srv.base_url), ("cdn", cdn.base_url)):
                print(f"{name}: hls.js + {args.players - 1} emulated players, {args.seconds:.0f} s")
                started = start_clients(
                    base,
                    "/live/t/180p/index.m3u8",
                    args.players - 1,
                    args.seconds,
                    args.procs,
                    work,
                )
                before, t0 = metrics(srv.base_url), time.time()
                report = run_player(
                    base + "/live/t/index.m3u8", args.seconds, "live", "--level", "0",
                    warmup=args.warmup,
                )  # fmt: skip
                after, t1 = metrics(srv.base_url), time.time()
                events = collect_clients(started)
                delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                row = summarise(name, events, None, (t0, t1), delta, t1 - t0)
                lat = report["latency"]
                row["hls.latency"] = lat["hls"]
                row["wall_latency"] = lat["wall"]
                row["stalls"] = report["stalls"]["count"]
                row["fatal"] = report["errors"]["fatal"]
                rows.append(row)
                time.sleep(2)
        finally:
            cdn.stop()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30, help="per phase (default 30)")
    ap.add_argument("--warmup", type=float, default=8, help="not measured (default 8)")
    ap.add_argument("--live", choices=("synthetic", "real"), default="synthetic")
    ap.add_argument("--procs", type=int, default=1, help="client processes (default 1)")
    ap.add_argument("--nginx-workers", default="1", help="nginx worker_processes (default 1)")
    ap.add_argument(
        "--lock",
        choices=("on", "off"),
        default="on",
        help="proxy_cache_lock at the edge (default on, as docs/nginx-cdn.conf)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write the rows here")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        return client_main(args)
    if not os.access(os.environ.get("NGINX", "/usr/sbin/nginx"), os.X_OK):
        raise SystemExit("bench-cdn needs nginx (apt-get install nginx)")
    with tempfile.TemporaryDirectory(prefix="bench-cdn-") as tmp:
        work = Path(tmp)
        if args.live == "synthetic":
            rows = asyncio.run(run_synthetic(args, work))
        else:
            rows = run_real(args, work)
    for row in rows:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
