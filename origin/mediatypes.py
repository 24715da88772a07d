"""Content types by file extension, and which of them are worth compressing.

A fixed table rather than Python's ``mimetypes``, which reads system files (on Debian it maps
``.ts`` to a Qt Linguist type) and so differs between hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_CONTENT_TYPE",
    "content_type_for",
    "is_compressible",
    "is_playlist",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"

CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        # HLS, RFC 8216 §4: .m3u8 is UTF-8 vnd.apple.mpegurl; .m3u is US-ASCII audio/mpegurl.
        ".m3u8": "application/vnd.apple.mpegurl",
        ".m3u": "audio/mpegurl",
        ".mpd": "application/dash+xml",
        ".mp4": "video/mp4",
        ".m4v": "video/mp4",
        ".m4a": "audio/mp4",
        ".m4s": "video/iso.segment",
        ".cmfv": "video/mp4",
        ".cmfa": "audio/mp4",
        ".ts": "video/mp2t",
        ".aac": "audio/aac",
        ".mp3": "audio/mpeg",
        ".mkv": "video/x-matroska",
        ".webm": "video/webm",
        ".mov": "video/quicktime",
        ".vtt": "text/vtt",
        ".srt": "application/x-subrip",
        ".key": "application/octet-stream",
        ".jpg": "image/jpeg",
        ".png": "image/png",
        ".webp": "image/webp",
        ".svg": "image/svg+xml",
        ".ico": "image/x-icon",
        ".json": "application/json",
        ".xml": "application/xml",
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
    }
)

_PLAYLIST_EXTENSIONS = frozenset({".m3u8", ".m3u", ".mpd"})

# Textual types without a text/* top level, plus playlists under legacy names.
_COMPRESSIBLE_TYPES = frozenset(
    {
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
        "application/dash+xml",
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-subrip",
        "image/svg+xml",
    }
)
# Already-compressed media: gzip would only cost CPU and break byte ranges.
_MEDIA_TOP_LEVELS = frozenset({"video", "audio", "image", "font"})
_TEXTUAL_SUFFIXES = ("+xml", "+json")


def _extension(path: str) -> str:
    """Given a URL or file path, return its lower-case extension with the dot, or ''."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    # A leading dot names a dotfile, not an extension (as os.path.splitext decides).
    return name[dot:].lower() if dot > 0 else ""


def content_type_for(path: str) -> str:
    """Given a path, return the Content-Type for its extension (case-insensitive)."""
    return CONTENT_TYPES.get(_extension(path), DEFAULT_CONTENT_TYPE)


def is_playlist(path: str) -> bool:
    """Given a path, return whether it names an HLS or DASH playlist."""
    return _extension(path) in _PLAYLIST_EXTENSIONS


def is_compressible(content_type: str) -> bool:
    """Given a Content-Type value, return whether gzip is worth applying to it."""
    # RFC 9110 §8.3.1: type and subtype are case-insensitive; parameters do not matter here.
    media_type = content_type.split(";", 1)[0].strip(" \t").lower()
    if media_type in _COMPRESSIBLE_TYPES:
        return True
    top_level, _, _subtype = media_type.partition("/")
    if top_level in _MEDIA_TOP_LEVELS:
        return False
    return top_level == "text" or media_type.endswith(_TEXTUAL_SUFFIXES)
