"""Table-driven tests for origin.mediatypes."""

from __future__ import annotations

import pytest

from origin.mediatypes import (
    CONTENT_TYPES,
    DEFAULT_CONTENT_TYPE,
    content_type_for,
    is_compressible,
    is_playlist,
)

# (path, expected Content-Type): the http-rules.md table first, then the additions.
CONTENT_TYPE_CASES = [
    pytest.param("/live/index.m3u8", "application/vnd.apple.mpegurl", id="m3u8"),
    pytest.param("/vod/a.mp4", "video/mp4", id="mp4"),
    pytest.param("/live/seg1.m4s", "video/iso.segment", id="m4s"),
    pytest.param("/a.m4v", "video/mp4", id="m4v"),
    pytest.param("/a.m4a", "audio/mp4", id="m4a"),
    pytest.param("/seg0.ts", "video/mp2t", id="ts-not-qt-linguist"),
    pytest.param("/a.aac", "audio/aac", id="aac"),
    pytest.param("/subs.vtt", "text/vtt", id="vtt"),
    pytest.param("/manifest.mpd", "application/dash+xml", id="mpd"),
    pytest.param("/k.key", "application/octet-stream", id="key"),
    pytest.param("/poster.jpg", "image/jpeg", id="jpg"),
    pytest.param("/meta.json", "application/json", id="json"),
    pytest.param("/index.html", "text/html; charset=utf-8", id="html"),
    pytest.param("/hls.js", "text/javascript; charset=utf-8", id="js"),
    pytest.param("/a.css", "text/css; charset=utf-8", id="css"),
    pytest.param("/a.png", "image/png", id="png"),
    pytest.param("/a.webp", "image/webp", id="webp"),
    pytest.param("/a.txt", "text/plain; charset=utf-8", id="txt"),
    pytest.param("/a.mkv", "video/x-matroska", id="mkv"),
    pytest.param("/a.webm", "video/webm", id="webm"),
    pytest.param("/a.mp3", "audio/mpeg", id="mp3"),
    pytest.param("/a.mov", "video/quicktime", id="mov"),
    pytest.param("/a.srt", "application/x-subrip", id="srt"),
    pytest.param("/a.svg", "image/svg+xml", id="svg"),
    pytest.param("/favicon.ico", "image/x-icon", id="ico"),
    pytest.param("/a.xml", "application/xml", id="xml"),
    pytest.param("/v.cmfv", "video/mp4", id="cmfv"),
    pytest.param("/a.cmfa", "audio/mp4", id="cmfa"),
    pytest.param("/old.m3u", "audio/mpegurl", id="m3u-rfc8216"),
    pytest.param("/LIVE/INDEX.M3U8", "application/vnd.apple.mpegurl", id="case-insensitive"),
    pytest.param("/a.Mp4", "video/mp4", id="mixed-case"),
    pytest.param("/a.tar.ts", "video/mp2t", id="last-extension-wins"),
    pytest.param("/dir.mp4/file", DEFAULT_CONTENT_TYPE, id="dot-in-directory-only"),
    pytest.param("/README", DEFAULT_CONTENT_TYPE, id="no-extension"),
    pytest.param("/.m3u8", DEFAULT_CONTENT_TYPE, id="dotfile-has-no-extension"),
    pytest.param("/a.", DEFAULT_CONTENT_TYPE, id="trailing-dot"),
    pytest.param("/a.exe", DEFAULT_CONTENT_TYPE, id="unknown"),
    pytest.param("", DEFAULT_CONTENT_TYPE, id="empty"),
    pytest.param("seg.ts", "video/mp2t", id="bare-name"),
]


@pytest.mark.parametrize(("path", "expected"), CONTENT_TYPE_CASES)
def test_content_type_for(path: str, expected: str) -> None:
    assert content_type_for(path) == expected


def test_table_keys_are_lower_case_extensions() -> None:
    for extension in CONTENT_TYPES:
        assert extension.startswith(".")
        assert extension == extension.lower()


PLAYLIST_CASES = [
    pytest.param("/live/index.m3u8", True, id="m3u8"),
    pytest.param("/x/INDEX.M3U8", True, id="m3u8-upper"),
    pytest.param("/old.m3u", True, id="m3u"),
    pytest.param("/manifest.mpd", True, id="mpd"),
    pytest.param("/seg.m4s", False, id="segment"),
    pytest.param("/index.m3u8.bak", False, id="backup-file"),
    pytest.param("/m3u8", False, id="name-not-extension"),
]


@pytest.mark.parametrize(("path", "expected"), PLAYLIST_CASES)
def test_is_playlist(path: str, expected: bool) -> None:
    assert is_playlist(path) is expected


COMPRESSIBLE_CASES = [
    pytest.param("application/vnd.apple.mpegurl", True, id="hls-playlist"),
    pytest.param("application/x-mpegURL", True, id="legacy-hls-playlist"),
    pytest.param("audio/mpegurl", True, id="m3u-playlist-despite-audio"),
    pytest.param("application/dash+xml", True, id="dash-manifest"),
    pytest.param("text/vtt", True, id="text-star"),
    pytest.param("text/html; charset=utf-8", True, id="parameters-ignored"),
    pytest.param("Text/CSS", True, id="case-insensitive"),
    pytest.param("application/json", True, id="json"),
    pytest.param("application/ld+json", True, id="json-suffix"),
    pytest.param("application/xml", True, id="xml"),
    pytest.param("application/atom+xml", True, id="xml-suffix"),
    pytest.param("text/javascript; charset=utf-8", True, id="javascript"),
    pytest.param("application/javascript", True, id="legacy-javascript"),
    pytest.param("image/svg+xml", True, id="svg"),
    pytest.param("video/mp4", False, id="video"),
    pytest.param("video/mp2t", False, id="ts"),
    pytest.param("video/iso.segment", False, id="segment"),
    pytest.param("audio/mp4", False, id="audio"),
    pytest.param("image/jpeg", False, id="image"),
    pytest.param("application/octet-stream", False, id="opaque-bytes"),
    pytest.param("", False, id="empty"),
]


@pytest.mark.parametrize(("content_type", "expected"), COMPRESSIBLE_CASES)
def test_is_compressible(content_type: str, expected: bool) -> None:
    assert is_compressible(content_type) is expected


@pytest.mark.parametrize(("extension", "content_type"), sorted(CONTENT_TYPES.items()))
def test_every_playlist_compressible_no_media_is(extension: str, content_type: str) -> None:
    if is_playlist("x" + extension):
        assert is_compressible(content_type)
    elif content_type.startswith(("video/", "audio/", "image/")) and extension != ".svg":
        assert not is_compressible(content_type)
