"""Render `packager.model` values to playlist text: one function per tag, plus whole playlists.

Tag order for a live media playlist follows llhls-rules.md "Playlist (media playlist, live)";
the VOD-only tags (PLAYLIST-TYPE, INDEPENDENT-SEGMENTS, I-FRAMES-ONLY) sit between
TARGETDURATION and PART-INF, which keeps that order intact. Decimals come from exact
Fractions, rounded half-up to at most five places with trailing zeros trimmed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from fractions import Fraction

from packager.model import (
    ByteRange,
    IFrameStreamInf,
    Map,
    Media,
    MediaPlaylist,
    MultivariantPlaylist,
    Part,
    PreloadHint,
    RenditionReport,
    Segment,
    ServerControl,
    Skip,
    StreamInf,
)

__all__ = [
    "evaluate_skip_boundary",
    "evaluate_version",
    "format_decimal",
    "render_byterange",
    "render_discontinuity_sequence",
    "render_extinf",
    "render_i_frame_stream_inf",
    "render_map",
    "render_media",
    "render_media_playlist",
    "render_media_sequence",
    "render_multivariant_playlist",
    "render_part",
    "render_part_inf",
    "render_playlist_type",
    "render_preload_hint",
    "render_program_date_time",
    "render_rendition_report",
    "render_segment",
    "render_server_control",
    "render_skip",
    "render_stream_inf",
    "render_target_duration",
    "render_version",
]

DURATION_PLACES = 5
# rfc8216bis §4.4.6.2: FRAME-RATE is rounded to three decimal places.
FRAME_RATE_PLACES = 3

# rfc8216bis §7 (protocol version compatibility): the lowest version each feature needs.
VERSION_BASE = 3  # decimal EXTINF durations
VERSION_BYTERANGE = 4  # EXT-X-BYTERANGE, EXT-X-I-FRAMES-ONLY
VERSION_IFRAME_MAP = 5
VERSION_MAP = 6  # EXT-X-MAP in a playlist without I-FRAMES-ONLY
VERSION_SKIP = 9  # EXT-X-SKIP
VERSION_SKIP_DATERANGES = 10  # EXT-X-SKIP with RECENTLY-REMOVED-DATERANGES
VERSION_I_FRAME_STREAM = 4  # EXT-X-I-FRAME-STREAM-INF


def format_decimal(value: Fraction | int, places: int = DURATION_PLACES) -> str:
    """Return value as a decimal with ≤ places digits (half-up), trailing zeros trimmed."""
    if value < 0:
        raise ValueError(f"negative decimal {value}")
    scale = 10**places
    scaled = int(Fraction(value) * scale + Fraction(1, 2))
    whole, frac = divmod(scaled, scale)
    digits = f"{frac:0{places}d}".rstrip("0") or "0"
    return f"{whole}.{digits}"


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


def _quoted(value: str) -> str:
    # rfc8216bis §4.2: a quoted-string cannot contain CR, LF or '"'.
    if any(c in value for c in '"\r\n'):
        raise ValueError(f"attribute value {value!r} cannot be quoted")
    return f'"{value}"'


def _attrs(pairs: list[tuple[str, str | None]]) -> str:
    return ",".join(f"{k}={v}" for k, v in pairs if v is not None)


def _byterange_value(br: ByteRange) -> str:
    return f"{br.length}" if br.offset is None else f"{br.length}@{br.offset}"


def render_version(version: int) -> str:
    """EXT-X-VERSION."""
    return f"#EXT-X-VERSION:{version}"


def render_target_duration(seconds: int) -> str:
    """EXT-X-TARGETDURATION."""
    return f"#EXT-X-TARGETDURATION:{seconds}"


def render_playlist_type(kind: str) -> str:
    """EXT-X-PLAYLIST-TYPE."""
    if kind not in ("VOD", "EVENT"):
        raise ValueError(f"bad playlist type {kind!r}")
    return f"#EXT-X-PLAYLIST-TYPE:{kind}"


def render_part_inf(part_target: Fraction) -> str:
    """EXT-X-PART-INF."""
    return f"#EXT-X-PART-INF:PART-TARGET={format_decimal(part_target)}"


def render_server_control(sc: ServerControl) -> str:
    """EXT-X-SERVER-CONTROL."""
    fmt = format_decimal
    return "#EXT-X-SERVER-CONTROL:" + _attrs(
        [
            ("CAN-BLOCK-RELOAD", "YES" if sc.can_block_reload else None),
            ("CAN-SKIP-UNTIL", fmt(sc.can_skip_until) if sc.can_skip_until else None),
            ("CAN-SKIP-DATERANGES", "YES" if sc.can_skip_dateranges else None),
            ("HOLD-BACK", fmt(sc.hold_back) if sc.hold_back is not None else None),
            ("PART-HOLD-BACK", fmt(sc.part_hold_back) if sc.part_hold_back is not None else None),
        ]
    )


def render_media_sequence(msn: int) -> str:
    """EXT-X-MEDIA-SEQUENCE."""
    return f"#EXT-X-MEDIA-SEQUENCE:{msn}"


def render_discontinuity_sequence(dsn: int) -> str:
    """EXT-X-DISCONTINUITY-SEQUENCE."""
    return f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}"


def render_skip(skip: Skip) -> str:
    """EXT-X-SKIP."""
    removed = "\t".join(skip.recently_removed_dateranges)
    return "#EXT-X-SKIP:" + _attrs(
        [
            ("SKIPPED-SEGMENTS", str(skip.skipped_segments)),
            ("RECENTLY-REMOVED-DATERANGES", _quoted(removed) if removed else None),
        ]
    )


def render_map(m: Map) -> str:
    """EXT-X-MAP."""
    br = _quoted(_byterange_value(m.byterange)) if m.byterange else None
    return "#EXT-X-MAP:" + _attrs([("URI", _quoted(m.uri)), ("BYTERANGE", br)])


def render_program_date_time(when: datetime) -> str:
    """EXT-X-PROGRAM-DATE-TIME, UTC with milliseconds."""
    if when.tzinfo is None:
        # rfc8216bis §4.4.4.6: the date-time needs a time zone; a naive one is a bug upstream.
        raise ValueError("PROGRAM-DATE-TIME needs a timezone-aware datetime")
    utc = when.astimezone(UTC)
    return f"#EXT-X-PROGRAM-DATE-TIME:{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def render_part(part: Part) -> str:
    """EXT-X-PART."""
    br = _quoted(_byterange_value(part.byterange)) if part.byterange else None
    return "#EXT-X-PART:" + _attrs(
        [
            ("DURATION", format_decimal(part.duration)),
            ("URI", _quoted(part.uri)),
            ("INDEPENDENT", "YES" if part.independent else None),
            ("BYTERANGE", br),
            ("GAP", "YES" if part.gap else None),
        ]
    )


def render_byterange(br: ByteRange) -> str:
    """EXT-X-BYTERANGE."""
    return f"#EXT-X-BYTERANGE:{_byterange_value(br)}"


def render_extinf(duration: Fraction) -> str:
    """EXTINF (no title)."""
    return f"#EXTINF:{format_decimal(duration)},"


def _segment_head(
    discontinuity: bool, map_: Map | None, pdt: datetime | None, parts: Sequence[Part]
) -> list[str]:
    """DISCONTINUITY, MAP, PROGRAM-DATE-TIME and the EXT-X-PARTs that open a segment."""
    lines: list[str] = []
    if discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")
    if map_ is not None:
        lines.append(render_map(map_))
    if pdt is not None:
        lines.append(render_program_date_time(pdt))
    lines.extend(render_part(p) for p in parts)
    return lines


def render_segment(seg: Segment, *, with_map: bool) -> list[str]:
    """Return the lines of one segment: DISCONTINUITY, MAP, PDT, parts, EXTINF, URI."""
    lines = _segment_head(
        seg.discontinuity, seg.map if with_map else None, seg.program_date_time, seg.parts
    )
    if seg.gap:
        lines.append("#EXT-X-GAP")
    if seg.byterange is not None:
        lines.append(render_byterange(seg.byterange))
    lines.append(render_extinf(seg.duration))
    lines.append(seg.uri)
    return lines


def render_preload_hint(hint: PreloadHint) -> str:
    """EXT-X-PRELOAD-HINT."""
    return "#EXT-X-PRELOAD-HINT:" + _attrs(
        [
            ("TYPE", hint.type),
            ("URI", _quoted(hint.uri)),
            (
                "BYTERANGE-START",
                None if hint.byterange_start is None else str(hint.byterange_start),
            ),
            (
                "BYTERANGE-LENGTH",
                None if hint.byterange_length is None else str(hint.byterange_length),
            ),
        ]
    )


def render_rendition_report(report: RenditionReport) -> str:
    """EXT-X-RENDITION-REPORT."""
    return "#EXT-X-RENDITION-REPORT:" + _attrs(
        [
            ("URI", _quoted(report.uri)),
            ("LAST-MSN", str(report.last_msn)),
            ("LAST-PART", None if report.last_part is None else str(report.last_part)),
        ]
    )


def evaluate_skip_boundary(pl: MediaPlaylist) -> int | None:
    """Return the msn before which segments may be skipped, or None without CAN-SKIP-UNTIL.

    A segment is skipped only if its end is at least CAN-SKIP-UNTIL before the end of the
    last complete segment (rfc8216bis §6.2.5.1): skipped segments are older than the boundary.
    """
    sc = pl.server_control
    if sc is None or sc.can_skip_until is None:
        return None
    boundary = pl.media_sequence
    from_end = Fraction(0)
    for i in range(len(pl.segments) - 1, -1, -1):
        if from_end >= sc.can_skip_until:
            boundary = pl.media_sequence + i + 1
            break
        from_end += pl.segments[i].duration
    return boundary


def evaluate_version(pl: MediaPlaylist, *, skipping: bool = False) -> int:
    """Return the lowest EXT-X-VERSION this playlist (as rendered) needs."""
    version = VERSION_BASE
    parts = [*pl.partial_parts, *(p for s in pl.segments for p in s.parts)]
    ranged = any(s.byterange is not None for s in pl.segments) or any(
        p.byterange is not None for p in parts
    )
    if pl.i_frames_only or ranged:
        version = max(version, VERSION_BYTERANGE)
    has_map = pl.map is not None or any(s.map is not None for s in pl.segments)
    if has_map:
        # RFC 8216 §7: EXT-X-MAP needs version 5 in an I-frames-only playlist, 6 otherwise.
        version = max(version, VERSION_IFRAME_MAP if pl.i_frames_only else VERSION_MAP)
    if skipping:
        version = max(version, VERSION_SKIP)
    return version


def _header_lines(
    pl: MediaPlaylist, version: int, skip: Skip | None, first_map: Map | None
) -> Iterator[str]:
    # Table of (present?, renderer) in llhls-rules.md order; a tag is written only when present.
    table: list[tuple[bool, Callable[[], str]]] = [
        (True, lambda: "#EXTM3U"),
        (True, lambda: render_version(version)),
        (True, lambda: render_target_duration(pl.target_duration)),
        (pl.playlist_type is not None, lambda: render_playlist_type(str(pl.playlist_type))),
        (pl.independent_segments, lambda: "#EXT-X-INDEPENDENT-SEGMENTS"),
        (pl.i_frames_only, lambda: "#EXT-X-I-FRAMES-ONLY"),
        (
            pl.part_target is not None,
            lambda: render_part_inf(pl.part_target or Fraction(0)),
        ),
        (
            pl.server_control is not None,
            lambda: render_server_control(pl.server_control or ServerControl()),
        ),
        (True, lambda: render_media_sequence(pl.media_sequence)),
        (
            pl.discontinuity_sequence > 0,
            lambda: render_discontinuity_sequence(pl.discontinuity_sequence),
        ),
        (skip is not None, lambda: render_skip(skip or Skip(0))),
        (first_map is not None, lambda: render_map(first_map or Map(""))),
    ]
    for present, render in table:
        if present:
            yield render()


def render_media_playlist(pl: MediaPlaylist, *, skip_before_msn: int | None = None) -> str:
    """Return the playlist text; segments with msn < skip_before_msn become one EXT-X-SKIP."""
    skipped = 0
    if skip_before_msn is not None:
        skipped = max(0, min(skip_before_msn - pl.media_sequence, len(pl.segments)))
    skip = Skip(skipped) if skipped else None
    shown = pl.segments[skipped:]
    # The playlist-level MAP is the one in effect at the first segment written out.
    first_map = pl.map
    for seg in pl.segments[:skipped]:
        first_map = seg.map or first_map
    if shown and shown[0].map is not None:
        first_map = shown[0].map

    lines = list(
        _header_lines(pl, evaluate_version(pl, skipping=skip is not None), skip, first_map)
    )
    current = first_map
    for i, seg in enumerate(shown):
        with_map = i > 0 and seg.map is not None and seg.map != current
        current = seg.map or current
        lines.extend(render_segment(seg, with_map=with_map))
    if pl.partial_parts:
        # The segment in progress: the same head as a complete one, without EXTINF and URI.
        new_map = pl.partial_map if pl.partial_map != current else None
        lines += _segment_head(
            pl.partial_discontinuity, new_map, pl.partial_program_date_time, pl.partial_parts
        )
    if pl.endlist:
        lines.append("#EXT-X-ENDLIST")
    elif pl.preload_hint is not None:
        # rfc8216bis §4.4.5.3: a playlist with EXT-X-ENDLIST carries no preload hint.
        lines.append(render_preload_hint(pl.preload_hint))
    lines.extend(render_rendition_report(r) for r in pl.rendition_reports)
    return "\n".join(lines) + "\n"


def _variant_attrs(v: StreamInf | IFrameStreamInf) -> list[tuple[str, str | None]]:
    """The attributes EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF share, in order."""
    resolution = None if v.resolution is None else f"{v.resolution.width}x{v.resolution.height}"
    return [
        ("BANDWIDTH", str(v.bandwidth)),
        ("AVERAGE-BANDWIDTH", None if v.average_bandwidth is None else str(v.average_bandwidth)),
        ("CODECS", None if v.codecs is None else _quoted(v.codecs)),
        ("RESOLUTION", resolution),
    ]


def render_stream_inf(v: StreamInf) -> list[str]:
    """EXT-X-STREAM-INF and its URI line."""
    tag = "#EXT-X-STREAM-INF:" + _attrs(
        [
            *_variant_attrs(v),
            ("FRAME-RATE", None if v.frame_rate is None else _frame_rate(v.frame_rate)),
            ("AUDIO", None if v.audio is None else _quoted(v.audio)),
        ]
    )
    return [tag, v.uri]


def _frame_rate(rate: Fraction) -> str:
    scaled = int(rate * 10**FRAME_RATE_PLACES + Fraction(1, 2))
    whole, frac = divmod(scaled, 10**FRAME_RATE_PLACES)
    return f"{whole}.{frac:0{FRAME_RATE_PLACES}d}"


def render_media(m: Media) -> str:
    """EXT-X-MEDIA."""
    return "#EXT-X-MEDIA:" + _attrs(
        [
            ("TYPE", m.type),
            ("GROUP-ID", _quoted(m.group_id)),
            ("NAME", _quoted(m.name)),
            ("LANGUAGE", None if m.language is None else _quoted(m.language)),
            ("DEFAULT", _yes(m.default)),
            ("AUTOSELECT", _yes(m.autoselect)),
            ("CHANNELS", None if m.channels is None else _quoted(m.channels)),
            ("URI", None if m.uri is None else _quoted(m.uri)),
        ]
    )


def render_i_frame_stream_inf(v: IFrameStreamInf) -> str:
    """EXT-X-I-FRAME-STREAM-INF."""
    return "#EXT-X-I-FRAME-STREAM-INF:" + _attrs(
        [
            *_variant_attrs(v),
            ("URI", _quoted(v.uri)),
        ]
    )


def render_multivariant_playlist(mv: MultivariantPlaylist) -> str:
    """Return the multivariant playlist text."""
    version = VERSION_I_FRAME_STREAM if mv.i_frame_variants else VERSION_BASE
    lines = ["#EXTM3U", render_version(version)]
    if mv.independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    lines.extend(render_media(m) for m in mv.media)
    for v in mv.variants:
        lines.extend(render_stream_inf(v))
    lines.extend(render_i_frame_stream_inf(v) for v in mv.i_frame_variants)
    return "\n".join(lines) + "\n"
