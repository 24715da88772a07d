"""`origin package`: turn one media file into a VOD title (CMAF HLS + a fast-start MP4).

Shell module: runs ffmpeg, reads and writes files. Decisions live in the pure modules
(`packager.probe`, `packager.ladder`, `packager.progress`); playlists are rendered by the same
`packager.playlist` renderer the live packager uses.

Output, in the title directory (default `<media.root>/vod/<name>/`):
    index.m3u8                      multivariant: STREAM-INF per rendition + I-FRAME-STREAM-INF
    <rendition>/init.mp4            CMAF header (EXT-X-MAP)
    <rendition>/seg<N>.m4s          media segments, each starting with a keyframe
    <rendition>/index.m3u8          VOD media playlist
    <rendition>/iframes.m3u8        I-frame playlist: byte ranges into the segment files
    <name>.mp4 (or <name>.m4a)      progressive, fast-start (moov before mdat) top rendition

Decisions:
- Audio is muxed into every video rendition (no separate audio group), as the live packager
  does: one request per segment, one CODECS list per variant, no group-switching edge cases.
  The cost (audio stored once per rendition) is small next to the video.
- Segmenting: ffmpeg writes ONE fragmented MP4 per rendition (`frag_keyframe`: a fragment per
  GOP, keyframes forced every segment target); `BoxReader` splits it into init + fragments and
  the live `Segmenter` groups fragments into segments at keyframe boundaries ≥ the target.
  Rather than ffmpeg's hls muxer, because our own parse gives the exact numbers the playlists
  need (durations in ticks, byte ranges of every keyframe fragment for the I-frame playlist,
  CODECS from the written init segment) with one code path for encode and `--copy`.
- The progressive file comes from the same encode: the top rendition goes through the tee
  muxer to a second, `+faststart` mp4 muxer; no second pass over the input.
- Audio-only input → one audio rendition (`audio/`, CODECS mp4a only, no RESOLUTION, no
  I-frame playlist) and a fast-start `<name>.m4a` for progressive download.
- Never half-written: everything is written in a temporary directory beside the destination
  (same file system) and renamed into place when all of it succeeded; `--force` renames the
  old title aside, renames the new one in, then deletes the old one. Any failure, Ctrl-C or
  SIGTERM kills ffmpeg and removes the temporary directory.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import FrameType
from typing import IO

from packager.boxes import BoxError, BoxReader, Fragment, InitSegment
from packager.codecs import build_codec_string, build_codecs_attribute
from packager.ffmpeg_path import FfmpegNotFound, find_ffmpeg
from packager.ladder import (
    EncodePlan,
    IFrame,
    Rendition,
    Rung,
    SegmentRecord,
    average_bandwidth,
    build_copy_args,
    build_encode_args,
    build_iframe_playlist,
    build_vod_playlist,
    check_copy,
    peak_bandwidth,
    select_ladder,
    target_duration,
)
from packager.model import IFrameStreamInf, MultivariantPlaylist, Resolution, StreamInf
from packager.playlist import render_media_playlist, render_multivariant_playlist
from packager.probe import MediaInfo, ProbeError, parse_probe
from packager.progress import Progress, ProgressParser, render_bar, render_line
from packager.segmenter import FragmentDropped, Segmenter, SegmentReady

__all__ = [
    "PackageError",
    "PackageOptions",
    "PackageResult",
    "RenditionResult",
    "package",
    "read_top_level_boxes",
    "sanitize_name",
]

READ_CHUNK = 1 << 20
PROBE_TIMEOUT = 120  # seconds: a probe reads headers only; a hung network input must end
PLAIN_PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal
BAR_EVERY = 0.2  # seconds between bar redraws on a terminal
# A packaged title shorter than the probed duration by more than this is a damaged input.
SHORTFALL = Fraction(1)
SHORTFALL_RATIO = Fraction(9, 10)
# ffmpeg log lines → what to tell the user (first match wins).
_FFMPEG_FAILURES: tuple[tuple[str, str], ...] = (
    ("No space left on device", "disk full while writing {dest}; free space or use --out"),
    ("partial file", "{input}: the file is truncated or corrupt; re-create or re-download it"),
    ("Invalid data found", "{input}: corrupt media data; re-create or re-download it"),
)


class PackageError(Exception):
    """A failure the user can act on: the message is one line, without 'error:'."""


@dataclass(frozen=True, slots=True)
class PackageOptions:
    """What `origin package` was asked to do."""

    input: str
    dest: str  # the title directory
    name: str  # the title name (progressive file stem)
    ladder: tuple[Rung, ...]
    segment_target: int = 4  # seconds
    audio_kbps: int = 128
    preset: str = "veryfast"
    copy: bool = False
    force: bool = False
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class RenditionResult:
    """One packaged rendition, as the multivariant playlist describes it."""

    name: str
    codecs: str
    resolution: Resolution | None
    frame_rate: Fraction | None
    bandwidth: int
    average_bandwidth: int
    segments: tuple[SegmentRecord, ...]
    iframes: tuple[IFrame, ...]
    video_codec: str  # CODECS of the I-frame variant ("" for audio-only)


@dataclass(frozen=True, slots=True)
class PackageResult:
    """What was published."""

    dest: str
    renditions: tuple[RenditionResult, ...]
    progressive: str  # file name inside dest
    seconds: float  # wall-clock time taken


def sanitize_name(stem: str) -> str:
    """Return a title name safe as a directory and URL segment (letters, digits, . _ -)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")
    return name or "title"


# --- progress -------------------------------------------------------------------------------


@dataclass
class _Reporter:
    """Draws a bar on a terminal, periodic lines otherwise, nothing when quiet."""

    stream: IO[str]
    duration: Fraction | None
    label: str
    quiet: bool
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0
    _drawn: bool = False

    @property
    def tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def update(self, p: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if self.tty:
            if now - self._last >= BAR_EVERY or p.done:
                width = shutil.get_terminal_size((80, 24)).columns - 1
                self.stream.write("\r" + render_bar(self.label, p, self.duration, elapsed, width))
                self.stream.write("\x1b[K")  # clear what a longer previous line left
                self.stream.flush()
                self._last, self._drawn = now, True
        elif now - self._last >= PLAIN_PROGRESS_EVERY or p.done:
            self.stream.write(render_line(self.label, p, self.duration, elapsed) + "\n")
            self.stream.flush()
            self._last = now

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def say(self, text: str) -> None:
        if not self.quiet:
            self.finish()
            self.stream.write(text + "\n")
            self.stream.flush()


# --- ffmpeg ---------------------------------------------------------------------------------


def _probe(ffmpeg: str, path: str) -> MediaInfo:
    try:
        run = subprocess.run(
            [ffmpeg, "-hide_banner", "-nostdin", "-i", path],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,  # exit status 1 is normal: no output file was given
        )
    except OSError as exc:
        raise PackageError(f"cannot run ffmpeg {ffmpeg!r}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise PackageError(f"{path}: ffmpeg took over {PROBE_TIMEOUT}s to open it") from None
    try:
        return parse_probe(run.stderr.decode("utf-8", "replace"))
    except ProbeError as exc:
        raise PackageError(f"{path}: {exc}") from None


def _ffmpeg_failure(log: str, rc: int, opts: PackageOptions) -> PackageError:
    if rc == 256 - errno.ENOSPC:  # ffmpeg exits with AVERROR(errno) & 0xff
        log = "No space left on device\n" + log
    for needle, message in _FFMPEG_FAILURES:
        if needle in log:
            return PackageError(message.format(dest=opts.dest, input=opts.input))
    last = next((ln.strip() for ln in reversed(log.splitlines()) if ln.strip()), "")
    return PackageError(f"{opts.input}: ffmpeg failed (exit {rc}): {last or 'no message'}")


def _run_ffmpeg(args: list[str], reporter: _Reporter) -> tuple[int, str]:
    """Run ffmpeg to the end, feeding -progress to the reporter; return (exit code, log)."""
    # The log goes to an anonymous file in the system temp dir, not beside the output: when
    # the output disk is full, the log saying so must still be writable.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            parser = ProgressParser()
            assert proc.stdout is not None
            for line in proc.stdout:
                if (p := parser.feed_line(line)) is not None:
                    reporter.update(p)
            rc = proc.wait()
        finally:
            # Ctrl-C, SIGTERM or any failure here: ffmpeg must not outlive us.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        reporter.finish()
        log.seek(0)
        return rc, log.read().decode("utf-8", "replace")


# --- splitting one fragmented MP4 into init + segments ------------------------------------


@dataclass
class _Split:
    init: InitSegment | None = None
    segments: list[SegmentRecord] = field(default_factory=list)
    iframes: list[IFrame] = field(default_factory=list)
    video_samples: int = 0
    video_ticks: int = 0
    video_timescale: int = 0
    dropped: int = 0


def _split_rendition(src: str, outdir: str, segment_target: int) -> _Split:
    """Read one CMAF fMP4; write init.mp4 and seg<N>.m4s into outdir; return what was written."""
    os.makedirs(outdir)
    reader = BoxReader()
    out = _Split()
    segmenter: Segmenter | None = None
    pending: list[tuple[str, int, int, int]] = []  # keyframe fragments awaiting their duration

    def write_segment(seg: SegmentReady) -> None:
        assert segmenter is not None
        uri = f"seg{seg.msn}.m4s"
        _write(os.path.join(outdir, uri), seg.data)
        out.segments.append(
            SegmentRecord(uri, Fraction(seg.duration_ticks, segmenter.timescale), len(seg.data))
        )
        offset = 0
        for part in seg.parts:
            if part.independent:
                pending.append((uri, offset, len(part.data), 0))
            if pending:  # the I-frame entry lasts until the next keyframe fragment
                u, o, n, ticks = pending[-1]
                pending[-1] = (u, o, n, ticks + part.duration_ticks)
            offset += len(part.data)

    def handle(event: InitSegment | Fragment) -> None:
        nonlocal segmenter
        if isinstance(event, InitSegment):
            if out.init is not None:
                raise BoxError("a second init segment in one rendition")
            out.init = event
            _write(os.path.join(outdir, "init.mp4"), event.data)
            primary = event.track("vide") or event.track("soun")
            if primary is None:
                raise BoxError("no video or audio track in the encoder output")
            ticks = segment_target * primary.timescale
            segmenter = Segmenter(primary.timescale, ticks, ticks, track_id=primary.track_id)
            out.video_timescale = primary.timescale if primary.handler == "vide" else 0
            return
        if segmenter is None:
            raise BoxError("fragment before the init segment")
        run = event.primary()
        if run.handler == "vide":
            out.video_samples += run.sample_count
            out.video_ticks += run.duration
        for ev in segmenter.push(event):
            if isinstance(ev, SegmentReady):
                write_segment(ev)
            elif isinstance(ev, FragmentDropped):
                out.dropped += 1

    with open(src, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            for event in reader.feed(chunk):
                handle(event)
    for event in reader.close():
        handle(event)
    if segmenter is None or out.init is None:
        raise BoxError("the encoder wrote no init segment")
    for ev in segmenter.flush():
        if isinstance(ev, SegmentReady):
            write_segment(ev)
    timescale = segmenter.timescale
    out.iframes = [IFrame(u, o, n, Fraction(t, timescale)) for u, o, n, t in pending]
    return out


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def read_top_level_boxes(path: str) -> list[str]:
    """Return the types of a file's top-level boxes in order, reading only their headers."""
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


# --- the whole job --------------------------------------------------------------------------


def _plan(opts: PackageOptions, info: MediaInfo) -> EncodePlan:
    video, audio = info.video, info.audio
    renditions: tuple[Rendition, ...] = ()
    if video is not None:
        if not (video.width and video.height):
            raise PackageError(f"{opts.input}: the video stream has no picture size")
        if opts.copy:
            w, h = video.width, video.height
            renditions = (Rendition(f"{min(w, h)}p", w, h, video.bitrate_kbps),)
        else:
            renditions = select_ladder(opts.ladder, video.display_size)
    channels = 2 if audio is not None and audio.channels > 2 else 0
    return EncodePlan(
        renditions=renditions,
        audio=audio is not None,
        audio_kbps=opts.audio_kbps,
        audio_channels=channels,
        segment_target=opts.segment_target,
        preset=opts.preset,
        frame_rate=video.fps if video is not None else None,
    )


def _describe(name: str, split: _Split) -> RenditionResult:
    assert split.init is not None
    target = target_duration([s.duration for s in split.segments])
    video = split.init.track("vide")
    resolution = Resolution(video.width, video.height) if video is not None else None
    frame_rate = (
        Fraction(split.video_samples * split.video_timescale, split.video_ticks)
        if video is not None and split.video_ticks
        else None
    )
    return RenditionResult(
        name=name,
        codecs=build_codecs_attribute(split.init),
        resolution=resolution,
        frame_rate=frame_rate,
        bandwidth=peak_bandwidth(split.segments, target),
        average_bandwidth=average_bandwidth(split.segments),
        segments=tuple(split.segments),
        iframes=tuple(split.iframes) if video is not None else (),
        video_codec=build_codec_string(video) if video is not None else "",
    )


def _write_playlists(dest: str, results: Sequence[RenditionResult]) -> None:
    variants: list[StreamInf] = []
    iframe_variants: list[IFrameStreamInf] = []
    for r in results:
        media = build_vod_playlist(r.segments, "init.mp4")
        _write_text(os.path.join(dest, r.name, "index.m3u8"), render_media_playlist(media))
        variants.append(
            StreamInf(
                uri=f"{r.name}/index.m3u8",
                bandwidth=r.bandwidth,  # rfc8216bis §4.4.6.2: peak segment bit rate
                average_bandwidth=r.average_bandwidth,
                codecs=r.codecs,  # rfc8216bis §4.4.6.2: SHOULD list every codec present
                resolution=r.resolution,
                frame_rate=r.frame_rate,
            )
        )
        if r.iframes:
            pl = build_iframe_playlist(r.iframes, "init.mp4")
            _write_text(os.path.join(dest, r.name, "iframes.m3u8"), render_media_playlist(pl))
            records = [SegmentRecord(f.uri, f.duration, f.length) for f in r.iframes]
            iframe_variants.append(
                IFrameStreamInf(
                    uri=f"{r.name}/iframes.m3u8",
                    bandwidth=peak_bandwidth(records, pl.target_duration),
                    average_bandwidth=average_bandwidth(records),
                    codecs=r.video_codec,
                    resolution=r.resolution,
                )
            )
    mv = MultivariantPlaylist(
        variants=tuple(variants),
        i_frame_variants=tuple(iframe_variants),
        independent_segments=True,  # every segment of every rendition starts with a keyframe
    )
    _write_text(os.path.join(dest, "index.m3u8"), render_multivariant_playlist(mv))


def _write_text(path: str, text: str) -> None:
    _write(path, text.encode("utf-8"))


def _prepare_destination(opts: PackageOptions) -> str:
    """Check the destination and return a new temporary directory beside it."""
    dest = os.path.abspath(opts.dest)
    if os.path.lexists(dest) and not opts.force:
        raise PackageError(f"{dest}: already exists; pass --force to replace it")
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise PackageError(f"{dest}: exists and is not a directory; remove it first")
    parent = os.path.dirname(dest)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dest)}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise PackageError(f"{dest}: cannot create the output directory ({_why(exc)})") from None
    return tmp


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _publish(tmp: str, dest: str) -> None:
    """Rename the finished title into place; with an old one, swap it out atomically."""
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; the server may run as another user
    if not os.path.lexists(dest):
        os.rename(tmp, dest)
        return
    old = tempfile.mkdtemp(
        prefix=f".{os.path.basename(dest)}.", suffix=".old", dir=os.path.dirname(dest)
    )
    os.rmdir(old)  # we only wanted a unique, same-directory name
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except OSError:
        os.rename(old, dest)  # put the old title back: never leave nothing
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_complete(
    opts: PackageOptions, info: MediaInfo, results: Sequence[RenditionResult]
) -> None:
    if info.duration is None or not results:
        return
    got = sum((s.duration for s in results[0].segments), Fraction(0))
    if got < info.duration * SHORTFALL_RATIO and info.duration - got > SHORTFALL:
        raise PackageError(
            f"{opts.input}: only {float(got):.1f}s of {float(info.duration):.1f}s could be read; "
            "the file is truncated or corrupt"
        )


def package(opts: PackageOptions, *, stderr: IO[str] | None = None) -> PackageResult:
    """Package opts.input into opts.dest; raise PackageError with a one-line reason."""
    started = time.monotonic()
    out = stderr if stderr is not None else sys.stderr
    if not os.path.exists(opts.input):
        raise PackageError(f"{opts.input}: no such file; check the path")
    if os.path.isdir(opts.input):
        raise PackageError(f"{opts.input}: is a directory; give a media file")
    try:
        ffmpeg = find_ffmpeg()
    except FfmpegNotFound as exc:
        raise PackageError(f"{exc}; point ORIGIN_FFMPEG at an ffmpeg binary or unset it") from None
    info = _probe(ffmpeg, opts.input)
    if info.video is None and info.audio is None:
        raise PackageError(f"{opts.input}: no video or audio stream; nothing to package")
    if opts.copy and (reason := check_copy(info)):
        raise PackageError(f"{opts.input}: {reason}")
    plan = _plan(opts, info)
    dest = os.path.abspath(opts.dest)
    tmp = _prepare_destination(opts)
    try:
        return _package_into(opts, info, plan, ffmpeg, tmp, dest, out, started)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise PackageError(f"disk full while writing {dest}; free space or use --out") from None
        raise PackageError(f"{dest}: cannot write the title ({_why(exc)})") from None
    except BoxError as exc:
        raise PackageError(f"{opts.input}: ffmpeg wrote unreadable output ({exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when the title was published


def _package_into(
    opts: PackageOptions,
    info: MediaInfo,
    plan: EncodePlan,
    ffmpeg: str,
    tmp: str,
    dest: str,
    out: IO[str],
    started: float,
) -> PackageResult:
    work = os.path.join(tmp, ".work")
    os.mkdir(work)
    names = [r.name for r in plan.renditions] or ["audio"]
    frags = [os.path.join(work, f"{n}.mp4") for n in names]
    progressive = f"{opts.name}{'.mp4' if plan.renditions else '.m4a'}"
    faststart = os.path.join(tmp, progressive)
    if opts.copy:
        args = build_copy_args(ffmpeg, opts.input, info, frags[0], faststart)
    else:
        args = build_encode_args(ffmpeg, opts.input, plan, frags, faststart)
    what = "remuxing" if opts.copy else f"encoding {len(names)} rendition(s)"
    reporter = _Reporter(out, info.duration, f"{opts.name}: {what}", opts.quiet)
    rc, log = _run_ffmpeg(args, reporter)
    if rc != 0 or any(needle in log for needle, _ in _FFMPEG_FAILURES):
        raise _ffmpeg_failure(log, rc, opts)

    results: list[RenditionResult] = []
    for name, frag in zip(names, frags, strict=True):
        split = _split_rendition(frag, os.path.join(tmp, name), opts.segment_target)
        os.remove(frag)  # free the space before the next one is split
        if not split.segments:
            raise PackageError(f"{opts.input}: no media could be decoded from it")
        results.append(_describe(name, split))
    _check_complete(opts, info, results)
    boxes = read_top_level_boxes(faststart)
    if "moov" not in boxes or "mdat" not in boxes or boxes.index("moov") > boxes.index("mdat"):
        raise PackageError(f"{progressive}: ffmpeg did not write a fast-start file ({boxes})")
    _write_playlists(tmp, results)
    shutil.rmtree(work)
    if os.path.lexists(dest) and not opts.force:  # appeared while we worked
        raise PackageError(f"{dest}: already exists; pass --force to replace it")
    _publish(tmp, dest)
    seconds = time.monotonic() - started
    reporter.say(f"{opts.name}: packaged {len(results)} rendition(s) into {dest} in {seconds:.1f}s")
    return PackageResult(dest, tuple(results), progressive, seconds)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_package(opts: PackageOptions) -> int:
    """CLI entry: package, printing one line on failure; return the exit status."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # clean up on `kill` too
    try:
        package(opts)
    except PackageError as exc:
        print(f"origin: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("origin: interrupted; nothing was written", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
