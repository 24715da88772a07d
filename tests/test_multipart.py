"""Table-driven tests for origin.multipart: render bodies and parse them back independently."""

from __future__ import annotations

import email.parser
import email.policy
import re

import pytest

from origin.multipart import MultipartPlan, new_boundary, plan_multipart
from origin.ranges import ByteRange

CONTENT = bytes(range(256)) * 40  # 10240 bytes, every byte value, CRLFs included
TOTAL = len(CONTENT)


def render(plan: MultipartPlan, content: bytes = CONTENT) -> bytes:
    """Given a plan, return the body a handler would stream for it."""
    chunks = [leading + content[r.start : r.end + 1] for leading, r in plan.parts]
    return b"".join(chunks) + plan.trailer


def _params(content_type: str) -> dict[str, str]:
    """Given a Content-Type value, return its parameters as a dict."""
    pairs = (p.strip().partition("=") for p in content_type.split(";")[1:])
    return {name: value for name, _, value in pairs}


# (ranges, content type, boundary)
PLAN_CASES = [
    pytest.param([(0, 9), (20, 29)], "video/mp4", "B", id="two-ranges"),
    pytest.param([(0, 0), (TOTAL - 1, TOTAL - 1)], "video/mp4", "xyz", id="first-and-last-byte"),
    pytest.param([(13, 13)], "video/mp2t", "b0und4ry", id="single-part"),
    pytest.param([(i * 600, i * 600 + 99) for i in range(16)], "audio/mp4", "q", id="sixteen"),
    pytest.param([(0, TOTAL - 1), (5, 6)], "text/plain; charset=utf-8", "p", id="with-params"),
    pytest.param([(9, 9), (1000, 9999)], "video/mp4", "a" * 70, id="longest-boundary"),
    pytest.param([(0, 99), (8000, 8099)], "video/mp4", "13ab-._+", id="token-punctuation"),
]


@pytest.mark.parametrize(("bounds", "content_type", "boundary"), PLAN_CASES)
def test_body_parses_back(bounds: list[tuple[int, int]], content_type: str, boundary: str) -> None:
    ranges = [ByteRange(start, end) for start, end in bounds]
    plan = plan_multipart(ranges, content_type, TOTAL, boundary)
    body = render(plan)
    assert plan.content_length == len(body)
    assert plan.content_type == f"multipart/byteranges; boundary={boundary}"
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert plan.trailer == f"\r\n--{boundary}--\r\n".encode()

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {plan.content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart()
    assert not message.defects
    parts = list(message.iter_parts())
    assert len(parts) == len(ranges)
    for part, byte_range in zip(parts, ranges, strict=True):
        assert part["Content-Type"].content_type == content_type.split(";")[0]
        assert dict(part["Content-Type"].params) == _params(content_type)
        assert part["Content-Range"] == f"bytes {byte_range.start}-{byte_range.end}/{TOTAL}"
        # email strips the CRLF before each delimiter, which is exactly the framing we check.
        assert part.get_payload(decode=True) == CONTENT[byte_range.start : byte_range.end + 1]


@pytest.mark.parametrize(("bounds", "content_type", "boundary"), PLAN_CASES)
def test_body_hand_parsed(bounds: list[tuple[int, int]], content_type: str, boundary: str) -> None:
    ranges = [ByteRange(start, end) for start, end in bounds]
    body = render(plan_multipart(ranges, content_type, TOTAL, boundary))
    delimiter = b"\r\n--" + boundary.encode()
    # RFC 2046 §5.1.1: nothing before the first delimiter, "--" after the last, then CRLF.
    sections = (b"\r\n" + body).split(delimiter)
    assert sections[0] == b""
    assert sections[-1] == b"--\r\n"
    for section, byte_range in zip(sections[1:-1], ranges, strict=True):
        head, separator, data = section.partition(b"\r\n\r\n")
        assert separator
        assert (
            head
            == (
                f"\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {byte_range.start}-{byte_range.end}/{TOTAL}"
            ).encode()
        )
        assert data == CONTENT[byte_range.start : byte_range.end + 1]


def test_first_part_starts_with_delimiter_others_with_crlf() -> None:
    plan = plan_multipart([ByteRange(0, 1), ByteRange(5, 6)], "video/mp4", TOTAL, "B")
    assert plan.parts[0][0].startswith(b"--B\r\n")
    assert plan.parts[1][0].startswith(b"\r\n--B\r\n")
    assert all(leading.endswith(b"\r\n\r\n") for leading, _ in plan.parts)


# (ranges, content type, boundary)
INVALID_CASES = [
    pytest.param([], "video/mp4", "B", id="no-ranges"),
    pytest.param([ByteRange(0, TOTAL)], "video/mp4", "B", id="end-past-total"),
    pytest.param([ByteRange(5, 4)], "video/mp4", "B", id="backwards-range"),
    pytest.param([ByteRange(0, 1)], "video/mp4", "", id="empty-boundary"),
    pytest.param([ByteRange(0, 1)], "video/mp4", "a" * 71, id="boundary-too-long"),
    pytest.param([ByteRange(0, 1)], "video/mp4", "a b", id="boundary-needs-quoting"),
    pytest.param([ByteRange(0, 1)], "video/mp4", "a'b", id="boundary-apostrophe"),
    pytest.param([ByteRange(0, 1)], "video/mp4\r\nX-Evil: 1", "B", id="header-injection"),
]


@pytest.mark.parametrize(("ranges", "content_type", "boundary"), INVALID_CASES)
def test_invalid_input_rejected(ranges: list[ByteRange], content_type: str, boundary: str) -> None:
    with pytest.raises(ValueError):
        plan_multipart(ranges, content_type, TOTAL, boundary)


def test_new_boundary_is_random_token() -> None:
    boundaries = {new_boundary() for _ in range(50)}
    assert len(boundaries) == 50
    for boundary in boundaries:
        assert re.fullmatch(r"[0-9a-f]{32}", boundary)
        plan_multipart([ByteRange(0, 1)], "video/mp4", TOTAL, boundary)
