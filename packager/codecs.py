"""RFC 6381 codec strings (the CODECS attribute) and picture facts from an init segment.

The values come from the bitstream's own configuration boxes, never from what the encoder
was asked for: avcC (ISO/IEC 14496-15 §5.3.3.1), hvcC (ISO/IEC 14496-15 §8.3.3.1, string per
Annex E), esds → AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
"""

from __future__ import annotations

from fractions import Fraction

from packager.boxes import BoxError, InitSegment, TrackInfo, TrackRun

__all__ = [
    "build_codec_string",
    "build_codecs_attribute",
    "derive_frame_rate",
    "parse_audio_object_type",
]

# MPEG-4 object type indication for "MPEG-4 Audio" (ISO/IEC 14496-1 Table 5): carries an AOT.
_OTI_MPEG4_AUDIO = 0x40
# ISO/IEC 14496-1 §7.2.2.1 descriptor tags.
_ES_DESCR_TAG = 0x03
_DECODER_CONFIG_TAG = 0x04
_DECODER_SPECIFIC_TAG = 0x05
# Handlers in the order the CODECS attribute lists them (video first reads naturally).
_HANDLER_ORDER = {"vide": 0, "soun": 1}


def _avc(entry: str, config: bytes) -> str:
    if len(config) < 4:
        raise BoxError("avcC too short")
    # RFC 6381 §3.3: avc1.PPCCLL = profile_idc, constraint flags, level_idc in hex.
    return f"{entry}.{config[1]:02x}{config[2]:02x}{config[3]:02x}"


def _hevc(entry: str, config: bytes) -> str:
    if len(config) < 13:
        raise BoxError("hvcC too short")
    profile_space = config[1] >> 6
    tier = (config[1] >> 5) & 1
    profile_idc = config[1] & 0x1F
    compat = int.from_bytes(config[2:6], "big")
    # ISO/IEC 14496-15 Annex E.3: compatibility flags in reverse bit order, hex, no zeros.
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(config[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    level_idc = config[12]
    fields = [
        entry,
        f"{'' if profile_space == 0 else 'ABC'[profile_space - 1]}{profile_idc}",
        f"{reversed_compat:X}",
        f"{'H' if tier else 'L'}{level_idc}",
        *(f"{b:02X}" for b in constraints),
    ]
    return ".".join(fields)


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, payload_start, payload_end) of the descriptor at pos."""
    tag = data[pos]
    pos += 1
    length = 0
    for _ in range(4):  # ISO/IEC 14496-1 §8.3.3: up to four 7-bit size bytes
        byte = data[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    if pos + length > len(data):
        raise BoxError(f"descriptor 0x{tag:02x} overruns esds")
    return tag, pos, pos + length


def parse_audio_object_type(esds: bytes) -> tuple[int, int | None]:
    """Given an esds payload, return (objectTypeIndication, audioObjectType or None)."""
    try:
        tag, pos, end = _descriptor(esds, 4)  # skip FullBox version/flags
        if tag != _ES_DESCR_TAG:
            raise BoxError("esds lacks an ES_Descriptor")
        flags = esds[pos + 2]
        pos += 3
        if flags & 0x80:  # streamDependenceFlag → dependsOn_ES_ID
            pos += 2
        if flags & 0x40:  # URL_Flag → URLlength + URLstring
            pos += 1 + esds[pos]
        if flags & 0x20:  # OCRstreamFlag → OCR_ES_Id
            pos += 2
        tag, pos, end = _descriptor(esds, pos)
        if tag != _DECODER_CONFIG_TAG:
            raise BoxError("esds lacks a DecoderConfigDescriptor")
        oti = esds[pos]
        pos += 13  # oti, streamType, bufferSizeDB(3), maxBitrate(4), avgBitrate(4)
        if oti != _OTI_MPEG4_AUDIO or pos >= end:
            return oti, None
        tag, pos, _ = _descriptor(esds, pos)
        if tag != _DECODER_SPECIFIC_TAG:
            return oti, None
        aot = esds[pos] >> 3
        if aot == 31:  # ISO/IEC 14496-3 §1.6.2.1: escape to 32 + 6 more bits
            aot = 32 + (((esds[pos] & 0x07) << 3) | (esds[pos + 1] >> 5))
        return oti, aot
    except IndexError as exc:
        raise BoxError("esds truncated") from exc


def _mp4a(entry: str, esds: bytes) -> str:
    oti, aot = parse_audio_object_type(esds)
    # RFC 6381 §3.3: mp4a.<OTI hex>[.<AOT decimal>].
    return f"{entry}.{oti:02x}" if aot is None else f"{entry}.{oti:02x}.{aot}"


def build_codec_string(track: TrackInfo) -> str:
    """Return the RFC 6381 codec string of one track (e.g. avc1.64001f, mp4a.40.2)."""
    entry, ctype, config = track.sample_entry, track.codec_config_type, track.codec_config
    if ctype == "avcC":
        return _avc(entry, config)
    if ctype == "hvcC":
        return _hevc(entry, config)
    if ctype == "esds":
        return _mp4a(entry, config)
    raise BoxError(f"no codec string for sample entry {entry!r} ({ctype or 'no config'})")


def build_codecs_attribute(init: InitSegment) -> str:
    """Return the CODECS value for a variant carrying all tracks of this init segment."""
    tracks = sorted(init.tracks, key=lambda t: _HANDLER_ORDER.get(t.handler, 2))
    return ",".join(build_codec_string(t) for t in tracks if t.handler in _HANDLER_ORDER)


def derive_frame_rate(run: TrackRun) -> Fraction | None:
    """Return frames per second of a video run (samples / duration), or None if unknown."""
    if run.handler != "vide" or not run.duration or not run.timescale:
        return None
    return Fraction(run.sample_count * run.timescale, run.duration)
