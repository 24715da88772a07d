"""Atomic publication of live files: a part, segment, init or playlist is visible only whole.

`write_atomic()` writes a temp file in the destination's own directory and renames it over the
destination (rename(2) within one file system is atomic): a reader sees the old file or the
new one, never a short one, and no temp file survives a failed write.

No fsync: live files are ephemeral. Readers go through the page cache, which shows the renamed
file complete whether or not it reached the disk; after a crash the packager starts a new
timeline (the channel directory is reset), so nothing depends on a part surviving a power cut.
An fsync per part would cost milliseconds of latency and disk I/O five times a second per
rendition for no reader-visible gain.

Every OS error becomes one `StoreError` whose one-line message names the path and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
from collections.abc import Iterable

__all__ = ["StoreError", "ensure_dir", "remove", "reset_dir", "write_atomic"]

TEMP_SUFFIX = ".tmp"
_counter = itertools.count()

# errno → what the operator should do about it.
_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or point media.root at a larger disk",
    errno.EDQUOT: "the disk quota is exhausted: free space or raise the quota",
    errno.EACCES: "permission denied: make the directory writable by the origin's user",
    errno.EPERM: "operation not permitted: make the directory writable by the origin's user",
    errno.EROFS: "the file system is read-only: point media.root at a writable one",
    errno.ENOTDIR: "not a directory (a file is in the way): remove or move that file",
}


class StoreError(OSError):
    """A live file could not be written or removed; the message is one line for the log."""


def _error(action: str, path: str, exc: OSError) -> StoreError:
    reason = _ADVICE.get(exc.errno or 0, exc.strerror or str(exc))
    return StoreError(exc.errno or 0, f"cannot {action} {path}: {reason}")


def ensure_dir(path: str) -> None:
    """Create directory `path` and its parents if missing; raise StoreError if that fails."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise _error("create directory", path, exc) from None


def _temp_name(path: str) -> str:
    head, tail = os.path.split(path)
    # Hidden and unique per process and call, so concurrent writers never share a temp file.
    return os.path.join(head, f".{tail}.{os.getpid()}.{next(_counter)}{TEMP_SUFFIX}")


def write_atomic(path: str, data: bytes) -> None:
    """Make `path` hold exactly `data`, all at once; raise StoreError (no temp left) if not."""
    temp = _temp_name(path)
    try:
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            ensure_dir(os.path.dirname(path) or ".")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        os.replace(temp, path)
    except StoreError:
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise _error("write", path, exc) from None


def remove(paths: Iterable[str]) -> None:
    """Delete retired files; missing ones are fine. Raise StoreError for the first failure."""
    first: StoreError | None = None
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            first = first or _error("remove", path, exc)
    if first is not None:
        raise first


def reset_dir(path: str, keep: Iterable[str] = ()) -> None:
    """Create `path` and delete the files left in it (and its subdirectories) by a past run.

    Names in `keep` (relative to `path`) are spared. A stale part of an earlier timeline must
    never be served as if it belonged to the new one.
    """
    ensure_dir(path)
    spared = set(keep)
    stale: list[str] = []
    try:
        for root, _, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                if os.path.relpath(full, path) not in spared:
                    stale.append(full)
    except OSError as exc:
        raise _error("list", path, exc) from None
    remove(stale)
