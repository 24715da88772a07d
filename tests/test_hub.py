"""The hub between the packager process and the HTTP workers, over a real Unix socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from packager.hub import HubClient, HubServer, LiveHub, encode, read_view
from packager.synthetic import FakeChannel

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(predicate, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_frames_round_trip(tmp_path: Path) -> None:
    hub = LiveHub()
    FakeChannel(tmp_path, hub).advance(9)
    view = hub.rendition("ch", "low")
    assert view is not None
    reader = asyncio.StreamReader()
    reader.feed_data(encode(view) + encode(view)[:3])  # one whole frame, then a partial one
    assert await read_view(reader) == view
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await read_view(reader)


async def test_worker_mirrors_packager_and_wakes_waiters(tmp_path: Path) -> None:
    sock = str(tmp_path / "hub.sock")
    server = HubServer(sock)
    await server.start()
    channel = FakeChannel(tmp_path, server)
    channel.advance(9)  # two complete segments (4 parts each) and one part
    mirror = LiveHub()
    client = HubClient(sock, mirror)
    client.start()
    try:
        # A worker that connects late still gets the latest state of every rendition.
        await until(lambda: mirror.rendition("ch", "high") is not None)
        assert mirror.channel("ch") is not None
        latest = mirror.rendition("ch", "low")
        assert latest is not None and latest.snapshot.last_msn == 2
        waiter = asyncio.ensure_future(mirror.wait("ch", "low", 2, 1, timeout=2.0))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        channel.advance(1)
        view = await asyncio.wait_for(waiter, 1.0)
        assert view is not None and view.snapshot.is_published(2, 1)
        # The packager restarts: the worker reconnects and catches up.
        await server.close()
        server = HubServer(sock)
        await server.start()
        channel.hub = server
        channel.advance(1)
        await until(lambda: mirror.rendition("ch", "low").snapshot.is_published(2, 2))  # type: ignore[union-attr]
    finally:
        await client.stop()
        await server.close()


async def test_wait_times_out_without_touching_other_waiters(tmp_path: Path) -> None:
    hub = LiveHub()
    channel = FakeChannel(tmp_path, hub)
    channel.advance(9)
    short = asyncio.ensure_future(hub.wait("ch", "low", 2, 1, timeout=0.05))
    long = asyncio.ensure_future(hub.wait("ch", "low", 2, 1, timeout=2.0))
    assert await short is None  # timed out alone
    channel.advance(1)
    view = await asyncio.wait_for(long, 1.0)
    assert view is not None
