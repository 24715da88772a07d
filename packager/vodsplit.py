"""Cutting one rendition's streamed CMAF fMP4 into init.mp4 + seg<N>.m4s (VOD packaging shell).

`Sink` reads a pipe that ffmpeg writes, in its own thread, so segments land on disk as fragments
complete and no intermediate file is written or re-read; `Split` is what it wrote (the init,
each segment's duration and size, the I-frame byte ranges). Split out of packager/vod.py, which
runs the whole job around it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from packager.ladder import IFrame, SegmentRecord

if TYPE_CHECKING:
    from packager.boxes import InitSegment, TrackInfo
    from packager.segmenter import Segmenter, SegmentReady

COPY_CHUNK = 1 << 20  # bytes per read of media data
PIPE_SIZE = 1 << 20  # ask for a pipe buffer this big (Linux): fewer wake-ups per fragment


@dataclass
class Split:
    init: InitSegment | None = None
    segments: list[SegmentRecord] = field(default_factory=list)
    iframes: list[IFrame] = field(default_factory=list)
    video_samples: int = 0
    video_ticks: int = 0
    video_timescale: int = 0
    dropped: int = 0


class Sink:
    """Read one rendition's CMAF fMP4 from a pipe; write init.mp4 and seg<N>.m4s as it comes.

    Runs in its own thread while ffmpeg writes, so segments land on disk as fragments
    complete and no intermediate file is written or re-read. Only the small boxes (ftyp, moov,
    moof) are parsed; each mdat is copied pipe → segment file in 1 MiB chunks, never joined
    or sliced in memory. The live `Segmenter` groups fragments into segments: it sees each
    fragment with `data` = the boxes before the mdat, which is all its cutting rule needs
    (duration, keyframe), and decides before the mdat is copied which file it goes to.
    """

    def __init__(
        self, fd: int, outdir: str, segment_target: int, on_error: Callable[[], None]
    ) -> None:
        self.fd = fd
        self.outdir = outdir
        self.segment_target = segment_target
        self.split = Split()
        self.error: BaseException | None = None
        self.stopped_ffmpeg = False  # this sink's failure is why ffmpeg was killed
        self.on_error = on_error  # stops ffmpeg
        self._eof = False
        self._out = -1  # fd of the segment file being written

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the caller, on the main thread
            self.error = exc
            if not self._eof:  # ffmpeg is still writing to a reader that gave up: stop it
                self.stopped_ffmpeg = True
                self.on_error()
        finally:
            if self._out >= 0:
                os.close(self._out)
            os.close(self.fd)

    def _run(self) -> None:
        from packager.boxes import BoxError, parse_fragment, parse_init_segment
        from packager.segmenter import FragmentDropped, PartReady, SegmentReady

        os.makedirs(self.outdir)
        out = self.split
        init = bytearray()  # ftyp (+ moov): the EXT-X-MAP resource
        prefix = bytearray()  # styp/prft/sidx/emsg travelling with the next moof
        tracks: dict[int, TrackInfo] = {}
        segmenter: Segmenter | None = None
        pending: list[tuple[str, int, int, int]] = []  # I-frames: uri, offset, length, ticks
        uri, written = "", 0  # the segment file being written, and its size so far
        while (head := self._header()) is not None:
            kind, header, size = head
            if kind in ("ftyp", "moov"):
                if prefix or segmenter is not None:
                    raise BoxError(f"{kind} inside the fragment stream")
                init += header + self._read(size - len(header))
                if kind == "moov":
                    out.init = parse_init_segment(bytes(init))
                    self._write_file("init.mp4", out.init.data)
                    tracks = {t.track_id: t for t in out.init.tracks}
                    segmenter = self._segmenter(out.init)
            elif kind in ("styp", "prft", "sidx", "emsg"):
                prefix += header + self._read(size - len(header))
            elif kind == "moof":
                if segmenter is None:
                    raise BoxError("fragment before the init segment")
                moof = bytes(prefix) + header + self._read(size - len(header))
                prefix.clear()
                mdat = self._header()
                if mdat is None or mdat[0] != "mdat":
                    raise BoxError("moof without mdat")
                frag = parse_fragment(moof, len(moof) - size, len(moof), tracks)
                run = frag.primary()
                if run.handler == "vide":
                    out.video_samples += run.sample_count
                    out.video_ticks += run.duration
                length = len(moof) + mdat[2]
                keep = False
                for ev in segmenter.push(frag):
                    if isinstance(ev, SegmentReady):
                        self._close_segment(uri, written, ev, segmenter.timescale)
                    elif isinstance(ev, FragmentDropped):
                        out.dropped += 1
                    elif isinstance(ev, PartReady):
                        keep = True
                        if ev.index == 0:
                            uri, written = f"seg{ev.msn}.m4s", 0
                            self._out = self._create(uri)
                        if ev.independent:
                            pending.append((uri, written, length, 0))
                        if pending:  # an I-frame entry lasts until the next keyframe fragment
                            u, o, n, ticks = pending[-1]
                            pending[-1] = (u, o, n, ticks + ev.duration_ticks)
                if keep:
                    write_all(self._out, moof + mdat[1])
                    self._copy(mdat[2] - len(mdat[1]), self._out)
                    written += length
                else:
                    self._copy(mdat[2] - len(mdat[1]), None)
            else:  # free, skip, mfra, ...: not part of any resource we publish
                self._copy(size - len(header), None)
        if prefix:
            raise BoxError("stream ended after boxes without their fragment")
        if segmenter is None or out.init is None:
            raise BoxError("the encoder wrote no init segment")
        for ev in segmenter.flush():
            if isinstance(ev, SegmentReady):
                self._close_segment(uri, written, ev, segmenter.timescale)
        timescale = segmenter.timescale
        out.iframes = [IFrame(u, o, n, Fraction(t, timescale)) for u, o, n, t in pending]

    def _segmenter(self, init: InitSegment) -> Segmenter:
        from packager.boxes import BoxError
        from packager.segmenter import Segmenter

        primary = init.track("vide") or init.track("soun")
        if primary is None:
            raise BoxError("no video or audio track in the encoder output")
        ticks = self.segment_target * primary.timescale
        self.split.video_timescale = primary.timescale if primary.handler == "vide" else 0
        return Segmenter(primary.timescale, ticks, ticks, track_id=primary.track_id)

    def _close_segment(self, uri: str, size: int, seg: SegmentReady, timescale: int) -> None:
        os.close(self._out)
        self._out = -1
        duration = Fraction(seg.duration_ticks, timescale)
        self.split.segments.append(SegmentRecord(uri, duration, size))

    def _create(self, name: str) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        return os.open(os.path.join(self.outdir, name), flags, 0o666)

    def _write_file(self, name: str, data: bytes) -> None:
        fd = self._create(name)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)

    # Reading the pipe: exact byte counts; a stream that ends early is a BoxError.

    def _header(self) -> tuple[str, bytes, int] | None:
        """Return (type, header bytes, box size) of the next top-level box; None at the end."""
        from packager.boxes import BoxError

        first = self._read(8, at_box_start=True)
        if not first:
            return None
        size, raw = struct.unpack(">I4s", first)
        kind, header = raw.decode("latin-1"), first
        if size == 1:
            header += self._read(8)
            (size,) = struct.unpack_from(">Q", header, 8)
        elif size == 0:  # "to the end of the file": never in a stream we can cut
            raise BoxError(f"box {kind!r} of unbounded size in the fragment stream")
        if size < len(header):
            raise BoxError(f"box {kind!r} declares size {size} < header {len(header)}")
        return kind, header, size

    def _read(self, n: int, *, at_box_start: bool = False) -> bytes:
        from packager.boxes import BoxError

        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.fd, n - len(buf))
            if not chunk:
                self._eof = True
                if at_box_start and not buf:
                    return b""
                raise BoxError(f"stream ended inside a box: {n - len(buf)} bytes missing")
            buf += chunk
        return bytes(buf)

    def _copy(self, n: int, out: int | None) -> None:
        """Move n bytes from the pipe to the file `out` (None: drop them)."""
        from packager.boxes import BoxError

        # Plain read + write of 1 MiB chunks: splice(2) measured no cheaper (pipe → page
        # cache is a copy either way) and would need a fallback where it is missing.
        while n > 0:
            data = os.read(self.fd, min(n, COPY_CHUNK))
            if not data:
                self._eof = True
                raise BoxError(f"stream ended inside a box: {n} bytes missing")
            if out is not None:
                write_all(out, data)
            n -= len(data)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def make_pipe() -> tuple[int, int]:
    """Return (read, write) ends of a new pipe, as large as the system allows up to PIPE_SIZE."""
    r, w = os.pipe()
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is not None:
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
            fcntl.fcntl(w, setpipe, PIPE_SIZE)
    return r, w


def read_top_level_boxes(path: str) -> list[str]:
    """Return the types of a file's top-level boxes in order, reading only their headers."""
    from packager.boxes import BoxError

    kinds: list[str] = []
    size_total = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            header = f.read(16)
            size, raw = struct.unpack_from(">I4s", header)
            if size == 1:
                (size,) = struct.unpack_from(">Q", header, 8)
            elif size == 0:
                size = size_total - pos
            if size < 8:
                raise BoxError(f"{path}: bad box size {size} at {pos}")
            kinds.append(raw.decode("latin-1"))
            pos += size
    return kinds
