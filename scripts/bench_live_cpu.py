"""The live packager's own CPU (everything but ffmpeg) on the default test channel.

Runs the default channel (360p + 540p, 30 fps, 0.2 s parts) with the real packager publishing
through a HubServer (so pickling the views for the workers is counted), waits out a warm-up,
then reads this process's CPU time (ffmpeg is a child: not included) over the measured window.
Goal (issue 3): <= 5 % of one core per rendition.
Run: scripts/bench-live-cpu [SECONDS]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from origin.config import LiveChannel
from packager.hub import HubServer, RenditionView, View
from packager.live import run_channels

WARMUP = 10.0


class CountingHub(HubServer):
    """A HubServer that counts rendition publications."""

    publications = 0

    def publish(self, view: View) -> None:
        if isinstance(view, RenditionView):
            self.publications += 1
        super().publish(view)


async def main(seconds: float) -> None:
    root = tempfile.mkdtemp(prefix="live-cpu-")
    hub = CountingHub(str(Path(root) / "hub.sock"))
    await hub.start()
    stop = asyncio.Event()
    channel = LiveChannel()
    task = asyncio.create_task(run_channels((channel,), root, hub, stop))
    await asyncio.sleep(WARMUP)
    cpu0, wall0, pubs0 = time.process_time(), time.monotonic(), hub.publications
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    pubs = hub.publications - pubs0
    stop.set()
    await task
    await hub.close()
    n = len(channel.renditions)
    print(f"default channel ({n} renditions), {wall:.0f} s after a {WARMUP:.0f} s warm-up:")
    print(
        f"packager CPU {cpu:.2f} s = {100 * cpu / wall:.2f}% of one core, "
        f"{100 * cpu / wall / n:.2f}% per rendition   (goal <= 5% per rendition)"
    )
    print(
        f"{pubs} rendition publications ({pubs / wall:.1f}/s), "
        f"{1e3 * cpu / max(pubs, 1):.2f} ms of CPU each"
    )


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
