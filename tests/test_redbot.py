"""REDbot (the HTTP linter) against the real server: no error-level ("BAD") note on any URL.

`redbot -o har URL` writes a HAR whose entries carry `_red_messages`, each with a `level` of
GOOD, INFO, WARN or BAD; the exit code is always 0, so the levels are what this test reads.
REDbot needs no network beyond the URL it checks (this suite runs offline).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OriginServer

pytestmark = pytest.mark.server

REDBOT = str(Path(sys.executable).with_name("redbot"))


def redbot_notes(url: str) -> list[dict[str, str]]:
    done = subprocess.run(
        [REDBOT, "-o", "har", url], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    har = json.loads(done.stdout)
    entries = har["log"]["entries"]
    assert entries, f"REDbot produced no entries for {url}: {done.stdout[:500]}"
    assert entries[0]["response"]["status"] == 200, entries[0]["response"]
    notes: list[dict[str, str]] = []
    for entry in entries:
        notes += entry["_red_messages"]
    return notes


@pytest.mark.parametrize(
    "target",
    ["{sample}", "/p.m3u8", "/vod/t/index.m3u8", "/live/ch/index.m3u8", "/big.bin"],
    ids=["h264-mp4", "playlist-gzip", "vod-playlist", "live-playlist", "large-file"],
)
def test_redbot_finds_nothing_bad(
    origin_server: OriginServer, sample_mp4: str, target: str
) -> None:
    url = origin_server.base_url + target.replace("{sample}", sample_mp4)
    notes = redbot_notes(url)
    bad = [n for n in notes if n["level"].upper() == "BAD"]
    assert not bad, "REDbot error-level notes:\n" + "\n".join(
        f"  [{n['note_id']}] {n['summary']}" for n in bad
    )
    ids = {n["note_id"] for n in notes}
    # It did run the checks we rely on it for.
    assert "RANGE_CORRECT" in ids, sorted(ids)
    assert "INM_304" in ids, sorted(ids)
    if target.endswith(".m3u8") and "live" not in target:
        assert "CONNEG_GZIP_GOOD" in ids, sorted(ids)
