"""Range header parsing (RFC 9110 §14): decide IGNORE, UNSATISFIABLE or SATISFIABLE ranges.

Pure: no I/O. A bad Range header is never an error; it is ignored and the full 200 is served.

Resolved ambiguities (each is a choice the RFC leaves open):
- Empty list elements (``bytes=0-1,,2-3``, ``bytes=,0-1``) are accepted and skipped, as RFC 9110
  §5.6.1.2 requires of recipients; more than ``max_ranges`` of them is abuse and the header is
  ignored. At least one non-empty spec is needed (``range-set = 1#range-spec``).
- Optional whitespace (SP/HTAB) is accepted at both ends of the range set and around commas,
  never inside a spec or around ``=``.
- Huge numerals (more than 18 significant digits) are valid numbers larger than any file: a huge
  first-pos is unsatisfiable, a huge last-pos clamps to the end, a huge suffix means the whole
  file. They are compared exactly, never passed to ``int()`` (which raises past 4300 digits).
- Two ranges are coalesced when they overlap, touch, or the gap between them is smaller than
  ``part_overhead`` (sending the gap is cheaper than another multipart part).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = [
    "ByteRange",
    "RangeOutcome",
    "RangeResult",
    "parse_range",
    "unsatisfied_content_range",
]

# Only ASCII digits: `re`'s `\d` and `int()` would also accept other Unicode digits.
_SPEC = re.compile(r"([0-9]+)-([0-9]*)|-([0-9]+)")
_OWS = " \t"
_MAX_DIGITS = 18  # 10**18 bytes is an exabyte: anything longer is "larger than any file".
_HUGE = 10**_MAX_DIGITS


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range of a representation."""

    start: int  # first byte offset, inclusive
    end: int  # last byte offset, inclusive

    @property
    def length(self) -> int:
        """Given the inclusive bounds, return the number of bytes covered."""
        return self.end - self.start + 1

    def content_range(self, total: int) -> str:
        """Given the representation length, return the Content-Range value for this range."""
        return f"bytes {self.start}-{self.end}/{total}"  # RFC 9110 §14.4


class RangeOutcome(enum.Enum):
    """What the handler must do with the Range header."""

    IGNORE = "ignore"  # serve 200 as if no Range
    UNSATISFIABLE = "unsatisfiable"  # 416 with Content-Range: bytes */len
    SATISFIABLE = "satisfiable"  # 206


@dataclass(frozen=True, slots=True)
class RangeResult:
    """The decision for one Range header; ``ranges`` is non-empty iff SATISFIABLE."""

    outcome: RangeOutcome
    ranges: tuple[ByteRange, ...] = ()  # sorted, coalesced


_IGNORE = RangeResult(RangeOutcome.IGNORE)
_UNSATISFIABLE = RangeResult(RangeOutcome.UNSATISFIABLE)


def unsatisfied_content_range(length: int) -> str:
    """Given the representation length, return the Content-Range value of a 416."""
    return f"bytes */{length}"  # RFC 9110 §14.4, §15.5.17


def _number(digits: str) -> int:
    """Given ASCII digits, return their value, or _HUGE when longer than any file offset."""
    significant = digits.lstrip("0")
    return _HUGE if len(significant) > _MAX_DIGITS else int(significant or "0")


def _digits_key(digits: str) -> tuple[int, str]:
    """Given ASCII digits, return a key that orders them by value without converting them."""
    significant = digits.lstrip("0")
    return (len(significant), significant)


class _InvalidSpec(ValueError):
    """A range-spec outside the grammar: the whole header is ignored."""


def _parse_spec(spec: str, length: int) -> ByteRange | None:
    """Given one range-spec, return its clamped range, or None if it is unsatisfiable."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise _InvalidSpec(spec)
    first, last, suffix = match.groups()
    if suffix is not None:
        suffix_length = _number(suffix)
        if suffix_length == 0:
            return None  # RFC 9110 §14.1.1: a zero-length suffix is unsatisfiable
        return ByteRange(max(0, length - suffix_length), length - 1)  # RFC 9110 §14.1.1
    if last and _digits_key(last) < _digits_key(first):
        raise _InvalidSpec(spec)  # RFC 9110 §14.1.1: last-pos < first-pos is invalid
    start = _number(first)
    if start >= length:
        return None  # RFC 9110 §14.1.1: first-pos must be below the length to be satisfiable
    end = length - 1 if not last else min(_number(last), length - 1)  # RFC 9110 §14.1.2
    return ByteRange(start, end)


def _coalesce(ranges: list[ByteRange], part_overhead: int) -> list[ByteRange]:
    """Given ranges, return them sorted with overlapping or nearly adjacent ones merged."""
    ranges.sort(key=lambda r: r.start)
    # RFC 9110 §14.2: a server MAY coalesce overlapping or close ranges (abuse defence, §17.15).
    merged: list[ByteRange] = []
    for current in ranges:
        if merged:
            previous = merged[-1]
            gap = current.start - previous.end - 1
            if gap <= 0 or gap < part_overhead:
                merged[-1] = ByteRange(previous.start, max(previous.end, current.end))
                continue
        merged.append(current)
    return merged


# What <video> and CDNs send nearly every time: one `bytes=first-[last]`, nothing else.
_SINGLE = re.compile(r"bytes=([0-9]{1,18})-([0-9]{0,18})")


def parse_range(
    header: str, length: int, *, max_ranges: int = 16, part_overhead: int = 100
) -> RangeResult:
    """Given a Range header value and the representation length, return what to serve."""
    if length <= 0:
        return _IGNORE  # http-rules: an empty file ignores Range
    single = _SINGLE.fullmatch(header)
    if single is not None:
        # The same answer as the general path below (tests compare the two), in one regex.
        first = int(single[1])
        if single[2]:
            last = int(single[2])
            if last < first:
                return _IGNORE  # RFC 9110 §14.1.1: last-pos < first-pos is invalid
        else:
            last = length - 1
        if first >= length:
            return _UNSATISFIABLE  # RFC 9110 §14.1.1: first-pos beyond the representation
        return RangeResult(RangeOutcome.SATISFIABLE, (ByteRange(first, min(last, length - 1)),))
    return parse_range_set(header, length, max_ranges=max_ranges, part_overhead=part_overhead)


def parse_range_set(
    header: str, length: int, *, max_ranges: int = 16, part_overhead: int = 100
) -> RangeResult:
    """parse_range's general path: any Range header, every rule of RFC 9110 §14.1-14.2."""
    if length <= 0:
        return _IGNORE  # http-rules: an empty file ignores Range
    unit, equals, range_set = header.strip(_OWS).partition("=")  # RFC 9110 §5.5: field OWS
    if not equals or unit.lower() != "bytes":
        return _IGNORE  # RFC 9110 §14.2: ignore an unknown or unparsable range unit
    specs: list[str] = []
    empty_elements = 0
    for element in range_set.split(","):
        spec = element.strip(_OWS)  # RFC 9110 §5.6.1: OWS around list commas
        if spec:
            specs.append(spec)
        else:
            empty_elements += 1  # RFC 9110 §5.6.1.2: accept a reasonable number of empties
    if not specs or len(specs) > max_ranges or empty_elements > max_ranges:
        return _IGNORE  # RFC 9110 §14.2: a server MAY ignore a Range it finds abusive
    try:
        parsed = [_parse_spec(spec, length) for spec in specs]
    except _InvalidSpec:
        return _IGNORE  # RFC 9110 §14.2: an invalid ranges-specifier is ignored
    satisfiable = [r for r in parsed if r is not None]
    if not satisfiable:
        return _UNSATISFIABLE  # RFC 9110 §14.2, §15.5.17: valid set but none satisfiable
    merged = _coalesce(satisfiable, part_overhead)
    if len(merged) > 1 and sum(r.length for r in merged) + part_overhead * len(merged) > length:
        return _IGNORE  # RFC 9110 §14.2: the whole file is cheaper than the multipart answer
    return RangeResult(RangeOutcome.SATISFIABLE, tuple(merged))
