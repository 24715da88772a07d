"""The packager: drives ffmpeg, parses fragmented MP4, cuts LL-HLS parts and renders playlists."""

from __future__ import annotations
