"""The preview page at `GET /`: live channels, VOD titles and MP4 files, each opened in a player.

hls.js comes from the npm registry at setup time (origin/web/package.json) and is served by the
origin itself at /_origin/hls.min.js, so the page needs no network beyond the origin. The page
uses hls.js where MSE exists, native HLS otherwise (Safari), and a plain <video> for MP4.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from packager.hub import LiveSource

WEB = Path(__file__).resolve().parent / "web"
HLS_JS = WEB / "node_modules" / "hls.js" / "dist" / "hls.min.js"
_TEMPLATE = (WEB / "preview.html").read_text(encoding="utf-8")
_MAX_FILES = 500  # a page, not an index of a huge tree
_RESCAN_SECONDS = 2.0


def scan_media(root: str) -> dict[str, list[dict[str, str]]]:
    """Return the VOD titles (vod/<name>/index.m3u8) and MP4 files under `root` (blocking)."""
    vod: list[dict[str, str]] = []
    vod_dir = os.path.join(root, "vod")
    if os.path.isdir(vod_dir):
        for name in sorted(os.listdir(vod_dir)):
            if not name.startswith(".") and os.path.isfile(
                os.path.join(vod_dir, name, "index.m3u8")
            ):
                vod.append({"name": name, "url": f"/vod/{name}/index.m3u8"})
    mp4: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        # Live parts and packaged segments are not titles; hidden directories are never served.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not (rel_dir == "." and d == "live")
        )
        for f in sorted(filenames):
            if f.lower().endswith((".mp4", ".m4v")) and not f.startswith("."):
                rel = os.path.normpath(os.path.join(rel_dir, f)).replace(os.sep, "/")
                mp4.append({"name": rel, "url": "/" + rel})
                if len(mp4) >= _MAX_FILES:
                    return {"vod": vod, "mp4": mp4}
    return {"vod": vod, "mp4": mp4}


class PreviewPage:
    """Renders the page from the live channels and a periodically refreshed scan of the root."""

    def __init__(self, root: str, source: LiveSource | None, channels: tuple[str, ...]) -> None:
        self.root = root
        self.source = source
        self.channels = channels
        self._scan: dict[str, list[dict[str, str]]] = {"vod": [], "mp4": []}
        self._scanned = 0.0

    async def catalog(self) -> dict[str, list[dict[str, str]]]:
        if time.monotonic() - self._scanned > _RESCAN_SECONDS:
            self._scan = await asyncio.to_thread(scan_media, self.root)
            self._scanned = time.monotonic()
        live = [
            {"name": name, "url": f"/live/{name}/index.m3u8"}
            for name in self.channels
            if self.source is not None and self.source.channel(name) is not None
        ]
        return {"live": live, **self._scan}

    async def page(self, request: Request) -> Response:
        data = json.dumps(await self.catalog()).replace("</", "<\\/")  # stay inside <script>
        return HTMLResponse(
            _TEMPLATE.replace("__CATALOG__", data), headers={"cache-control": "no-cache"}
        )

    async def hls_js(self, request: Request) -> Response:
        if not HLS_JS.is_file():
            return Response(
                "hls.js is not installed: run scripts/setup\n",
                status_code=404,
                media_type="text/plain",
                headers={"cache-control": "no-store"},
            )
        body = await asyncio.to_thread(HLS_JS.read_bytes)
        return Response(
            body,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=86400"},
        )
