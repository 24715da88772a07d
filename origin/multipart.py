"""multipart/byteranges framing (RFC 9110 §14.6): plan the bytes around each range.

Pure apart from ``new_boundary`` (randomness). Concatenating, for every part, its leading bytes
and then the representation's bytes of its range, followed by the trailer, yields the body; the
CRLF that ends each part's data is carried by the next part's leading bytes (or the trailer).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from origin.ranges import ByteRange

__all__ = ["MultipartPlan", "new_boundary", "plan_multipart"]

# RFC 2046 §5.1.1: 1-70 bchars. Only chars that are also tchars, so the parameter needs no quotes
# (RFC 9110 §5.6.6), minus "'", which Python's email parser misreads as RFC 2231 syntax.
_BOUNDARY = re.compile(r"[0-9A-Za-z+_.-]{1,70}")
_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class MultipartPlan:
    """Everything needed to stream a multipart/byteranges body of an exact length."""

    content_type: str  # 'multipart/byteranges; boundary=B'
    parts: tuple[tuple[bytes, ByteRange], ...]  # (delimiter + headers + blank line, range)
    trailer: bytes  # b"\r\n--B--\r\n"
    content_length: int  # exact encoded size


def new_boundary() -> str:
    """Return a fresh random boundary that cannot occur by chance in the content."""
    # RFC 2046 §5.1.1: the boundary MUST NOT appear inside the encapsulated parts.
    return secrets.token_hex(16)


def plan_multipart(
    ranges: Sequence[ByteRange], content_type: str, total: int, boundary: str
) -> MultipartPlan:
    """Given ranges of a representation, its type, length and a boundary, return the framing."""
    if not ranges:
        raise ValueError("a multipart/byteranges body needs at least one range")
    if _BOUNDARY.fullmatch(boundary) is None:
        raise ValueError(f"invalid multipart boundary: {boundary!r}")
    if "\r" in content_type or "\n" in content_type:
        raise ValueError("content type must be a single header line")
    delimiter = b"--" + boundary.encode("ascii")
    parts: list[tuple[bytes, ByteRange]] = []
    for index, byte_range in enumerate(ranges):
        if not 0 <= byte_range.start <= byte_range.end < total:
            raise ValueError(f"{byte_range} is outside a representation of {total} bytes")
        leading = b"".join(
            (
                b"" if index == 0 else _CRLF,  # RFC 2046 §5.1.1: CRLF belongs to the delimiter
                delimiter,
                _CRLF,
                # RFC 9110 §14.6: each part carries Content-Type and its own Content-Range.
                b"Content-Type: " + content_type.encode("latin-1") + _CRLF,
                b"Content-Range: " + byte_range.content_range(total).encode("ascii") + _CRLF,
                _CRLF,
            )
        )
        parts.append((leading, byte_range))
    trailer = _CRLF + delimiter + b"--" + _CRLF  # RFC 2046 §5.1.1: close-delimiter
    content_length = sum(len(leading) + r.length for leading, r in parts) + len(trailer)
    return MultipartPlan(
        content_type=f"multipart/byteranges; boundary={boundary}",  # RFC 9110 §14.6
        parts=tuple(parts),
        trailer=trailer,
        content_length=content_length,
    )
