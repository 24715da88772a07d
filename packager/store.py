"""Atomic publication of live objects under the media root, and their retirement.

A part, segment, init or playlist becomes visible only complete: written to a temporary name in
the same directory, then renamed over its final name (design.md "Atomic publication"). No fsync:
a live object is useful for seconds, and after a crash the channel restarts with a
discontinuity and new names, so durability would buy nothing but latency.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil

# Errors an operator can do something about, with what to do.
_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or point media.root elsewhere",
    errno.EDQUOT: "the disk quota is exhausted: free space or raise the quota",
    errno.EACCES: "permission denied: make the directory writable by this user",
    errno.EPERM: "permission denied: make the directory writable by this user",
    errno.EROFS: "the file system is read-only: point media.root at a writable one",
    errno.ENOTDIR: "a path component is a file, not a directory: remove it",
}


class StoreError(OSError):
    """A write or directory creation failed; the message names the path and what to do."""


def _fail(path: str, exc: OSError) -> StoreError:
    advice = _ADVICE.get(exc.errno or 0, exc.strerror or str(exc))
    return StoreError(exc.errno, f"cannot write {path}: {advice}")


def ensure_dir(path: str) -> None:
    """Create `path` and its parents, or raise StoreError."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise _fail(path, exc) from None


def write_atomic(path: str, data: bytes) -> None:
    """Make `path` hold exactly `data`, all at once, or raise StoreError leaving no trace."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.tmp")  # a dotfile: never served while incomplete
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _fail(path, exc) from None


def remove(paths: list[str]) -> None:
    """Delete retired files; one already gone is fine."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def reset_dir(path: str) -> None:
    """Empty a channel's directory from an earlier run (its names would be reused otherwise)."""
    if os.path.isdir(path):
        aside = f"{path}.old-{os.getpid()}"
        try:
            os.replace(path, aside)
        except OSError as exc:
            raise _fail(path, exc) from None
        shutil.rmtree(aside, ignore_errors=True)
    ensure_dir(path)
