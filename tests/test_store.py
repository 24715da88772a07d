"""Tests for packager.store: atomic publication, cleanup on failure, one-line errors."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from packager import store
from packager.store import StoreError, ensure_dir, remove, reset_dir, write_atomic


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(store.TEMP_SUFFIX))


def test_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "part0.0.m4s"  # parents are created on demand
    write_atomic(str(target), b"first")
    assert target.read_bytes() == b"first"
    write_atomic(str(target), b"second, longer")
    assert target.read_bytes() == b"second, longer"
    write_atomic(str(target), b"")
    assert target.read_bytes() == b""
    assert leftovers(target.parent) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "index.m3u8"
    # Sizes differ so a short read would show as a length no version has.
    versions = [bytes([65 + i]) * (200_000 + 7919 * i) for i in range(8)]
    write_atomic(str(target), versions[0])
    valid = set(versions)
    done = threading.Event()
    seen: list[int] = []
    bad: list[int] = []

    def reader() -> None:
        while not done.is_set():
            data = target.read_bytes()
            (seen if data in valid else bad).append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(400):
            write_atomic(str(target), versions[n % len(versions)])
    finally:
        done.set()
        thread.join()
    assert bad == []
    assert len(seen) > 10
    assert leftovers(tmp_path) == []


# (function that fails, errno) → StoreError naming the path and what to do, no temp left.
FAILURES = [
    pytest.param("write", errno.ENOSPC, "the disk is full", id="disk-full-mid-write"),
    pytest.param("replace", errno.ENOSPC, "the disk is full", id="disk-full-at-rename"),
    pytest.param("open", errno.EACCES, "permission denied", id="unwritable"),
    pytest.param("open", errno.EROFS, "read-only", id="read-only-fs"),
    pytest.param("write", errno.EIO, "Input/output error", id="other-errno"),
]


@pytest.mark.parametrize(("where", "code", "advice"), FAILURES)
def test_failures_raise_one_store_error_and_leave_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, advice: str
) -> None:
    target = tmp_path / "seg7.m4s"
    write_atomic(str(target), b"old")
    real: Callable[..., object] = getattr(os, where)

    def failing(*args: object, **kwargs: object) -> object:
        if where == "open" and not str(args[0]).endswith(store.TEMP_SUFFIX):
            return real(*args, **kwargs)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, where, failing)
    with pytest.raises(StoreError) as info:
        write_atomic(str(target), b"new bytes")
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message
    assert str(target) in message and advice in message
    assert info.value.errno == code
    assert target.read_bytes() == b"old"  # the published file is untouched
    assert leftovers(tmp_path) == []


def test_really_unwritable_directory() -> None:
    # sysfs refuses new files even to root: a real EACCES without changing permissions.
    target = "/sys/kernel/origin-store-test.m4s"
    if not os.path.isdir("/sys/kernel"):
        if os.environ.get("CI") == "true":
            pytest.fail("no /sys/kernel: CI runs on Linux with sysfs")
        pytest.skip("no sysfs here (not Linux?)")
    with pytest.raises(StoreError, match=r"cannot write /sys/kernel/origin-store-test\.m4s: "):
        write_atomic(target, b"x")
    assert not os.path.exists(target)


def test_file_in_the_way_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "live").write_bytes(b"not a directory")
    with pytest.raises(StoreError, match=r"not a directory \(a file is in the way\)"):
        ensure_dir(str(tmp_path / "live" / "test"))
    with pytest.raises(StoreError, match="cannot"):
        write_atomic(str(tmp_path / "live" / "test" / "init0.mp4"), b"x")


def test_remove_ignores_missing_and_reports_failures(tmp_path: Path) -> None:
    a, b = tmp_path / "part1.0.m4s", tmp_path / "part1.1.m4s"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    remove([str(a), str(tmp_path / "never-there"), str(b)])
    assert list(tmp_path.iterdir()) == []
    sub = tmp_path / "dir"
    sub.mkdir()
    with pytest.raises(StoreError, match=f"cannot remove {sub}"):
        remove([str(sub)])  # unlink(2) of a directory fails: reported, not swallowed


def test_reset_dir_clears_a_past_run(tmp_path: Path) -> None:
    channel = tmp_path / "live" / "test"
    (channel / "360p").mkdir(parents=True)
    (channel / "360p" / "seg9.m4s").write_bytes(b"stale")
    (channel / "index.m3u8").write_bytes(b"stale")
    (channel / "keep.txt").write_bytes(b"mine")
    reset_dir(str(channel), keep=["keep.txt"])
    names = sorted(str(p.relative_to(channel)) for p in channel.rglob("*"))
    assert names == ["360p", "keep.txt"]
    reset_dir(str(tmp_path / "new"))  # creates it
    assert (tmp_path / "new").is_dir()
