"""Tests for packager.boxes: real ffmpeg output fed whole, byte by byte, in random chunks, and
with trailing bytes; synthetic boxes for flag resolution, largesize and size==0."""

from __future__ import annotations

import ast
import itertools
import random
from pathlib import Path

import pytest
from fixtures.fmp4 import (
    FRAMES_PER_PART,
    box,
    full_box,
    large_box,
    make_fragment,
    make_init,
)

from packager.boxes import (
    SAMPLE_IS_NON_SYNC,
    BoxError,
    BoxReader,
    Event,
    Fragment,
    InitSegment,
)

pytest_plugins = ["conftest_packager"]

NON_SYNC = SAMPLE_IS_NON_SYNC
SYNC = 0x02000000  # sample_depends_on=2 (I-frame), non-sync bit clear


def read_all(chunks: list[bytes]) -> list[Event]:
    reader = BoxReader()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(reader.feed(chunk))
    events.extend(reader.close())
    return events


def fragment_of(events: list[Event]) -> Fragment:
    """The single fragment after the init segment."""
    assert len(events) == 2
    fragment = events[1]
    assert isinstance(fragment, Fragment)
    return fragment


def summary(events: list[Event]) -> list[object]:
    """Comparable form of events: init tracks, then per-fragment runs."""
    return [e.tracks if isinstance(e, InitSegment) else (e.tracks, len(e.data)) for e in events]


def random_chunks(data: bytes, seed: int, max_size: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(data):
        n = rng.randint(1, max_size)
        out.append(data[pos : pos + n])
        pos += n
    return out


# ---- real ffmpeg output -------------------------------------------------------------------


def test_whole_stream_shape(short_stream: bytes) -> None:
    events = read_all([short_stream])
    init, fragments = events[0], events[1:]
    assert isinstance(init, InitSegment)
    assert [t.handler for t in init.tracks] == ["vide", "soun"]
    video, audio = init.tracks
    assert (video.width, video.height, video.sample_entry) == (160, 90, "avc1")
    assert (audio.sample_entry, audio.sample_rate, audio.timescale) == ("mp4a", 48000, 48000)
    assert init.data == short_stream[: len(init.data)]
    assert all(isinstance(f, Fragment) for f in fragments)
    # ftyp+moov, then moof+mdat pairs cover the stream up to the trailing mfra.
    assert sum(len(e.data) for e in events) <= len(short_stream)
    assert short_stream[len(init.data) + 4 : len(init.data) + 8] == b"moof"
    for frag in fragments:
        assert isinstance(frag, Fragment)
        assert frag.data[4:8] == b"moof"
        assert [r.handler for r in frag.tracks] == ["vide", "soun"]
        assert frag.primary().sample_count == FRAMES_PER_PART


def test_fragment_bytes_are_contiguous(short_stream: bytes) -> None:
    events = read_all([short_stream])
    joined = b"".join(e.data for e in events)
    assert short_stream.startswith(joined)
    tail = short_stream[len(joined) :]
    assert tail[4:8] == b"mfra"  # ffmpeg's trailer: dropped, not an error


def test_byte_by_byte_matches_whole(short_stream: bytes) -> None:
    whole = summary(read_all([short_stream]))
    one_by_one = summary(read_all([short_stream[i : i + 1] for i in range(len(short_stream))]))
    assert one_by_one == whole


@pytest.mark.parametrize(("seed", "max_size"), [(1, 7), (2, 1000), (3, 65536), (4, 300_000)])
def test_random_chunks_match_whole(short_stream: bytes, seed: int, max_size: int) -> None:
    assert summary(read_all(random_chunks(short_stream, seed, max_size))) == summary(
        read_all([short_stream])
    )


def test_events_arrive_as_soon_as_complete(short_stream: bytes) -> None:
    whole = read_all([short_stream])
    reader = BoxReader()
    first_frag = whole[1]
    cut = len(whole[0].data) + len(first_frag.data)
    assert [type(e) for e in reader.feed(short_stream[: cut - 1])] == [InitSegment]
    assert reader.feed(short_stream[cut - 1 : cut]) == [first_frag]


@pytest.mark.parametrize(
    "extra", [b"\x00", b"\x00\x00\x01", b"\x00\x00\x10\x00moof", b"\x00\x00\x00\x20" + b"\x00" * 11]
)
def test_trailing_partial_bytes_held_then_close_raises(short_stream: bytes, extra: bytes) -> None:
    reader = BoxReader()
    events = reader.feed(short_stream + extra)
    assert len(events) == len(read_all([short_stream]))
    assert reader.buffered == len(extra)
    with pytest.raises(BoxError, match="left over"):
        reader.close()


def test_tfdt_continuity_and_sync(short_stream: bytes) -> None:
    fragments = [e for e in read_all([short_stream]) if isinstance(e, Fragment)]
    for track_index in (0, 1):
        runs = [f.tracks[track_index] for f in fragments]
        for before, after in itertools.pairwise(runs):
            assert before.base_media_decode_time + before.duration == after.base_media_decode_time
    # 60-frame GOP, 6-frame fragments: every tenth fragment starts with a keyframe.
    assert [f.primary().first_sample_is_sync for f in fragments] == [
        i % 10 == 0 for i in range(len(fragments))
    ]


# ---- synthetic boxes ----------------------------------------------------------------------

# (case, trex flags, tfhd default flags, trun first_sample_flags, per-sample flags, sync?)
FLAG_ORDER_CASES = [
    ("trex only, sync", SYNC, None, None, None, True),
    ("trex only, non-sync", NON_SYNC, None, None, None, False),
    ("tfhd beats trex", NON_SYNC, SYNC, None, None, True),
    ("tfhd non-sync beats trex", SYNC, NON_SYNC, None, None, False),
    ("per-sample beats tfhd", NON_SYNC, NON_SYNC, None, SYNC, True),
    ("per-sample non-sync beats tfhd", SYNC, SYNC, None, NON_SYNC, False),
    ("first_sample_flags beats per-sample", NON_SYNC, NON_SYNC, SYNC, NON_SYNC, True),
    ("first_sample_flags non-sync beats all", SYNC, SYNC, NON_SYNC, SYNC, False),
]


@pytest.mark.parametrize(
    ("trex", "tfhd", "first", "per_sample", "sync"),
    [c[1:] for c in FLAG_ORDER_CASES],
    ids=[c[0] for c in FLAG_ORDER_CASES],
)
def test_first_sample_flag_resolution_order(
    trex: int, tfhd: int | None, first: int | None, per_sample: int | None, sync: bool
) -> None:
    samples = [(3000, per_sample), (3000, per_sample)]
    frag = make_fragment(1, 0, samples, tfhd_flags=tfhd, first_sample_flags=first)
    events = read_all([make_init(trex_flags=trex), frag])
    assert isinstance(events[1], Fragment)
    assert events[1].tracks[0].first_sample_is_sync is sync


# (case, trex duration, tfhd default duration, per-sample durations, expected total)
DURATION_CASES = [
    ("trun per-sample", 1, 2, [3000, 3003, 2997], 9000),
    ("tfhd default", 1, 3003, [None, None], 6006),
    ("trex default", 3600, None, [None, None, None], 10800),
]


@pytest.mark.parametrize(
    ("trex", "tfhd", "durations", "total"),
    [c[1:] for c in DURATION_CASES],
    ids=[c[0] for c in DURATION_CASES],
)
def test_duration_resolution_order(
    trex: int, tfhd: int | None, durations: list[int | None], total: int
) -> None:
    samples = [(d, SYNC) for d in durations]
    events = read_all(
        [make_init(trex_duration=trex), make_fragment(1, 5, samples, tfhd_duration=tfhd)]
    )
    run = fragment_of(events).tracks[0]
    assert (run.duration, run.sample_count, run.base_media_decode_time) == (
        total,
        len(durations),
        5,
    )
    assert run.size == 4 * len(durations)


@pytest.mark.parametrize(("version", "base"), [(0, 2**32 - 1), (1, 2**40 + 7)])
def test_tfdt_versions(version: int, base: int) -> None:
    frag = make_fragment(1, base, [(3000, SYNC)], tfdt_version=version)
    assert fragment_of(read_all([make_init(), frag])).tracks[0].base_media_decode_time == base


def test_largesize_mdat_and_prefix_boxes_travel_with_fragment() -> None:
    frag = make_fragment(7, 0, [(3000, SYNC)])
    moof_size = int.from_bytes(frag[:4], "big")
    moof, mdat_payload = frag[:moof_size], frag[moof_size + 8 :]
    styp = box("styp", b"msdh\0\0\0\0msdhmsix")
    prft = full_box("prft", 1, 0, bytes(4 + 8 + 8))
    data = styp + prft + moof + large_box("mdat", mdat_payload)
    events = read_all([make_init(), box("free"), data, box("free", b"x")])
    assert len(events) == 2
    fragment = events[1]
    assert isinstance(fragment, Fragment)
    assert fragment.data == data
    assert fragment.sequence_number == 7


def test_size_zero_box_completes_only_at_close() -> None:
    frag = make_fragment(1, 0, [(3000, SYNC)])
    moof_size = int.from_bytes(frag[:4], "big")
    open_ended = frag[:moof_size] + b"\0\0\0\0mdat" + frag[moof_size + 8 :]
    reader = BoxReader()
    assert len(reader.feed(make_init() + open_ended)) == 1  # the init; mdat is still open
    (fragment,) = reader.close()
    assert isinstance(fragment, Fragment)
    assert fragment.data == open_ended


MFHD = full_box("mfhd", 0, 0, bytes(4))
TFHD = full_box("tfhd", 0, 0, bytes(4))
# (case, bytes after a valid init, error pattern raised by feed or close)
ERROR_CASES = [
    ("mdat without moof", box("mdat", b"x"), "mdat without moof"),
    ("moof without mdat at end", make_fragment(1, 0, [(1, SYNC)])[:-12], "moof without its mdat"),
    ("box smaller than header", b"\0\0\0\x04free", "size 4"),
    ("moof then moof", make_fragment(1, 0, [(1, SYNC)])[:-12] * 2, "moof without mdat"),
    ("no tfdt", box("moof", MFHD + box("traf", TFHD)) + box("mdat"), "no tfdt"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "pattern"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_malformed_streams_raise(data: bytes, pattern: str) -> None:
    reader = BoxReader()
    with pytest.raises(BoxError, match=pattern):
        reader.feed(make_init() + data)
        reader.close()


def test_feed_after_close_raises() -> None:
    reader = BoxReader()
    reader.close()
    with pytest.raises(BoxError):
        reader.feed(b"")


# ---- the sans-I/O rule --------------------------------------------------------------------

BANNED_IMPORTS = {
    "asyncio", "os", "subprocess", "pathlib", "starlette", "anyio", "socket", "threading",
}  # fmt: skip
PURE_MODULES = ["boxes", "segmenter", "window", "directives", "model", "playlist", "codecs"]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_io(module: str) -> None:
    path = Path(__file__).resolve().parent.parent / "packager" / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & BANNED_IMPORTS
    assert isinstance(tree.body[0], ast.Expr)  # module docstring
    assert any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in tree.body[:3])
