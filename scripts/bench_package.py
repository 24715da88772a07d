"""`origin package` vs plain ffmpeg on the same 60 s 1080p H.264/AAC clip (run by bench-package).

(a) `origin package --copy` vs `ffmpeg -i in.mp4 -c copy -f hls -hls_segment_type fmp4
    -hls_time 4 -hls_playlist_type vod`.
(b) `origin package --ladder 1080:5000,720:2800,480:1400` vs one hand-written ffmpeg command
    making the same renditions: one decode, split, three scalers and libx264 encoders with the
    same preset, bitrates and forced keyframes, AAC per output, fMP4 HLS out.
Rounds alternate ours/baseline; the median wall time of each is compared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packager.ffmpeg_path import find_ffmpeg  # noqa: E402

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


def timed(cmd: list[str]) -> float:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for _, h, _ in LADDER:
        (WORK / f"{h}p").mkdir()  # the hls muxer does not create directories
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=WORK)
    return time.perf_counter() - start


def baseline_copy(ffmpeg: str) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(SRC), "-c", "copy",
        "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "4", "-hls_playlist_type", "vod",
        str(WORK / "index.m3u8"),
    ]  # fmt: skip


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


def compare(label: str, mine: list[str], base: list[str], rounds: int, target: float) -> None:
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(mine))
        b.append(timed(base))
    ma, mb = statistics.median(a), statistics.median(b)
    verdict = "ok" if ma / mb <= target else "OVER TARGET"
    print(f"{label}: origin package {ma:.2f}s  ffmpeg {mb:.2f}s  ratio {ma / mb:.2f}x "
          f"(target <= {target}x, {verdict}; medians of {rounds}: "
          f"{[round(x, 2) for x in a]} vs {[round(x, 2) for x in b]})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copy-rounds", type=int, default=5)
    parser.add_argument("--ladder-rounds", type=int, default=1)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg()
    make_source(ffmpeg)
    print(f"input: {SRC.relative_to(ROOT)} (60 s 1920x1080 30 fps H.264 + AAC), preset {PRESET}")
    compare("(a) --copy", ours(["--copy"]), baseline_copy(ffmpeg), args.copy_rounds, 1.3)
    ladder = ",".join(f"{h}:{k}" for _, h, k in LADDER)
    compare("(b) 3-rung ladder", ours(["--ladder", ladder]), baseline_ladder(ffmpeg),
            args.ladder_rounds, 1.1)  # fmt: skip
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
