"""Hostile request targets sent raw over the socket (client libraries would normalise them).

http-rules.md "Serving bytes": percent-decoded once, normalised, inside the media root after
resolving symlinks; no dotfiles, no directory listing; NUL and `..` escapes → 404 (or 400),
never a file outside the root.
"""

from __future__ import annotations

import pytest
from conftest import DOTFILE_SECRET, SECRET, MediaTree, OriginServer, build_request

pytestmark = pytest.mark.server

LEAKS = (SECRET.encode(), DOTFILE_SECRET.encode(), b"root:x:0:0", b"[core]")

HOSTILE = [
    pytest.param("/../etc/passwd", id="dotdot"),
    pytest.param("/../../../../../../etc/passwd", id="dotdot-deep"),
    pytest.param("/%2e%2e/%2e%2e/etc/passwd", id="encoded-dotdot"),
    pytest.param("/%2E%2E/%2E%2E/etc/passwd", id="encoded-dotdot-upper"),
    pytest.param("/%2e%2e%2fetc%2fpasswd", id="encoded-dotdot-and-slash"),
    pytest.param("/..%2f..%2fetc/passwd", id="dotdot-encoded-slash"),
    pytest.param("/sub/..%2f..%2f..%2fsecret.txt", id="dotdot-encoded-slash-from-subdir"),
    pytest.param("/%00", id="nul"),
    pytest.param("/f.bin%00.txt", id="nul-truncation"),
    pytest.param("/f.bin%00", id="nul-suffix"),
    pytest.param("/..\\..\\etc\\passwd", id="backslash-dotdot"),
    pytest.param("/%5c..%5cetc", id="encoded-backslash"),
    pytest.param("/sub%5c..%5c.secret", id="encoded-backslash-to-dotfile"),
    pytest.param("//etc/passwd", id="double-slash-absolute"),
    pytest.param("/%2fetc%2fpasswd", id="encoded-slash-absolute"),
    pytest.param("/.secret", id="dotfile"),
    pytest.param("/%2esecret", id="encoded-dotfile"),
    pytest.param("/.git/config", id="dot-directory"),
    pytest.param("/%2egit/config", id="encoded-dot-directory"),
    pytest.param("/sub/../.secret", id="dotdot-to-dotfile"),
    pytest.param("/sub/%2e%2e/.secret", id="encoded-dotdot-to-dotfile"),
    pytest.param("/./f.bin/../.secret", id="dot-segments"),
    pytest.param("/outside-link", id="symlink-outside-root"),
    pytest.param("/outside-dir/secret.txt", id="symlinked-dir-outside-root"),
    pytest.param("/outside-dir/media/.secret", id="symlinked-dir-back-to-dotfile"),
    pytest.param("/%252e%252e/%252e%252e/etc/passwd", id="double-encoded-dotdot"),
    pytest.param("/%252e%252e%252fsecret.txt", id="double-encoded-dotdot-slash"),
    pytest.param("http://127.0.0.1/etc/passwd", id="absolute-form"),
    pytest.param("http://127.0.0.1/../secret.txt", id="absolute-form-dotdot"),
    pytest.param("/etc/passwd", id="plain-etc-passwd"),
    pytest.param("/sub", id="directory"),
    pytest.param("/sub/", id="directory-slash"),
    pytest.param("/", id="root-directory-no-listing"),
    pytest.param("/vod/t/", id="media-directory-no-listing"),
    pytest.param("/f.bin/", id="file-as-directory"),
    pytest.param("/f.bin/x", id="file-as-directory-child"),
    pytest.param("/%ff%fe", id="invalid-utf8"),
    pytest.param("/%0d%0aSet-Cookie:%20x", id="encoded-crlf"),
    pytest.param("/f.bin%01", id="control-character"),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_target_never_escapes(
    origin_server: OriginServer, target: str, method: str
) -> None:
    resp = origin_server.raw(build_request(method, target))
    assert resp.status in (404, 400), f"{target} → {resp.status} {resp.headers}"
    for leak in LEAKS:
        assert leak not in resp.raw, f"{target} leaked {leak!r}"
    assert b"<a href" not in resp.raw, "directory listing is off"
    assert not any(name.startswith("set-cookie") for name, _ in resp.headers)
    if resp.status == 404:  # our answer (a 400 may come from the HTTP parser itself)
        assert resp.get("cache-control") == "public, max-age=1"
        assert resp.get("access-control-allow-origin") == "*"


SAFE = [
    pytest.param("/inside-link.bin", "f.bin", id="symlink-inside-root-served"),
    pytest.param("//f.bin", "f.bin", id="merged-slashes"),
    pytest.param("/sub//inner.txt", "sub/inner.txt", id="merged-inner-slashes"),
    pytest.param("/%66.bin", "f.bin", id="percent-decoded-once"),
    pytest.param("/f.bin?x=../../etc/passwd", "f.bin", id="query-is-not-path"),
    pytest.param("http://127.0.0.1/f.bin", "f.bin", id="absolute-form-inside-root"),
]


@pytest.mark.parametrize(("target", "rel"), SAFE)
def test_safe_target_serves(
    origin_server: OriginServer, media: MediaTree, target: str, rel: str
) -> None:
    resp = origin_server.raw(build_request("GET", target))
    assert resp.status == 200, resp.headers
    assert resp.body == media.data(rel)
