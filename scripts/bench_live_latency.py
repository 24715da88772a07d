"""Measure glass-to-glass-ish latency of the live LL-HLS channel in hls.js, from another origin.

For each part target (default 0.2 s, then 0.1 s) this starts `origin live --input testsrc` with the
embedded default channel (360p + 540p, 2 s segments) on a temporary media root, plays the
multivariant playlist in headless Chromium with hls.js (lowLatencyMode defaults unless --hls-config
or --variant says otherwise) and samples every second, after a warm-up:
  hls.latency      live edge (end of the newest part) minus currentTime, as hls.js computes it
  wall latency     Date.now() - hls.playingDate (PROGRAM-DATE-TIME of the frame on screen): the
                   age of the frame against the packager's wall-clock anchor (same machine clock)
and counts stalls ('waiting' after playback started). Prints a table; --json writes every report.
Target (issue): median <= 1.0 s with zero stalls; floor ~0.8 s = PART-HOLD-BACK 0.6 s + one part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser_support import missing_tools, origin_server, run_player  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60, help="play time per run (default 60)")
    p.add_argument("--warmup", type=float, default=10, help="seconds not sampled (default 10)")
    p.add_argument(
        "--part-targets", default="0.2,0.1", help="comma-separated part targets (default 0.2,0.1)"
    )
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="also run with this hls.js config (repeatable); the defaults always run first",
    )
    p.add_argument("--level", type=int, help="force hls.js level N (default: ABR)")
    p.add_argument("--config", help="origin config file (default: the embedded defaults)")
    p.add_argument("--json", metavar="PATH", help="write the full player reports here")
    return p.parse_args()


def row(
    part_target: str, variant: str, report: dict[str, Any], load: tuple[float, ...]
) -> dict[str, Any]:
    lat = report["latency"]
    return {
        "part_target": part_target,
        "hls.js config": variant,
        "latency med": lat["hls"]["median"],
        "latency p90": lat["hls"]["p90"],
        "wall med": lat["wall"]["median"],
        "wall p90": lat["wall"]["p90"],
        "target": lat["target"],
        "stalls": report["stalls"]["count"],
        "stalled s": report["stalls"]["total_seconds"],
        "buf-stall err": report["stalls"]["buffer_stalled_errors"],
        "fatal": len(report["errors"]["fatal"]),
        "non-fatal": report["errors"]["non_fatal_count"],
        "played s": report["playback"]["advanced"],
        "dropped": report["playback"]["dropped_frames"],
        "parts": report["requests"]["parts_loaded"],
        "load1": round(load[0], 2),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    cells = [[("-" if r[c] is None else str(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for x in cells:
        print("  ".join(v.rjust(w) for v, w in zip(x, widths, strict=True)))


def main() -> int:
    args = parse_args()
    missing = missing_tools()
    if missing:
        print("bench-live-latency: missing " + "; ".join(missing), file=sys.stderr)
        return 1
    variants: list[tuple[str, dict[str, Any] | None]] = [("defaults", None)]
    for spec in args.variant:
        name, _, text = spec.partition("=")
        variants.append((name, json.loads(text)))
    rows: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for pt in args.part_targets.split(","):
        for name, hls_config in variants:
            cmd = ["live", "--input", "testsrc", "--name", "test", "--part-target", pt]
            cmd += ["--workers", "1"]
            if args.config:
                cmd += ["--config", os.path.abspath(args.config)]
            print(f"part target {pt} s, hls.js {name}: {args.seconds:.0f} s ...", flush=True)
            ready = ["/live/test/index.m3u8"]
            with origin_server(cmd, ready) as server:
                # Measure steady state, not tune-in: wait for a media playlist to exist.
                server.wait_ready(["/live/test/360p/index.m3u8"])
                extra = ["--level", str(args.level)] if args.level is not None else []
                started = time.monotonic()
                report = run_player(
                    server.url("/live/test/index.m3u8"),
                    args.seconds,
                    "live",
                    *extra,
                    hls_config=hls_config,
                    warmup=args.warmup,
                )
                load = os.getloadavg()
                report["bench"] = {
                    "part_target": pt,
                    "variant": name,
                    "wall_seconds": round(time.monotonic() - started, 1),
                    "origin_log_tail": server.log(3000),
                }
            rows.append(row(pt, name, report, load))
            reports.append(report)
            fatal = report["errors"]["fatal"]
            if fatal:
                print(f"  fatal: {fatal[0]['details']} {fatal[0].get('reason')}", flush=True)
    print()
    print_table(rows)
    print("\nlatency = hls.latency (live edge - currentTime); wall = Date.now() - hls.playingDate;")
    print(f"sampled each second after a {args.warmup:.0f} s warm-up; target: median <= 1.0 s,")
    print("zero stalls. load1 = 1-minute load average at the end of the run.")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
        print(f"full reports: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
