"""Table for origin.static.accepts_gzip (RFC 9110 §12.5.3 Accept-Encoding)."""

from __future__ import annotations

import pytest

from origin.static import accepts_gzip

CASES = [
    pytest.param(None, False, id="absent"),
    pytest.param("", False, id="empty"),
    pytest.param("gzip", True, id="gzip"),
    pytest.param("GZIP", True, id="case-insensitive"),
    pytest.param("x-gzip", True, id="x-gzip"),
    pytest.param("*", True, id="star"),
    pytest.param("identity", False, id="identity-only"),
    pytest.param("br, deflate", False, id="other-codings-only"),
    pytest.param("br, gzip, deflate", True, id="gzip-in-list"),
    pytest.param("gzip, deflate, br, zstd", True, id="browser-default"),
    pytest.param("gzip;q=0", False, id="q0"),
    pytest.param("gzip; q=0", False, id="q0-ows"),
    pytest.param("gzip;Q=0", False, id="q-name-case-insensitive"),
    pytest.param("gzip;q=0.000", False, id="q0-three-decimals"),
    pytest.param("gzip;q=0.001", True, id="q-smallest-positive"),
    pytest.param("gzip;q=0.5", True, id="q-half"),
    pytest.param("gzip;q=1", True, id="q1"),
    pytest.param("gzip;q=1.000", True, id="q1-three-decimals"),
    pytest.param("*;q=0", False, id="star-q0"),
    pytest.param("x-gzip;q=0", False, id="x-gzip-q0"),
    pytest.param("gzip;q=0, *", False, id="explicit-q0-beats-later-star"),
    pytest.param("*, gzip;q=0", False, id="explicit-q0-beats-earlier-star"),
    pytest.param("*;q=0, gzip", True, id="explicit-beats-star-q0"),
    pytest.param("x-gzip;q=0, gzip", True, id="either-gzip-name-acceptable"),
    pytest.param("identity;q=1, *;q=0", False, id="identity-only-star-refused"),
    pytest.param("gzip;q=abc", False, id="malformed-q-letters"),
    pytest.param("gzip;q=", False, id="malformed-q-empty"),
    pytest.param("gzip;q=1.5", False, id="malformed-q-above-one"),
    pytest.param("gzip;q=-1", False, id="malformed-q-negative"),
    pytest.param("gzip;q=0.0001", False, id="malformed-q-four-decimals"),
    pytest.param("gzip;q=inf", False, id="malformed-q-inf"),
    pytest.param("gzip;q=nan", False, id="malformed-q-nan"),
    pytest.param("gzip;q=1e0", False, id="malformed-q-exponent"),
    pytest.param("gzip;q=1_0", False, id="malformed-q-underscore"),
    pytest.param(",, gzip ,", True, id="empty-list-elements"),
    pytest.param("gzipx", False, id="prefix-is-not-gzip"),
    pytest.param("deflate;q=1, gzip;q=0.1", True, id="low-but-positive"),
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected
