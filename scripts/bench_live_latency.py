"""Measure glass-to-glass-ish latency of the live LL-HLS channel in hls.js, from another origin.

For each part target (default 0.2 s, then 0.1 s) this starts `origin live --input testsrc` with the
embedded default channel (360p + 540p, 2 s segments) on a temporary media root, plays the
multivariant playlist in headless Chromium with hls.js (lowLatencyMode defaults unless --hls-config
or --variant says otherwise) and samples every second, after a warm-up:
  hls.latency      live edge (end of the newest part) minus currentTime, as hls.js computes it
  wall latency     Date.now() - hls.playingDate (PROGRAM-DATE-TIME of the frame on screen): the
                   age of the frame against the packager's wall-clock anchor (same machine clock)
and counts stalls ('waiting' after playback started). A side probe follows one media playlist by
blocking reload and measures how far PROGRAM-DATE-TIME runs ahead of publication ("pdt lead"),
which wall latency silently includes. Prints a table; --json writes every report.
Target (issue): median <= 1.0 s with zero stalls; floor ~0.8 s = PART-HOLD-BACK 0.6 s + one part.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
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
    lead = report["bench"]["pdt_lead"]
    return {
        "part_target": part_target,
        "hls.js config": variant,
        "latency med": lat["hls"]["median"],
        "latency p90": lat["hls"]["p90"],
        "wall med": lat["wall"]["median"],
        "wall p90": lat["wall"]["p90"],
        "pdt lead": lead,
        "wall+lead": round(lat["wall"]["median"] + lead, 3)
        if lead is not None and lat["wall"]["median"] is not None
        else None,
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


def newest_part_end(text: str) -> tuple[int, int, datetime] | None:
    """Given a media playlist, return (msn, part, PROGRAM-DATE-TIME of its end) of the last part."""
    msn, when, index = 0, None, 0
    last = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-SKIP:SKIPPED-SEGMENTS="):
            msn += int(line.split("=", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            when = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00"))
            index = 0
        elif line.startswith("#EXT-X-PART:") and when is not None:
            when += timedelta(seconds=float(line.split("DURATION=")[1].split(",")[0]))
            last = (msn, index, when)
            index += 1
        elif line and not line.startswith("#"):
            msn += 1
            index = 0
    return last


class PdtProbe(threading.Thread):
    """Follow one media playlist by blocking reload; measure PDT(end of newest part) - arrival.

    A positive lead means the playlist dates a part later than the moment it was published: the
    PROGRAM-DATE-TIME anchor is late by at least that much, and Date.now() - playingDate
    under-states the latency by the same amount. Independent of the player.
    """

    def __init__(self, url: str, warmup: float) -> None:
        super().__init__(daemon=True)
        self.url, self.warmup = url, warmup
        self.leads: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        last = None
        while not self.done.is_set():
            try:
                query = f"?_HLS_msn={last[0]}&_HLS_part={last[1] + 1}" if last else ""
                with urllib.request.urlopen(self.url + query, timeout=10) as resp:
                    text = resp.read().decode("utf-8")
                arrived = datetime.now(UTC)
            except OSError:
                time.sleep(0.2)
                continue
            newest = newest_part_end(text)
            if newest is None:
                time.sleep(0.2)
                continue
            if last is not None and time.monotonic() - started >= self.warmup:
                self.leads.append((newest[2] - arrived).total_seconds())
            last = newest

    def lead(self) -> float | None:
        return round(statistics.median(self.leads), 3) if self.leads else None


def run_once(
    cmd: list[str], args: argparse.Namespace, hls_config: dict[str, Any] | None
) -> tuple[dict[str, Any], tuple[float, ...]]:
    """Start the channel, wait for a complete segment, play it; return the report and load."""
    with origin_server(cmd, ["/live/test/index.m3u8"]) as server:
        # Measure steady state, not tune-in: wait until every media playlist exists.
        media = server.media_playlists("/live/test/index.m3u8")
        server.wait_ready(media)
        probe = PdtProbe(server.url(media[0]), args.warmup)
        probe.start()
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
        probe.done.set()
        probe.join(timeout=15)
        report["bench"] = {
            "pdt_lead": probe.lead(),
            "pdt_lead_samples": len(probe.leads),
            "wall_seconds": round(time.monotonic() - started, 1),
            "origin_log_tail": server.log(3000),
        }
    return report, load


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
    failures = 0
    reports: list[dict[str, Any]] = []
    for pt in args.part_targets.split(","):
        for name, hls_config in variants:
            cmd = ["live", "--input", "testsrc", "--name", "test", "--part-target", pt]
            cmd += ["--workers", "1"]
            if args.config:
                cmd += ["--config", os.path.abspath(args.config)]
            print(f"part target {pt} s, hls.js {name}: {args.seconds:.0f} s ...", flush=True)
            try:
                report, load = run_once(cmd, args, hls_config)
            except RuntimeError as exc:
                print(f"  failed: {exc}", file=sys.stderr, flush=True)
                failures += 1
                continue
            report["bench"]["part_target"] = pt
            report["bench"]["variant"] = name
            rows.append(row(pt, name, report, load))
            reports.append(report)
            fatal = report["errors"]["fatal"]
            if fatal:
                print(f"  fatal: {fatal[0]['details']} {fatal[0].get('reason')}", flush=True)
    print()
    print_table(rows)
    print("\nlatency = hls.latency (live edge - currentTime); wall = Date.now() - hls.playingDate;")
    print(f"sampled each second after a {args.warmup:.0f} s warm-up; target: median <= 1.0 s,")
    print("zero stalls. load1 = 1-minute load average at the end of the run. pdt lead = median of")
    print(
        "PDT(end of newest part) - its arrival by blocking reload: > 0 means PROGRAM-DATE-TIME is"
    )
    print("anchored late and wall under-states latency; wall+lead = wall corrected by that amount.")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
        print(f"full reports: {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
