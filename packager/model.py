"""Typed HLS tags: frozen values that `packager.playlist` renders, one render function per tag.

Durations are exact `Fraction` seconds (built from integer ticks / timescale), so comparisons
such as "part ≤ PART-TARGET" are exact; decimals appear only in rendered text. Each field
names the tag attribute it renders in a comment. Tag semantics: draft-pantos-hls-rfc8216bis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

__all__ = [
    "ByteRange",
    "IFrameStreamInf",
    "Map",
    "Media",
    "MediaPlaylist",
    "MultivariantPlaylist",
    "Part",
    "PreloadHint",
    "RenditionReport",
    "Resolution",
    "Segment",
    "ServerControl",
    "Skip",
    "StreamInf",
    "Variant",
]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A sub-range of a resource: `<length>[@<offset>]` (rfc8216bis §4.4.4.2)."""

    length: int  # n
    offset: int | None = None  # @o; None = right after the previous range of the same URI


@dataclass(frozen=True, slots=True)
class Map:
    """EXT-X-MAP: the init segment (rfc8216bis §4.4.4.5)."""

    uri: str  # URI
    byterange: ByteRange | None = None  # BYTERANGE


@dataclass(frozen=True, slots=True)
class Part:
    """EXT-X-PART (rfc8216bis §4.4.4.9)."""

    uri: str  # URI
    duration: Fraction  # DURATION, seconds
    independent: bool = False  # INDEPENDENT=YES
    gap: bool = False  # GAP=YES
    byterange: ByteRange | None = None  # BYTERANGE


@dataclass(frozen=True, slots=True)
class Segment:
    """A media segment: EXTINF + URI with the tags that precede it."""

    uri: str  # the URI line
    duration: Fraction  # EXTINF, seconds
    parts: tuple[Part, ...] = ()  # EXT-X-PART lines before the EXTINF (may be dropped when old)
    program_date_time: datetime | None = None  # EXT-X-PROGRAM-DATE-TIME (timezone-aware)
    discontinuity: bool = False  # EXT-X-DISCONTINUITY
    map: Map | None = None  # EXT-X-MAP that takes effect at this segment (None = unchanged)
    byterange: ByteRange | None = None  # EXT-X-BYTERANGE
    gap: bool = False  # EXT-X-GAP


@dataclass(frozen=True, slots=True)
class ServerControl:
    """EXT-X-SERVER-CONTROL (rfc8216bis §4.4.3.8)."""

    can_block_reload: bool = False  # CAN-BLOCK-RELOAD=YES
    can_skip_until: Fraction | None = None  # CAN-SKIP-UNTIL, seconds
    can_skip_dateranges: bool = False  # CAN-SKIP-DATERANGES=YES
    hold_back: Fraction | None = None  # HOLD-BACK, seconds
    part_hold_back: Fraction | None = None  # PART-HOLD-BACK, seconds


@dataclass(frozen=True, slots=True)
class PreloadHint:
    """EXT-X-PRELOAD-HINT (rfc8216bis §4.4.5.3)."""

    uri: str  # URI
    type: str = "PART"  # TYPE: PART or MAP
    byterange_start: int | None = None  # BYTERANGE-START
    byterange_length: int | None = None  # BYTERANGE-LENGTH


@dataclass(frozen=True, slots=True)
class RenditionReport:
    """EXT-X-RENDITION-REPORT (rfc8216bis §4.4.5.4)."""

    uri: str  # URI
    last_msn: int  # LAST-MSN
    last_part: int | None = None  # LAST-PART


@dataclass(frozen=True, slots=True)
class Skip:
    """EXT-X-SKIP (rfc8216bis §4.4.5.2)."""

    skipped_segments: int  # SKIPPED-SEGMENTS
    recently_removed_dateranges: tuple[str, ...] = ()  # RECENTLY-REMOVED-DATERANGES


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A media playlist, live (LL-HLS) or VOD."""

    target_duration: int  # EXT-X-TARGETDURATION, seconds
    segments: tuple[Segment, ...]  # complete segments, oldest first
    media_sequence: int = 0  # EXT-X-MEDIA-SEQUENCE: msn of segments[0]
    discontinuity_sequence: int = 0  # EXT-X-DISCONTINUITY-SEQUENCE (rendered when > 0)
    map: Map | None = None  # EXT-X-MAP in effect at segments[0]
    part_target: Fraction | None = None  # EXT-X-PART-INF:PART-TARGET, seconds
    server_control: ServerControl | None = None  # EXT-X-SERVER-CONTROL
    partial_parts: tuple[Part, ...] = ()  # EXT-X-PART of the segment in progress
    partial_program_date_time: datetime | None = None  # PDT of the segment in progress
    partial_discontinuity: bool = False  # segment in progress follows a discontinuity
    partial_map: Map | None = None  # EXT-X-MAP that takes effect at the segment in progress
    preload_hint: PreloadHint | None = None  # EXT-X-PRELOAD-HINT
    rendition_reports: tuple[RenditionReport, ...] = ()  # EXT-X-RENDITION-REPORT
    endlist: bool = False  # EXT-X-ENDLIST
    playlist_type: str | None = None  # EXT-X-PLAYLIST-TYPE: VOD or EVENT
    independent_segments: bool = False  # EXT-X-INDEPENDENT-SEGMENTS
    i_frames_only: bool = False  # EXT-X-I-FRAMES-ONLY


@dataclass(frozen=True, slots=True)
class Resolution:
    """RESOLUTION=<width>x<height>."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StreamInf:
    """EXT-X-STREAM-INF + URI: one variant (rfc8216bis §4.4.6.2)."""

    uri: str  # the URI line
    bandwidth: int  # BANDWIDTH, bits/s, peak
    average_bandwidth: int | None = None  # AVERAGE-BANDWIDTH, bits/s
    codecs: str | None = None  # CODECS, RFC 6381 list
    resolution: Resolution | None = None  # RESOLUTION
    frame_rate: Fraction | None = None  # FRAME-RATE (rendered to 3 decimals)
    audio: str | None = None  # AUDIO group id


Variant = StreamInf


@dataclass(frozen=True, slots=True)
class Media:
    """EXT-X-MEDIA: an alternative rendition (rfc8216bis §4.4.6.1)."""

    type: str  # TYPE: AUDIO, VIDEO, SUBTITLES, CLOSED-CAPTIONS
    group_id: str  # GROUP-ID
    name: str  # NAME
    uri: str | None = None  # URI (None = muxed into the variant)
    language: str | None = None  # LANGUAGE
    default: bool = False  # DEFAULT=YES
    autoselect: bool = False  # AUTOSELECT=YES
    channels: str | None = None  # CHANNELS


@dataclass(frozen=True, slots=True)
class IFrameStreamInf:
    """EXT-X-I-FRAME-STREAM-INF (rfc8216bis §4.4.6.3)."""

    uri: str  # URI
    bandwidth: int  # BANDWIDTH, bits/s
    average_bandwidth: int | None = None  # AVERAGE-BANDWIDTH
    codecs: str | None = None  # CODECS
    resolution: Resolution | None = None  # RESOLUTION


@dataclass(frozen=True, slots=True)
class MultivariantPlaylist:
    """A multivariant (master) playlist."""

    variants: tuple[StreamInf, ...]  # EXT-X-STREAM-INF
    media: tuple[Media, ...] = ()  # EXT-X-MEDIA
    i_frame_variants: tuple[IFrameStreamInf, ...] = ()  # EXT-X-I-FRAME-STREAM-INF
    independent_segments: bool = True  # EXT-X-INDEPENDENT-SEGMENTS
