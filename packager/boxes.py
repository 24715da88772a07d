"""Incremental, sans-I/O parser for fragmented MP4 (CMAF) byte streams.

Feed bytes as they arrive from the encoder pipe; get back `InitSegment` (ftyp+moov) and
`Fragment` (moof+mdat, with any styp/prft/sidx/emsg that precede it) events. Bytes of an
unfinished box are held until more arrive. `close()` raises `BoxError` if bytes of an
unfinished box are left over: a truncated stream is a fault the caller must see, not a
silently shorter one.

Box layouts: ISO/IEC 14496-12 (ISOBMFF); sample entries: ISO/IEC 14496-15 (avcC, hvcC),
ISO/IEC 14496-14 (esds).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "BoxError",
    "BoxReader",
    "Event",
    "Fragment",
    "InitSegment",
    "TrackInfo",
    "TrackRun",
    "TrexDefaults",
    "iter_boxes",
    "parse_fragment",
    "parse_init_segment",
]

# A sample whose flags have this bit set is not a sync sample (ISO/IEC 14496-12 §8.8.3.1).
SAMPLE_IS_NON_SYNC = 0x00010000

# tfhd flags (ISO/IEC 14496-12 §8.8.7.1)
_TFHD_BASE_DATA_OFFSET = 0x000001
_TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002
_TFHD_DEFAULT_DURATION = 0x000008
_TFHD_DEFAULT_SIZE = 0x000010
_TFHD_DEFAULT_FLAGS = 0x000020

# trun flags (ISO/IEC 14496-12 §8.8.8.1)
_TRUN_DATA_OFFSET = 0x000001
_TRUN_FIRST_SAMPLE_FLAGS = 0x000004
_TRUN_DURATION = 0x000100
_TRUN_SIZE = 0x000200
_TRUN_FLAGS = 0x000400
_TRUN_CTO = 0x000800

# Top-level boxes that travel with the next moof: a part file must carry them.
_FRAGMENT_PREFIX_TYPES = frozenset({"styp", "prft", "sidx", "emsg"})
# Top-level boxes that belong to the init segment when seen before/with moov.
_INIT_TYPES = frozenset({"ftyp", "moov"})
# Containers walked to reach the boxes we read.
_VISUAL_ENTRIES = frozenset({"avc1", "avc3", "hvc1", "hev1", "encv"})
_AUDIO_ENTRIES = frozenset({"mp4a", "enca"})
_CODEC_CONFIG_TYPES = frozenset({"avcC", "hvcC", "esds"})


class BoxError(ValueError):
    """The byte stream is not well-formed fragmented MP4 (or ended mid-box)."""


@dataclass(frozen=True, slots=True)
class TrexDefaults:
    """Per-track fragment defaults from moov/mvex/trex."""

    sample_description_index: int
    sample_duration: int
    sample_size: int
    sample_flags: int


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One track of an init segment."""

    track_id: int
    handler: str  # 'vide', 'soun', ...
    timescale: int  # mdhd ticks per second
    width: int  # visual sample entry (or tkhd) width; 0 for audio
    height: int
    sample_entry: str  # 'avc1', 'hvc1', 'mp4a', ...
    codec_config_type: str  # 'avcC', 'hvcC', 'esds' or '' if absent
    codec_config: bytes  # payload of the codec configuration box (after its header)
    channel_count: int  # audio sample entry; 0 for video
    sample_rate: int  # audio sample entry (integer part of 16.16); 0 for video
    trex: TrexDefaults | None


@dataclass(frozen=True, slots=True)
class TrackRun:
    """What one traf says about its track in one fragment."""

    track_id: int
    handler: str  # from the init segment; '' if the track is unknown
    timescale: int  # from the init segment; 0 if the track is unknown
    base_media_decode_time: int  # tfdt
    sample_count: int
    duration: int  # ticks: trun per-sample → tfhd default → trex default
    first_sample_is_sync: bool
    size: int  # bytes of sample data


@dataclass(frozen=True, slots=True)
class InitSegment:
    """ftyp+moov: the bytes of the EXT-X-MAP resource and what they declare."""

    data: bytes
    tracks: tuple[TrackInfo, ...]

    def track(self, handler: str) -> TrackInfo | None:
        """Return the first track with this handler, or None."""
        return next((t for t in self.tracks if t.handler == handler), None)


@dataclass(frozen=True, slots=True)
class Fragment:
    """moof+mdat (with any preceding styp/prft/sidx/emsg): the bytes of one part."""

    data: bytes
    tracks: tuple[TrackRun, ...]
    sequence_number: int  # mfhd

    def primary(self) -> TrackRun:
        """Return the video run if there is one, else the first run."""
        return next((r for r in self.tracks if r.handler == "vide"), self.tracks[0])


Event = InitSegment | Fragment


def iter_boxes(
    data: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int, int]]:
    """Yield (type, box_start, payload_start, box_end) for each complete box in data[start:end]."""
    view = memoryview(data)
    stop = len(view) if end is None else end
    pos = start
    while pos < stop:
        if stop - pos < 8:
            raise BoxError(f"{stop - pos} stray bytes at offset {pos}")
        size, raw_type = struct.unpack_from(">I4s", view, pos)
        header = 8
        if size == 1:
            if stop - pos < 16:
                raise BoxError(f"truncated largesize header at offset {pos}")
            (size,) = struct.unpack_from(">Q", view, pos + 8)
            header = 16
        elif size == 0:
            size = stop - pos
        if size < header or pos + size > stop:
            raise BoxError(f"box {_fourcc(raw_type)!r} at offset {pos} has bad size {size}")
        yield _fourcc(raw_type), pos, pos + header, pos + size
        pos += size


def _fourcc(raw: bytes) -> str:
    return raw.decode("latin-1")


def _children(data: bytes, payload: int, end: int) -> dict[str, list[tuple[int, int]]]:
    """Map child type → [(payload_start, box_end)] for the boxes in data[payload:end]."""
    found: dict[str, list[tuple[int, int]]] = {}
    for kind, _, p, e in iter_boxes(data, payload, end):
        found.setdefault(kind, []).append((p, e))
    return found


def _one(children: dict[str, list[tuple[int, int]]], kind: str, where: str) -> tuple[int, int]:
    boxes = children.get(kind)
    if not boxes:
        raise BoxError(f"{where} has no {kind}")
    return boxes[0]


def _parse_trex(data: bytes, p: int) -> tuple[int, TrexDefaults]:
    track_id, sdi, dur, size, flags = struct.unpack_from(">IIIII", data, p + 4)
    return track_id, TrexDefaults(sdi, dur, size, flags)


def _parse_sample_entry(data: bytes, p: int, e: int) -> tuple[str, int, int, str, bytes, int, int]:
    """Return (type, width, height, config_type, config, channels, rate) of stsd's first entry."""
    # stsd is a FullBox: version/flags, entry_count, then the entries.
    entries = list(iter_boxes(data, p + 8, e))
    if not entries:
        raise BoxError("stsd has no sample entry")
    kind, _, ep, ee = entries[0]
    width = height = channels = rate = 0
    children_at = ep + 8  # SampleEntry: reserved(6) + data_reference_index(2)
    if kind in _VISUAL_ENTRIES:
        # VisualSampleEntry: 16 bytes pre_defined/reserved, then width, height (u16 each).
        width, height = struct.unpack_from(">HH", data, ep + 8 + 16)
        children_at = ep + 8 + 70
    elif kind in _AUDIO_ENTRIES:
        # AudioSampleEntry: 8 reserved, channelcount, samplesize, 4 reserved, samplerate 16.16.
        channels, _ = struct.unpack_from(">HH", data, ep + 8 + 8)
        rate = struct.unpack_from(">I", data, ep + 8 + 16)[0] >> 16
        children_at = ep + 8 + 20
    config_type, config = "", b""
    if kind in _VISUAL_ENTRIES or kind in _AUDIO_ENTRIES:
        for child, _, cp, ce in iter_boxes(data, children_at, ee):
            if child in _CODEC_CONFIG_TYPES:
                config_type, config = child, bytes(data[cp:ce])
                break
    return kind, width, height, config_type, config, channels, rate


def _parse_trak(data: bytes, p: int, e: int, trex: dict[int, TrexDefaults]) -> TrackInfo:
    trak = _children(data, p, e)
    tp, _ = _one(trak, "tkhd", "trak")
    version = data[tp]
    # tkhd: v1 has 64-bit times; track_ID follows creation/modification times.
    track_id = struct.unpack_from(">I", data, tp + (20 if version == 1 else 12))[0]
    # width/height are the last 8 bytes of tkhd, 16.16 fixed point.
    tkhd_end = _one(trak, "tkhd", "trak")[1]
    tk_w, tk_h = struct.unpack_from(">II", data, tkhd_end - 8)
    mdia = _children(data, *_one(trak, "mdia", "trak"))
    mp, _ = _one(mdia, "mdhd", "mdia")
    timescale = struct.unpack_from(">I", data, mp + (20 if data[mp] == 1 else 12))[0]
    hp, _ = _one(mdia, "hdlr", "mdia")
    handler = _fourcc(data[hp + 8 : hp + 12])
    minf = _children(data, *_one(mdia, "minf", "mdia"))
    stbl = _children(data, *_one(minf, "stbl", "minf"))
    kind, width, height, ctype, config, channels, rate = _parse_sample_entry(
        data, *_one(stbl, "stsd", "stbl")
    )
    if handler == "vide" and not (width and height):
        width, height = tk_w >> 16, tk_h >> 16
    return TrackInfo(
        track_id=track_id,
        handler=handler,
        timescale=timescale,
        width=width,
        height=height,
        sample_entry=kind,
        codec_config_type=ctype,
        codec_config=config,
        channel_count=channels,
        sample_rate=rate,
        trex=trex.get(track_id),
    )


def parse_init_segment(data: bytes) -> InitSegment:
    """Given complete ftyp+moov bytes, return the InitSegment they describe."""
    top = _children(data, 0, len(data))
    moov = _children(data, *_one(top, "moov", "init segment"))
    trex: dict[int, TrexDefaults] = {}
    for mp, me in moov.get("mvex", []):
        for tp, _ in _children(data, mp, me).get("trex", []):
            track_id, defaults = _parse_trex(data, tp)
            trex[track_id] = defaults
    tracks = tuple(_parse_trak(data, p, e, trex) for p, e in moov.get("trak", []))
    return InitSegment(data=data, tracks=tracks)


def _parse_traf(data: bytes, p: int, e: int, tracks: dict[int, TrackInfo]) -> TrackRun:
    traf = _children(data, p, e)
    hp, _ = _one(traf, "tfhd", "traf")
    flags = int.from_bytes(data[hp + 1 : hp + 4], "big")
    (track_id,) = struct.unpack_from(">I", data, hp + 4)
    info = tracks.get(track_id)
    trex = info.trex if info else None
    pos = hp + 8
    if flags & _TFHD_BASE_DATA_OFFSET:
        pos += 8
    if flags & _TFHD_SAMPLE_DESCRIPTION_INDEX:
        pos += 4
    default_duration = trex.sample_duration if trex else None
    default_size = trex.sample_size if trex else None
    default_flags = trex.sample_flags if trex else None
    if flags & _TFHD_DEFAULT_DURATION:
        (default_duration,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & _TFHD_DEFAULT_SIZE:
        (default_size,) = struct.unpack_from(">I", data, pos)
        pos += 4
    if flags & _TFHD_DEFAULT_FLAGS:
        (default_flags,) = struct.unpack_from(">I", data, pos)

    tfdt = traf.get("tfdt")
    if not tfdt:
        # ISO/IEC 23000-19 §7.5.16: CMAF requires tfdt in every traf; without it, no timing.
        raise BoxError(f"traf of track {track_id} has no tfdt")
    dp = tfdt[0][0]
    if data[dp] == 1:
        (base_time,) = struct.unpack_from(">Q", data, dp + 4)
    else:
        (base_time,) = struct.unpack_from(">I", data, dp + 4)

    sample_count = duration = size = 0
    first_sync: bool | None = None
    for rp, _ in traf.get("trun", []):
        rflags = int.from_bytes(data[rp + 1 : rp + 4], "big")
        (count,) = struct.unpack_from(">I", data, rp + 4)
        pos = rp + 8
        if rflags & _TRUN_DATA_OFFSET:
            pos += 4
        first_flags: int | None = None
        if rflags & _TRUN_FIRST_SAMPLE_FLAGS:
            (first_flags,) = struct.unpack_from(">I", data, pos)
            pos += 4
        for i in range(count):
            sample_duration, sample_size, sample_flags = default_duration, default_size, None
            if rflags & _TRUN_DURATION:
                (sample_duration,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if rflags & _TRUN_SIZE:
                (sample_size,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if rflags & _TRUN_FLAGS:
                (sample_flags,) = struct.unpack_from(">I", data, pos)
                pos += 4
            if rflags & _TRUN_CTO:
                pos += 4
            if sample_duration is None or sample_size is None:
                raise BoxError(f"track {track_id}: sample duration/size has no source")
            duration += sample_duration
            size += sample_size
            if first_sync is None and i == 0:
                # Order per llhls-rules.md: first_sample_flags → per-sample → tfhd → trex.
                resolved = first_flags if first_flags is not None else sample_flags
                resolved = resolved if resolved is not None else default_flags
                if resolved is None:
                    raise BoxError(f"track {track_id}: first sample flags have no source")
                first_sync = not resolved & SAMPLE_IS_NON_SYNC
        sample_count += count
    return TrackRun(
        track_id=track_id,
        handler=info.handler if info else "",
        timescale=info.timescale if info else 0,
        base_media_decode_time=base_time,
        sample_count=sample_count,
        duration=duration,
        first_sample_is_sync=bool(first_sync),
        size=size,
    )


def parse_fragment(
    data: bytes, moof_start: int, moof_end: int, tracks: dict[int, TrackInfo]
) -> Fragment:
    """Given bytes holding a moof at [moof_start, moof_end), return the Fragment (data = all)."""
    _, _, payload, _ = next(iter_boxes(data, moof_start, moof_end))
    moof = _children(data, payload, moof_end)
    mp, _ = _one(moof, "mfhd", "moof")
    (sequence_number,) = struct.unpack_from(">I", data, mp + 4)
    runs = tuple(_parse_traf(data, p, e, tracks) for p, e in moof.get("traf", []))
    if not runs:
        raise BoxError("moof has no traf")
    return Fragment(data=data, tracks=runs, sequence_number=sequence_number)


class BoxReader:
    """Sans-I/O fMP4 reader: `feed()` bytes, get `InitSegment`/`Fragment` events.

    `close()` returns the events a final size==0 box completes and raises `BoxError`
    if bytes of an unfinished box remain. Top-level boxes that are neither init, fragment
    nor fragment prefix (free, skip, mfra, ...) are dropped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._tracks: dict[int, TrackInfo] = {}
        self._init = bytearray()  # ftyp (+ anything) seen before moov completes
        self._pending = bytearray()  # styp/prft/sidx/emsg + moof awaiting mdat
        self._moof: tuple[int, int] | None = None  # (start, end) of moof within _pending
        self._closed = False

    @property
    def buffered(self) -> int:
        """Bytes held: an unfinished box plus fragment boxes waiting for their mdat."""
        return len(self._buf) + len(self._pending)

    def feed(self, data: bytes) -> list[Event]:
        """Consume data; return the events it completes."""
        if self._closed:
            raise BoxError("feed() after close()")
        self._buf += data
        return self._drain(at_end=False)

    def close(self) -> list[Event]:
        """End of stream: return remaining events; raise BoxError on leftover bytes."""
        if self._closed:
            return []
        events = self._drain(at_end=True)
        self._closed = True
        if self._buf:
            raise BoxError(f"stream ended inside a box: {len(self._buf)} bytes left over")
        if self._moof is not None:
            raise BoxError("stream ended after a moof without its mdat")
        return events

    def _next_box(self, at_end: bool) -> tuple[str, int] | None:
        """Return (type, size) of the complete box at the head of the buffer, or None."""
        buf = self._buf
        if len(buf) < 8:
            return None
        size, raw_type = struct.unpack_from(">I4s", buf, 0)
        header = 8
        if size == 1:
            if len(buf) < 16:
                return None
            (size,) = struct.unpack_from(">Q", buf, 8)
            header = 16
        elif size == 0:
            # Size 0 means "to the end of the file" (ISO/IEC 14496-12 §4.2): only known at close.
            if not at_end:
                return None
            size = len(buf)
        if size < header:
            raise BoxError(f"box {_fourcc(raw_type)!r} declares size {size} < header {header}")
        if len(buf) < size:
            return None
        return _fourcc(raw_type), size

    def _drain(self, at_end: bool) -> list[Event]:
        events: list[Event] = []
        while (head := self._next_box(at_end)) is not None:
            kind, size = head
            box = bytes(self._buf[:size])
            del self._buf[:size]
            event = self._take(kind, box)
            if event is not None:
                events.append(event)
        return events

    def _take(self, kind: str, box: bytes) -> Event | None:
        if kind in _INIT_TYPES:
            if self._pending:
                raise BoxError(f"{kind} inside a fragment")
            self._init += box
            if kind == "moov":
                init = parse_init_segment(bytes(self._init))
                self._init.clear()
                self._tracks = {t.track_id: t for t in init.tracks}
                return init
            return None
        if kind in _FRAGMENT_PREFIX_TYPES:
            if self._moof is not None:
                raise BoxError(f"{kind} between moof and mdat")
            self._pending += box
            return None
        if kind == "moof":
            if self._moof is not None:
                raise BoxError("moof without mdat")
            self._moof = (len(self._pending), len(self._pending) + len(box))
            self._pending += box
            return None
        if kind == "mdat":
            if self._moof is None:
                raise BoxError("mdat without moof")
            self._pending += box
            data = bytes(self._pending)
            moof_start, moof_end = self._moof
            self._pending.clear()
            self._moof = None
            return parse_fragment(data, moof_start, moof_end, self._tracks)
        return None
