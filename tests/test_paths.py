"""Table for origin.paths.normalise_request_path (pure: strings in, a relative path or None)."""

from __future__ import annotations

import pytest

from origin.paths import normalise_request_path

CASES = [
    pytest.param("/", "", id="root"),
    pytest.param("/f.bin", "f.bin", id="file"),
    pytest.param("/a/b/c.m4s", "a/b/c.m4s", id="nested"),
    pytest.param("//a//b/", "a/b", id="empty-segments-collapse"),
    pytest.param("/a/", "a", id="trailing-slash"),
    pytest.param("/a b/c%20d", "a b/c%20d", id="decoded-once-not-twice"),
    pytest.param("/\u00e9t\u00e9.mp4", "\u00e9t\u00e9.mp4", id="non-ascii-name"),
    pytest.param("/a..b/c...mp4", "a..b/c...mp4", id="dots-inside-names-allowed"),
    pytest.param("/..", None, id="dotdot"),
    pytest.param("/../etc/passwd", None, id="dotdot-escape"),
    pytest.param("/a/../b", None, id="dotdot-inside"),
    pytest.param("/a/..", None, id="dotdot-last"),
    pytest.param("/.", None, id="dot"),
    pytest.param("/a/./b", None, id="dot-inside"),
    pytest.param("/.secret", None, id="dotfile"),
    pytest.param("/.git/config", None, id="dot-directory"),
    pytest.param("/a/.env", None, id="nested-dotfile"),
    pytest.param("/a\x00b", None, id="nul"),
    pytest.param("/f.bin\x00.txt", None, id="nul-truncation"),
    pytest.param("/..\\..\\etc\\passwd", None, id="backslash"),
    pytest.param("/a\\b", None, id="backslash-in-name"),
    pytest.param("/a\nb", None, id="newline"),
    pytest.param("/a\rb", None, id="carriage-return"),
    pytest.param("/a\tb", None, id="tab"),
    pytest.param("/a\x7fb", None, id="delete"),
    pytest.param("/a\x1bb", None, id="escape"),
    pytest.param("/a\u2028b", None, id="unicode-line-separator"),
    pytest.param("", None, id="empty"),
    pytest.param("etc/passwd", None, id="relative"),
    pytest.param("*", None, id="asterisk-form"),
    pytest.param("http://h/f.bin", None, id="absolute-form"),
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_normalise_request_path(path: str, expected: str | None) -> None:
    assert normalise_request_path(path) == expected
