"""`origin package` vs plain ffmpeg on the same 60 s 1080p H.264/AAC clip (run by bench-package).

(a) `origin package --copy` vs `ffmpeg -i in.mp4 -c copy -f hls -hls_segment_type fmp4
    -hls_time 4 -hls_playlist_type vod`. That baseline writes HLS only; origin also writes the
    fast-start MP4 (a second copy of the media, rewritten once more to put moov first), so:
(a2) the same `origin package --copy` vs ONE ffmpeg run writing the same outputs: that HLS
    plus a `+faststart` MP4 of the same streams. Its ratio is the cost of origin itself.
(a3) where the time goes: each step of `origin package --copy` run on its own (interpreter
    and imports, locating ffmpeg, the probe, origin's own ffmpeg command with its fMP4 sent to
    a file, with and without the fast-start MP4) beside the plain-ffmpeg figures; from these,
    the HLS part alone: origin's time less what the MP4 adds to its ffmpeg run, vs (a).
(a4) (a) and (a2) again with two settings of this environment lifted, as in a normal install:
    ORIGIN_FFMPEG set (so finding ffmpeg does not import imageio-ffmpeg and run
    `ffmpeg -version`) and Python's bytecode cache on (PYTHONDONTWRITEBYTECODE=1 makes every
    run compile the project's modules; here the cache goes to .bench/pycache).
(b) `origin package --ladder 1080:5000,720:2800,480:1400` vs one hand-written ffmpeg command
    making the same renditions: one decode, split, three scalers and libx264 encoders with the
    same preset, bitrates and forced keyframes, AAC per output, fMP4 HLS out.
Rounds alternate ours/baseline; the median wall time of each is compared (3 rounds by default).
The machine should be otherwise idle: on 2 cores, another busy process doubles every figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packager.ffmpeg_path import find_ffmpeg  # noqa: E402
from packager.ladder import build_copy_args  # noqa: E402
from packager.probe import parse_probe  # noqa: E402

BENCH = ROOT / ".bench"
SRC = BENCH / "vod-src-1080p-60s.mp4"
WORK = BENCH / "package"
ORIGIN = [str(Path(sys.executable).parent / "origin")]
PRESET = "veryfast"  # config.toml [package] preset default
LADDER = [(1920, 1080, 5000), (1280, 720, 2800), (854, 480, 1400)]


def make_source(ffmpeg: str) -> None:
    if SRC.exists():
        return
    BENCH.mkdir(exist_ok=True)
    tmp = SRC.with_suffix(".tmp.mp4")
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "60",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.rename(SRC)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for _, h, _ in LADDER:
        (WORK / f"{h}p").mkdir()  # the hls muxer does not create directories
    start = time.perf_counter()
    # Exit status 1 is normal for the probe step (`ffmpeg -i` with no output); others must be 0.
    run = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=WORK, env=env)
    elapsed = time.perf_counter() - start
    if run.returncode not in ((0, 1) if cmd[-2:-1] == ["-i"] else (0,)):
        sys.exit(f"failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr.decode()[-2000:]}")
    return elapsed


def median_of(cmd: list[str], rounds: int) -> float:
    return statistics.median(timed(cmd) for _ in range(rounds))


def baseline_copy(ffmpeg: str, with_mp4: bool = False) -> list[str]:
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(SRC), "-c", "copy",
        "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "4", "-hls_playlist_type", "vod",
        str(WORK / "index.m3u8"),
    ]  # fmt: skip
    if with_mp4:  # the same streams, as the progressive file origin also writes
        cmd += ["-c", "copy", "-f", "mp4", "-movflags", "+faststart", str(WORK / "title.mp4")]
    return cmd


def copy_steps(ffmpeg: str, rounds: int, mine: float, base: float) -> None:
    """Time each step of `origin package --copy` on its own, and the ffmpeg-only pieces."""
    probe = [ffmpeg, "-hide_banner", "-nostdin", "-i", str(SRC)]
    info = parse_probe(subprocess.run(probe, capture_output=True, text=True).stderr)
    ours_ffmpeg = build_copy_args(ffmpeg, str(SRC), info, str(WORK / "frag.mp4"),
                                  str(WORK / "title.mp4"))  # fmt: skip
    py = sys.executable
    steps = {
        "start": ("python start alone (python -c pass)", [py, "-c", "pass"]),
        "imports": ("python start + imports of `origin package`",
                    [py, "-c", "import origin.cli, packager.vod"]),
        "find": ("python start + find_ffmpeg() (imageio-ffmpeg when ffmpeg is not on PATH)",
                 [py, "-c", "from packager.ffmpeg_path import find_ffmpeg; find_ffmpeg()"]),
        "probe": ("probe: ffmpeg -i (origin runs it beside the remux for --copy)", probe),
        "ours": ("origin's ffmpeg command, fMP4 to a file instead of the pipe", ours_ffmpeg),
        "fmp4": ("  the same without the fast-start MP4 (fMP4 only)", _without_mp4(ours_ffmpeg)),
        "mp4": ("  the fast-start MP4 alone", _mp4_only(ffmpeg)),
        "hls": ("ffmpeg HLS (baseline a)", baseline_copy(ffmpeg)),
        "same": ("ffmpeg HLS + fast-start MP4 (baseline a2)", baseline_copy(ffmpeg, True)),
    }  # fmt: skip
    print(f"(a3) where the time goes (median of {rounds} each):")
    t: dict[str, float] = {}
    for key, (label, cmd) in steps.items():
        t[key] = median_of(cmd, rounds)
        print(f"     {t[key]:6.3f}s  {label}")
    mp4 = t["ours"] - t["fmp4"]
    print(
        f"     HLS part alone: origin {mine:.3f}s - {mp4:.3f}s the MP4 adds to its ffmpeg run"
        f" = {mine - mp4:.3f}s vs ffmpeg HLS {base:.3f}s: ratio {(mine - mp4) / base:.2f}x"
    )


def _without_mp4(cmd: list[str]) -> list[str]:
    # build_copy_args: ... <fMP4 output URL> <stream options> -f mp4 -movflags +faststart <URL>
    first_output = next(i for i, a in enumerate(cmd) if a.startswith("file:"))
    return cmd[: first_output + 1]


def _mp4_only(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(SRC), "-map", "0:v:0",
            "-map", "0:a:0", "-c", "copy", "-f", "mp4", "-movflags", "+faststart",
            str(WORK / "title.mp4")]  # fmt: skip


def baseline_ladder(ffmpeg: str) -> list[str]:
    n = len(LADDER)
    graph = [f"[0:v:0]split={n}" + "".join(f"[s{i}]" for i in range(n))]
    graph += [f"[s{i}]scale={w}:{h},setsar=1,format=yuv420p[v{i}]" for i, (w, h, _) in
              enumerate(LADDER)]  # fmt: skip
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(SRC),
           "-filter_complex", ";".join(graph)]  # fmt: skip
    for i, (_, h, kbps) in enumerate(LADDER):
        cmd += [
            "-map", f"[v{i}]", "-map", "0:a:0",
            "-c:v", "libx264", "-preset", PRESET, "-profile:v", "high", "-b:v", f"{kbps}k",
            "-maxrate", f"{kbps * 11 // 10}k", "-bufsize", f"{kbps * 2}k", "-g", "240",
            "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*4)",
            "-c:a", "aac", "-b:a", "128k",
            "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "4",
            "-hls_playlist_type", "vod", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(WORK / f"{h}p" / "seg%d.m4s"),
            str(WORK / f"{h}p" / "index.m3u8"),
        ]  # fmt: skip
    return cmd


def ours(extra: list[str]) -> list[str]:
    return [*ORIGIN, "package", str(SRC), "--out", str(WORK / "title"), "--quiet", *extra]


def compare(
    label: str,
    mine: list[str],
    base: list[str],
    rounds: int,
    target: float | None,
    env: dict[str, str] | None = None,
) -> tuple[float, float]:
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(mine, env))
        b.append(timed(base))
    ma, mb = statistics.median(a), statistics.median(b)
    verdict = (
        ""
        if target is None
        else (f"target <= {target}x, {'ok' if ma / mb <= target else 'OVER TARGET'}; ")
    )
    print(f"{label}: origin package {ma:.3f}s  ffmpeg {mb:.3f}s  ratio {ma / mb:.2f}x "
          f"({verdict}medians of {rounds}: "
          f"{[round(x, 3) for x in a]} vs {[round(x, 3) for x in b]})")  # fmt: skip
    return ma, mb


def installed_env(ffmpeg: str) -> dict[str, str]:
    """This environment as a normal install would have it: see (a4)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "ORIGIN_FFMPEG": ffmpeg, "PYTHONPYCACHEPREFIX": str(BENCH / "pycache")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copy-rounds", type=int, default=3)
    parser.add_argument("--ladder-rounds", type=int, default=1)
    parser.add_argument("--copy-only", action="store_true", help="skip (b), the slow one")
    args = parser.parse_args()
    ffmpeg = find_ffmpeg()
    make_source(ffmpeg)
    print(f"input: {SRC.relative_to(ROOT)} (60 s 1920x1080 30 fps H.264 + AAC), preset {PRESET}")
    mine = ours(["--copy"])
    hls, same = baseline_copy(ffmpeg), baseline_copy(ffmpeg, with_mp4=True)
    a_mine, a_base = compare("(a) --copy", mine, hls, args.copy_rounds, 1.3)
    compare("(a2) --copy, same outputs", mine, same, args.copy_rounds, None)
    copy_steps(ffmpeg, args.copy_rounds, a_mine, a_base)
    env = installed_env(ffmpeg)
    timed(mine, env)  # fills the bytecode cache
    compare("(a4) --copy, as installed", mine, hls, args.copy_rounds, 1.3, env)
    compare("(a4) --copy, as installed, same outputs", mine, same, args.copy_rounds, None, env)
    if args.copy_only:
        shutil.rmtree(WORK, ignore_errors=True)
        return
    ladder = ",".join(f"{h}:{k}" for _, h, k in LADDER)
    compare("(b) 3-rung ladder", ours(["--ladder", ladder]), baseline_ladder(ffmpeg),
            args.ladder_rounds, 1.1)  # fmt: skip
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
