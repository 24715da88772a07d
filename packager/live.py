"""The live packager: ffmpeg → fMP4 pipes → parts and segments on disk → playlists → the hub.

One `ChannelRunner` per channel is the only writer of its window (design.md "One writer per
live stream"). Per fragment it: writes the part (and, when a segment closes, the segment)
atomically, adds it to the rendition's Window, renders the full and delta playlists once, writes
the playlist, then publishes the view. Nothing is announced before its bytes are on disk.

Faults: ffmpeg exiting, or silent for 2 x TD, is killed and restarted with backoff; the stream
goes on with EXT-X-DISCONTINUITY, a new init (EXT-X-MAP) and rising MEDIA-SEQUENCE. A failed
write (disk full, permissions) logs one line (rate-limited), closes the segment in progress
from what was published, and restarts the encoder once writing works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from origin.config import LiveChannel, Rendition
from packager.boxes import BoxError, BoxReader, Fragment, InitSegment
from packager.codecs import build_codecs_attribute
from packager.ffmpeg import (
    VIDEO_TIMESCALE,
    InputKind,
    build_live_command,
    build_probe_command,
    classify_input,
    parse_probe_output,
    plan_for_channel,
)
from packager.ffmpeg_path import find_ffmpeg
from packager.hub import ChannelView, Publisher, RenditionView
from packager.model import MultivariantPlaylist, Resolution, ServerControl, StreamInf
from packager.playlist import (
    evaluate_skip_boundary,
    render_media_playlist,
    render_multivariant_playlist,
)
from packager.segmenter import (
    FragmentPlan,
    PartReady,
    Segmenter,
    SegmentReady,
)
from packager.store import StoreError, ensure_dir, remove, reset_dir, write_atomic
from packager.window import Window, WindowConfig

log = logging.getLogger("origin.live")

PLAYLIST = "index.m3u8"
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
BACKOFF_FIRST = 0.5  # seconds before the first restart
BACKOFF_MAX = 8.0
HEALTHY_RUN = 60.0  # a run this long resets the backoff
READ_CHUNK = 1 << 16
LOG_EVERY = 10.0  # seconds between repeats of the same error line


def find_font() -> str | None:
    """Return a TTF for the test channel's clock, or None (the clock is then left out)."""
    return next((f for f in FONTS if os.path.isfile(f)), None)


def server_control(plan: FragmentPlan) -> ServerControl:
    """EXT-X-SERVER-CONTROL, identical in every rendition (llhls-rules.md)."""
    td = plan.target_duration
    return ServerControl(
        can_block_reload=True,
        part_hold_back=3 * plan.part_target,  # Apple: PART-HOLD-BACK ≥ 3 x PART-TARGET
        hold_back=Fraction(3 * td),  # rfc8216bis §4.4.3.8: HOLD-BACK ≥ 3 x TD
        can_skip_until=Fraction(6 * td),  # rfc8216bis §4.4.3.8: CAN-SKIP-UNTIL ≥ 6 x TD
    )


class _Throttle:
    """Lets the same log line through once per LOG_EVERY seconds."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def ok(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -LOG_EVERY) >= LOG_EVERY:
            self._last[key] = now
            return True
        return False


@dataclass
class _Rendition:
    """One rendition's state across encoder runs."""

    spec: Rendition
    directory: str
    window: Window
    version: int = 0
    init: InitSegment | None = None
    init_uri: str = ""
    reader: BoxReader = field(default_factory=BoxReader)
    segmenter: Segmenter | None = None
    published: list[PartReady] = field(default_factory=list)  # parts of the open segment
    need_discontinuity: bool = True
    codecs: str = ""
    width: int = 0
    height: int = 0
    peak_bps: int = 0
    total_bits: int = 0
    total_seconds: Fraction = Fraction(0)


class ChannelRunner:
    """Runs one channel until stopped (or until a non-looping file input ends)."""

    def __init__(self, channel: LiveChannel, media_root: str, publisher: Publisher) -> None:
        self.channel = channel
        self.publisher = publisher
        self.directory = os.path.join(media_root, "live", channel.name)
        self.plan = plan_for_channel(channel)
        self.kind = classify_input(channel.input)
        self.control = server_control(self.plan)
        # MSNs start from the wall clock: a restarted server never reuses a segment or part URL
        # that a CDN may still hold as immutable.
        first_msn = int(time.time()) // channel.segment_duration
        self.renditions = [
            _Rendition(
                spec=r,
                directory=os.path.join(self.directory, r.name),
                window=Window(
                    WindowConfig(
                        VIDEO_TIMESCALE,
                        self.plan.target_duration,
                        self.plan.part_target,
                        channel.window_segments,
                        parts_per_segment=self.plan.frames_per_segment // self.plan.frames_per_part,
                    ),
                    first_msn=first_msn,
                ),
            )
            for r in channel.renditions
        ]
        self.multivariant = b""
        self.ended = False
        self._throttle = _Throttle()
        self._proc: asyncio.subprocess.Process | None = None
        self._last_bytes = time.monotonic()
        self._stop = asyncio.Event()
        self._published_parts = 0  # in the current encoder run
        self._anchor: tuple[datetime, int] | None = None  # (wall clock, tfdt) of this run
        self.runs = 0

    # -- the run loop --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Encode, cut and publish until `stop` is set or the input ends for good."""
        self._stop = stop
        reset_dir(self.directory)
        for r in self.renditions:
            ensure_dir(r.directory)
        self.publisher.publish(self._channel_view())
        backoff = BACKOFF_FIRST
        while not stop.is_set() and not self.ended:
            started = time.monotonic()
            self._published_parts = 0
            outcome = await self._run_encoder(stop)
            if stop.is_set() or self.ended:
                break
            # Back off only a crash loop: a run that published media and then ended (an encoder
            # publishing over RTMP/SRT/UDP went away) listens again at once for its return.
            if self._published_parts or time.monotonic() - started >= HEALTHY_RUN:
                backoff = BACKOFF_FIRST
            log.warning(
                "live %s: %s; restarting the encoder in %.1f s",
                self.channel.name, outcome, backoff,
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _run_encoder(self, stop: asyncio.Event) -> str:
        """One ffmpeg run; return why it ended."""
        ffmpeg = find_ffmpeg()
        has_audio = await self._probe_audio(ffmpeg)
        pipes = [os.pipe() for _ in self.renditions]
        write_fds = [w for _, w in pipes]
        args = build_live_command(
            ffmpeg, self.channel, self.plan, write_fds, find_font(), input_has_audio=has_audio
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                pass_fds=write_fds,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C to the server is ours to handle, not ffmpeg's
            )
        finally:
            for w in write_fds:
                os.close(w)
        self._proc = proc
        self._anchor = None  # each run gets its own PROGRAM-DATE-TIME anchor
        self.runs += 1
        self._last_bytes = time.monotonic()
        for r in self.renditions:
            r.reader, r.segmenter, r.init = BoxReader(), None, None
        readers = [
            asyncio.create_task(self._read(r, fd))
            for r, (fd, _) in zip(self.renditions, pipes, strict=True)
        ]
        watch = asyncio.create_task(self._watch(proc))
        stopped = asyncio.create_task(stop.wait())
        tasks: list[asyncio.Task[object]] = [
            *readers,
            watch,
            asyncio.create_task(self._forward_stderr(proc)),
            stopped,
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if not t.cancelled() and t.exception() is not None]
            if failed:
                return str(failed[0].exception())
            if stopped in done:
                return "stopped"
            if watch in done and watch.result().startswith("no output"):
                return watch.result()
            # A pipe closed or ffmpeg exited: let every pipe drain, then take its status.
            limit = 2 * self.plan.target_duration
            await asyncio.wait(readers, timeout=limit)
            for t in readers:
                if t.done() and t.exception() is not None:
                    return str(t.exception())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), limit)
            code = proc.returncode
            if code == 0 and self.kind is InputKind.FILE and not self.channel.loop:
                await self._end_stream()
                return "input ended"
            return f"ffmpeg exited with status {code}"
        finally:
            await self._kill(proc)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not self.ended:
                await self._close_open_segments()

    async def _probe_audio(self, ffmpeg: str) -> bool:
        """Whether a file input has audio (no ffprobe: `ffmpeg -i` prints the streams)."""
        if self.kind is not InputKind.FILE:
            return True  # the test source has a tone; a network input is assumed to
        proc = await asyncio.create_subprocess_exec(
            *build_probe_command(ffmpeg, self.channel.input),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        return parse_probe_output(err.decode("utf-8", "replace")).has_audio

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def _watch(self, proc: asyncio.subprocess.Process) -> str:
        """Kill an encoder that writes nothing for 2 x TD (a hung input or encoder)."""
        limit = 2 * self.plan.target_duration
        while proc.returncode is None:
            await asyncio.sleep(0.5)
            # A network input waits for its encoder: silence is normal until it connects.
            waiting = self.kind.is_network and all(r.init is None for r in self.renditions)
            if not waiting and time.monotonic() - self._last_bytes > limit:
                return f"no output for {limit} s (hung)"
        return f"ffmpeg exited with status {proc.returncode}"

    async def _forward_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line and self._throttle.ok(line[:60]):
                log.warning("live %s: ffmpeg: %s", self.channel.name, line)
        await asyncio.Event().wait()  # stderr closing is not the end of the run: the pipes are

    async def _read(self, r: _Rendition, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_CHUNK * 4, loop=loop)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
        )
        try:
            while chunk := await reader.read(READ_CHUNK):
                self._last_bytes = time.monotonic()
                for event in r.reader.feed(chunk):
                    self._handle(r, event)
        finally:
            transport.close()

    # -- fragments → files → window → playlists ---------------------------------------------
    def _handle(self, r: _Rendition, event: InitSegment | Fragment) -> None:
        if isinstance(event, InitSegment):
            self._on_init(r, event)
            return
        if r.segmenter is None:
            raise BoxError("a fragment before the init segment")
        for ev in r.segmenter.push(event):
            if isinstance(ev, SegmentReady):
                self._publish_segment(r, ev)
            elif isinstance(ev, PartReady):
                self._publish_part(r, ev)
        self._publish_views(r)

    def _on_init(self, r: _Rendition, init: InitSegment) -> None:
        video = init.track("vide")
        if video is None or video.timescale != VIDEO_TIMESCALE:
            raise BoxError(f"unexpected encoder output: video track {video}")
        r.init = init
        r.need_discontinuity = True
        snap = r.window.snapshot()
        dsn = snap.partial_dsn + (1 if snap.segments or snap.partial else 0)
        r.init_uri = f"init{dsn}.mp4"
        write_atomic(os.path.join(r.directory, r.init_uri), init.data)
        r.codecs = build_codecs_attribute(init)
        r.width, r.height = video.width, video.height
        r.segmenter = Segmenter(
            VIDEO_TIMESCALE,
            round(self.plan.part_duration * VIDEO_TIMESCALE),
            round(self.plan.segment_duration * VIDEO_TIMESCALE),
            first_msn=snap.next_msn,
            track_id=video.track_id,
        )

    def _publish_part(self, r: _Rendition, part: PartReady) -> None:
        if r.need_discontinuity:
            if self._anchor is None:
                # First part of an encoder run: anchor PROGRAM-DATE-TIME to the wall clock. The
                # part is complete now, so its first frame was captured one part ago.
                started = datetime.now(UTC) - _ticks(part.duration_ticks)
                self._anchor = (started, part.start_ticks)
            # llhls-rules.md: the same media-time → PDT mapping in every rendition.
            when, ticks0 = self._anchor
            r.window.discontinuity(when + _ticks(part.start_ticks - ticks0), part.start_ticks)
            r.need_discontinuity = False
        uri = r.window.config.naming.part_uri(part.msn, part.index)
        self._write(r, uri, part.data)
        r.window.add_part(part.msn, part.index, part.duration_ticks, part.independent,
                          part.start_ticks)  # fmt: skip
        r.published.append(part)
        self._published_parts += 1
        self._retire(r)

    def _publish_segment(self, r: _Rendition, seg: SegmentReady) -> None:
        self._write(r, r.window.config.naming.segment_uri(seg.msn), seg.data)
        r.window.add_segment(seg.msn, seg.duration_ticks)
        r.published = []
        seconds = Fraction(seg.duration_ticks, VIDEO_TIMESCALE)
        bits = len(seg.data) * 8
        r.peak_bps = max(r.peak_bps, int(bits / seconds))
        r.total_bits += bits
        r.total_seconds += seconds
        self._retire(r)

    def _write(self, r: _Rendition, uri: str, data: bytes) -> None:
        try:
            write_atomic(os.path.join(r.directory, uri), data)
        except StoreError as exc:
            if self._throttle.ok(f"store:{exc.errno}"):
                log.error("live %s: %s", self.channel.name, exc)
            raise

    def _retire(self, r: _Rendition) -> None:
        gone = r.window.take_deletable()
        if gone:
            remove([os.path.join(r.directory, uri) for uri in gone])

    def _publish_views(self, changed: _Rendition) -> None:
        """Render and write `changed`'s playlists, then publish; refresh the multivariant."""
        snaps = {r.spec.name: r.window.snapshot() for r in self.renditions}
        snap = snaps[changed.spec.name]
        if not snap.has_complete_segment:
            return  # llhls-rules.md: no playlist until one complete segment exists
        reports = tuple(
            s.rendition_report(f"../{name}/{PLAYLIST}")
            for name, s in snaps.items()
            if name != changed.spec.name and s.has_complete_segment
        )
        pl = snap.build_media_playlist(self.control, reports)
        full = render_media_playlist(pl).encode()
        boundary = evaluate_skip_boundary(pl)
        delta = None
        if boundary is not None and boundary > pl.media_sequence:
            delta = render_media_playlist(pl, skip_before_msn=boundary).encode()
        self._write(changed, PLAYLIST, full)
        changed.version += 1
        self.publisher.publish(
            RenditionView(self.channel.name, changed.spec.name, changed.version, snap, full, delta)
        )
        self._refresh_multivariant()

    def _refresh_multivariant(self) -> None:
        if not all(r.total_seconds for r in self.renditions):
            return  # every rendition needs a measured segment and its codecs first
        variants = tuple(
            StreamInf(
                uri=f"{r.spec.name}/{PLAYLIST}",
                # rfc8216bis §4.4.6.2: BANDWIDTH is the peak segment bit rate; until enough is
                # measured, never advertise less than the configured rate.
                bandwidth=max(r.peak_bps, self._nominal(r.spec)),
                average_bandwidth=int(r.total_bits / r.total_seconds),
                codecs=r.codecs,
                resolution=Resolution(r.width, r.height),
                frame_rate=Fraction(self.channel.frame_rate),
            )
            for r in sorted(self.renditions, key=lambda r: -r.spec.video_kbps)
        )
        text = render_multivariant_playlist(MultivariantPlaylist(variants=variants)).encode()
        if text != self.multivariant and self._worth_republishing(text):
            write_atomic(os.path.join(self.directory, PLAYLIST), text)
            self.multivariant = text
            self.publisher.publish(self._channel_view())

    def _nominal(self, r: Rendition) -> int:
        """A rendition's configured bit rate (video + audio), bits/s."""
        return (r.video_kbps + self.channel.audio_kbps) * 1000

    def _worth_republishing(self, text: bytes) -> bool:
        # Measured figures drift with every segment; a multivariant is fetched once per
        # session, so refresh it only when a BANDWIDTH or AVERAGE-BANDWIDTH moves by > 10 %.
        if not self.multivariant:
            return True
        old, new = _bandwidths(self.multivariant), _bandwidths(text)
        if len(old) != len(new):
            return True
        return any(abs(n - o) > o / 10 for o, n in zip(old, new, strict=True))

    def _channel_view(self) -> ChannelView:
        return ChannelView(
            name=self.channel.name,
            renditions=tuple(r.spec.name for r in self.renditions),
            multivariant=self.multivariant,
            target_duration=self.plan.target_duration,
            part_target=self.plan.part_target,
            ended=self.ended,
        )

    # -- ends of runs ----------------------------------------------------------------------
    async def _close_open_segments(self) -> None:
        """After a run: close each segment in progress from the parts already published."""
        for r in self.renditions:
            r.segmenter = None
            if not r.published:
                continue
            parts, r.published = r.published, []
            seg = SegmentReady(
                msn=parts[0].msn,
                duration_ticks=sum(p.duration_ticks for p in parts),
                parts=tuple(parts),
                data=b"".join(p.data for p in parts),
                start_ticks=parts[0].start_ticks,
            )
            # The playlist must never name a segment that is not on disk: retry until the write
            # works (the disk was full), or give up unpublished when the channel stops.
            while not self._stop.is_set():
                try:
                    self._publish_segment(r, seg)
                    self._publish_views(r)
                    break
                except StoreError:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), 1.0)

    async def _end_stream(self) -> None:
        """The input ended for good: close segments, EXT-X-ENDLIST, no more hints."""
        for r in self.renditions:
            if r.segmenter is not None:
                for ev in r.segmenter.flush():
                    if isinstance(ev, SegmentReady):
                        self._publish_segment(r, ev)
            r.segmenter = None
            r.window.end()
        self.ended = True
        for r in self.renditions:
            self._publish_views(r)
        self.publisher.publish(self._channel_view())
        log.info("live %s: input ended; playlists closed with EXT-X-ENDLIST", self.channel.name)


def _ticks(ticks: int) -> timedelta:
    return timedelta(microseconds=ticks * 1_000_000 // VIDEO_TIMESCALE)


def _bandwidths(text: bytes) -> list[int]:
    """Every BANDWIDTH and AVERAGE-BANDWIDTH value of a multivariant playlist, in order."""
    out = []
    for line in text.split(b"\n"):
        if line.startswith(b"#EXT-X-STREAM-INF:"):
            attrs = dict(a.split(b"=", 1) for a in line[18:].split(b",") if b"=" in a)
            out += [int(attrs.get(b"BANDWIDTH", b"0")), int(attrs.get(b"AVERAGE-BANDWIDTH", b"0"))]
    return out


async def run_channels(
    channels: tuple[LiveChannel, ...], media_root: str, publisher: Publisher, stop: asyncio.Event
) -> None:
    """Run every channel until `stop` is set."""
    runners = [ChannelRunner(ch, media_root, publisher) for ch in channels]
    for ch in channels:
        log.info("live %s: from %s", ch.name, ch.input)
    results = await asyncio.gather(*(r.run(stop) for r in runners), return_exceptions=True)
    for ch, res in zip(channels, results, strict=True):
        if isinstance(res, BaseException):
            log.error("live %s: stopped: %s", ch.name, res)
    # Ended channels keep their final playlists (EXT-X-ENDLIST) on offer until the server stops;
    # returning would end the packager process and its supervisor would start them over.
    await stop.wait()
