"""Find the ffmpeg binary: ORIGIN_FFMPEG → `ffmpeg` on PATH → the imageio-ffmpeg wheel's binary.

There is no ffprobe in the wheel, so nothing in the project may depend on ffprobe.
"""

from __future__ import annotations

import importlib.util
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
    bundled = _wheel_binary()
    if bundled is not None:
        return bundled
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise FfmpegNotFound(
            "ffmpeg not found: install the imageio-ffmpeg package or set ORIGIN_FFMPEG"
        ) from exc


def _wheel_binary() -> str | None:
    """Return the imageio-ffmpeg wheel's binary without importing the package.

    `imageio_ffmpeg.get_ffmpeg_exe()` runs `ffmpeg -version` to validate it: 40 ms on every
    `origin package`. The wheel's layout (binaries/ffmpeg-<platform>-<version>) is enough.
    """
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        binaries = os.path.join(location, "binaries")
        if not os.path.isdir(binaries):
            continue
        for name in sorted(os.listdir(binaries)):
            path = os.path.join(binaries, name)
            if name.startswith("ffmpeg") and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


if __name__ == "__main__":
    try:
        print(find_ffmpeg())
    except FfmpegNotFound as exc:
        print(f"origin: error: {exc}", file=sys.stderr)
        sys.exit(1)
