"""Request path safety: map a decoded URL path onto a path relative to the media root, or refuse.

Pure: it sees only strings. The shell still resolves symlinks and checks the result stays under
the root (http-rules.md "Serving bytes"), because only the file system knows where a link points.
"""

from __future__ import annotations

# Characters that never appear in a name we serve: NUL ends C strings; a backslash is a path
# separator on Windows file shares and a classic traversal vector through proxies.
_FORBIDDEN = ("\x00", "\\")


def normalise_request_path(path: str) -> str | None:
    """Given the percent-decoded URL path, return a clean root-relative path, or None to 404.

    `None` for anything that could climb out of the root or name a hidden file: `..` or `.`
    segments, dotfiles and dot-directories, NUL, backslashes, control characters. Empty segments
    (`//`) collapse, as nginx's `merge_slashes` does. The root itself is "".
    """
    if not path.startswith("/"):
        return None  # an absolute-form or asterisk target never names a file
    if any(ch in path for ch in _FORBIDDEN) or not path.isprintable():
        return None
    parts = [seg for seg in path.split("/") if seg]
    for seg in parts:
        if seg.startswith("."):  # `.`, `..`, `.git`, `.env`: traversal or a dotfile
            return None
    return "/".join(parts)
