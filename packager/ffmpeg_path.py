"""Find the ffmpeg binary: ORIGIN_FFMPEG → `ffmpeg` on PATH → the imageio-ffmpeg wheel's binary.

There is no ffprobe in the wheel, so nothing in the project may depend on ffprobe.
"""

from __future__ import annotations

import os
import shutil
import sys


class FfmpegNotFound(RuntimeError):
    """No usable ffmpeg binary."""


def find_ffmpeg() -> str:
    """Return the path of the ffmpeg binary to run, or raise FfmpegNotFound with what to do."""
    env = os.environ.get("ORIGIN_FFMPEG")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise FfmpegNotFound(f"ORIGIN_FFMPEG = {env!r}: not an executable file")
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise FfmpegNotFound(
            "ffmpeg not found: install the imageio-ffmpeg package or set ORIGIN_FFMPEG"
        ) from exc


if __name__ == "__main__":
    try:
        print(find_ffmpeg())
    except FfmpegNotFound as exc:
        print(f"origin: error: {exc}", file=sys.stderr)
        sys.exit(1)
