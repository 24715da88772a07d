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
- Segmenting: ffmpeg streams ONE fragmented MP4 per rendition (`frag_keyframe`: a fragment
  per GOP, keyframes forced every segment target) into a pipe; a `Sink` thread per rendition
  parses its boxes and the live `Segmenter` groups fragments into segments at keyframe
  boundaries ≥ the target, written as they complete: no intermediate file, nothing read
  twice. Rather than ffmpeg's hls muxer, because our own parse gives the exact numbers the
  playlists need (durations in ticks, byte ranges of every keyframe fragment for the I-frame
  playlist, CODECS from the written init segment) with one code path for encode and `--copy`.
- The progressive file comes from the same run, no second pass over the input: when
  encoding, the top rendition goes through the tee muxer to a second, `+faststart` mp4 muxer;
  with `--copy` it is simply a second output of the same demux.
- `--copy` does not wait for the probe: it starts ffmpeg at once with the command for the
  usual input (H.264 + AAC) and keeps that run only if the probed input yields the very same
  command; otherwise the run and its temporary directory are thrown away first.
- Audio-only input → one audio rendition (`audio/`, CODECS mp4a only, no RESOLUTION, no
  I-frame playlist) and a fast-start `<name>.m4a` for progressive download.
- Never half-written: everything is written in a temporary directory beside the destination
  (same file system) and renamed into place when all of it succeeded; `--force` renames the
  old title aside, renames the new one in, then deletes the old one. Any failure, Ctrl-C or
  SIGTERM kills ffmpeg and removes the temporary directory.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import FrameType
from typing import IO, TYPE_CHECKING

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
from packager.vodsplit import Sink, Split, make_pipe, read_top_level_boxes, write_file

if TYPE_CHECKING:
    from packager.model import Resolution
    from packager.probe import MediaInfo
    from packager.progress import Progress

# Imported while the probe runs (`_import_the_rest`), not with this module: building their
# dataclasses costs ~15 ms that would otherwise come before ffmpeg even starts. Functions
# that use them import them locally.
_LATE_IMPORTS = (
    "packager.boxes",  # the sinks need these two first
    "packager.segmenter",
    "packager.probe",
    "packager.progress",
    "packager.codecs",
    "packager.model",
    "packager.playlist",
)

__all__ = [
    "PackageError",
    "PackageOptions",
    "PackageResult",
    "RenditionResult",
    "package",
    "read_top_level_boxes",
    "sanitize_name",
]

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
        from packager.progress import render_bar, render_line

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


class _Probe:
    """`ffmpeg -i INPUT`, started at once and read when its answer is needed."""

    def __init__(self, ffmpeg: str, path: str) -> None:
        self.path = path
        try:
            self.proc = subprocess.Popen(
                [ffmpeg, "-hide_banner", "-nostdin", "-i", path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise PackageError(f"cannot run ffmpeg {ffmpeg!r}: {exc.strerror}") from None

    def result(self) -> MediaInfo:
        from packager.probe import ProbeError, parse_probe

        try:
            # Exit status 1 is normal: no output file was given.
            _, err = self.proc.communicate(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise PackageError(
                f"{self.path}: ffmpeg took over {PROBE_TIMEOUT}s to open it"
            ) from None
        try:
            return parse_probe(err.decode("utf-8", "replace"))
        except ProbeError as exc:
            raise PackageError(f"{self.path}: {exc}") from None

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _ffmpeg_failure(log: str, rc: int, opts: PackageOptions) -> PackageError:
    if rc == 256 - errno.ENOSPC:  # ffmpeg exits with AVERROR(errno) & 0xff
        log = "No space left on device\n" + log
    for needle, message in _FFMPEG_FAILURES:
        if needle in log:
            return PackageError(message.format(dest=opts.dest, input=opts.input))
    last = next((ln.strip() for ln in reversed(log.splitlines()) if ln.strip()), "")
    return PackageError(f"{opts.input}: ffmpeg failed (exit {rc}): {last or 'no message'}")


class _Ffmpeg:
    """One ffmpeg run writing each rendition's fMP4 to a pipe ("pipe:N") that a `Sink` reads.

    Started as soon as its command is known (`build` turns the pipe URLs into the command);
    `finish()` then cuts the streams into segments while feeding -progress to the reporter,
    or `abort()` stops it. (Starting the sinks before the probe answers, into placeholder
    directories, measured no faster: ffmpeg only waits on a full pipe for those few ms, and
    the sink threads then compete with the imports for the interpreter.)
    """

    def __init__(self, build: Callable[[list[str]], list[str]], outputs: int) -> None:
        self.read_fds: list[int] = []
        write_fds: list[int] = []
        self.sinks: list[Sink] = []
        self.threads: list[threading.Thread] = []
        # The log goes to an anonymous file in the system temp dir, not beside the output:
        # when the output disk is full, the log saying so must still be writable.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by abort())
        try:
            for _ in range(outputs):
                r, w = make_pipe()
                self.read_fds.append(r)
                write_fds.append(w)
            self.urls = [f"pipe:{w}" for w in write_fds]
            self.args = build(self.urls)
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self.log,
                text=True,
                pass_fds=write_fds,
            )
        except BaseException:
            for fd in self.read_fds:
                os.close(fd)
            self.log.close()
            raise
        finally:
            for fd in write_fds:  # ffmpeg holds them now; the sinks must see its EOF
                os.close(fd)
        self._unread = list(self.read_fds)  # read ends no sink thread has taken over

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def finish(
        self, reporter: _Reporter, outdirs: Sequence[str], segment_target: int
    ) -> tuple[int, str]:
        """Run to the end; return (exit code, log). Sink failures are in `sink.error`."""
        from packager.progress import ProgressParser

        try:
            for fd, outdir in zip(self.read_fds, outdirs, strict=True):
                sink = Sink(fd, outdir, segment_target, self.stop)
                thread = threading.Thread(target=sink.run, name=f"sink {outdir}", daemon=True)
                thread.start()  # from here the sink owns (and closes) its read end
                self._unread.remove(fd)
                self.sinks.append(sink)
                self.threads.append(thread)
            parser = ProgressParser()
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if (p := parser.feed_line(line)) is not None:
                    reporter.update(p)
            rc = self.proc.wait()
        finally:
            self._release()  # Ctrl-C, SIGTERM or any failure here: ffmpeg must not outlive us
        reporter.finish()
        self.log.seek(0)
        return rc, self.log.read().decode("utf-8", "replace")

    def abort(self) -> None:
        """Stop ffmpeg if it still runs; release everything (again harmless)."""
        self._release()
        self.log.close()

    def _release(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        # The sinks see the end of their pipes once ffmpeg is gone; they must be done before
        # the temporary directory is removed.
        for thread in self.threads:
            thread.join()
        for fd in self._unread:
            os.close(fd)
        self._unread = []


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


def _describe(name: str, split: Split) -> RenditionResult:
    from packager.codecs import build_codec_string, build_codecs_attribute
    from packager.model import Resolution

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
    from packager.model import IFrameStreamInf, MultivariantPlaylist, StreamInf
    from packager.playlist import render_media_playlist, render_multivariant_playlist

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
    write_file(path, text.encode("utf-8"))


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
    dest = os.path.abspath(opts.dest)
    probe = _Probe(ffmpeg, opts.input)
    tmp: str | None = None
    run: _Ffmpeg | None = None
    try:
        if opts.copy:
            tmp, run = _speculate(opts, ffmpeg)
        _import_the_rest()
        info = probe.result()
        if info.video is None and info.audio is None:
            raise PackageError(f"{opts.input}: no video or audio stream; nothing to package")
        if opts.copy and (reason := check_copy(info)):
            raise PackageError(f"{opts.input}: {reason}")
        plan = _plan(opts, info)
        names = [r.name for r in plan.renditions] or ["audio"]
        progressive = f"{opts.name}{'.mp4' if plan.renditions else '.m4a'}"

        def build(urls: list[str]) -> list[str]:
            assert tmp is not None
            faststart = os.path.join(tmp, progressive)
            if opts.copy:
                return build_copy_args(ffmpeg, opts.input, info, urls[0], faststart)
            return build_encode_args(ffmpeg, opts.input, plan, urls, faststart)

        if tmp is not None and run is not None and build(run.urls) != run.args:
            run.abort()  # the guess was wrong: start over, from a clean temporary directory
            run = None
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        if tmp is None:
            tmp = _prepare_destination(opts)
        if run is None:
            run = _Ffmpeg(build, len(names))
        return _package_into(opts, info, run, names, progressive, tmp, dest, out, started)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise PackageError(f"disk full while writing {dest}; free space or use --out") from None
        raise PackageError(f"{dest}: cannot write the title ({_why(exc)})") from None
    finally:
        probe.abort()
        if run is not None:
            run.abort()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when the title was published


def _import_the_rest() -> None:
    for name in _LATE_IMPORTS:
        importlib.import_module(name)


def _speculate(opts: PackageOptions, ffmpeg: str) -> tuple[str | None, _Ffmpeg | None]:
    """For --copy, start the remux at once, as if the input had H.264 video and AAC audio.

    It runs beside the probe, hiding the probe's time: the probe still decides everything.
    `package` keeps this run only if the probed input gives the very same ffmpeg command;
    otherwise (another codec, no audio, no video, ...) it is killed and its temporary
    directory removed before anything else happens. Nothing is started when the destination
    cannot be prepared: that error is reported in its usual turn, after the probe's.
    """
    try:
        tmp = _prepare_destination(opts)
    except PackageError:
        return None, None
    from packager.probe import MediaInfo, StreamInfo

    guess = MediaInfo("", None, (StreamInfo(0, "video", "h264"), StreamInfo(1, "audio", "aac")))
    faststart = os.path.join(tmp, f"{opts.name}.mp4")
    try:
        run = _Ffmpeg(
            lambda urls: build_copy_args(ffmpeg, opts.input, guess, urls[0], faststart), 1
        )
    except OSError:  # cannot run ffmpeg: the probe says so
        return tmp, None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, run


def _run_and_collect(
    opts: PackageOptions, run: _Ffmpeg, reporter: _Reporter, names: Sequence[str], tmp: str
) -> list[RenditionResult]:
    outdirs = [os.path.join(tmp, name) for name in names]
    rc, log = run.finish(reporter, outdirs, opts.segment_target)
    sinks = run.sinks
    # Whose failure to report: a sink that stopped ffmpeg (its disk write or our parse
    # failed) → that; else ffmpeg's own failure (a sink then merely saw its pipe end early);
    # else anything a sink found in output ffmpeg believed complete.
    for sink in sinks:
        if sink.stopped_ffmpeg and sink.error is not None:
            raise sink.error
    if rc != 0 or any(needle in log for needle, _ in _FFMPEG_FAILURES):
        raise _ffmpeg_failure(log, rc, opts)
    results: list[RenditionResult] = []
    for name, sink in zip(names, sinks, strict=True):
        if sink.error is not None:
            raise sink.error
        if not sink.split.segments:
            raise PackageError(f"{opts.input}: no media could be decoded from it")
        results.append(_describe(name, sink.split))
    return results


def _package_into(
    opts: PackageOptions,
    info: MediaInfo,
    run: _Ffmpeg,
    names: Sequence[str],
    progressive: str,
    tmp: str,
    dest: str,
    out: IO[str],
    started: float,
) -> PackageResult:
    from packager.boxes import BoxError

    what = "remuxing" if opts.copy else f"encoding {len(names)} rendition(s)"
    reporter = _Reporter(out, info.duration, f"{opts.name}: {what}", opts.quiet)
    try:
        results = _run_and_collect(opts, run, reporter, names, tmp)
        boxes = read_top_level_boxes(os.path.join(tmp, progressive))
    except BoxError as exc:
        raise PackageError(f"{opts.input}: ffmpeg wrote unreadable output ({exc})") from None
    _check_complete(opts, info, results)
    if "moov" not in boxes or "mdat" not in boxes or boxes.index("moov") > boxes.index("mdat"):
        raise PackageError(f"{progressive}: ffmpeg did not write a fast-start file ({boxes})")
    _write_playlists(tmp, results)
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
