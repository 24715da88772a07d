"""Table-driven tests for origin.ranges: one row per rule of http-rules.md "Range"."""

from __future__ import annotations

import random

import pytest

from origin.ranges import (
    ByteRange,
    RangeOutcome,
    RangeResult,
    parse_range,
    unsatisfied_content_range,
)

IGNORE = RangeResult(RangeOutcome.IGNORE)
UNSATISFIABLE = RangeResult(RangeOutcome.UNSATISFIABLE)


def ok(*bounds: tuple[int, int]) -> RangeResult:
    """Given (start, end) pairs, return the SATISFIABLE result for them."""
    return RangeResult(RangeOutcome.SATISFIABLE, tuple(ByteRange(s, e) for s, e in bounds))


# (header, length, expected); part_overhead=0 unless the row is about coalescing or overhead.
CASES = [
    # unit
    pytest.param("bytes=0-0", 10000, ok((0, 0)), id="first-byte"),
    pytest.param("Bytes=0-0", 10000, ok((0, 0)), id="unit-case-insensitive"),
    pytest.param("BYTES=5-9", 10000, ok((5, 9)), id="unit-upper-case"),
    pytest.param("items=0-5", 10000, IGNORE, id="unknown-unit-ignored"),
    pytest.param("bytes 0-5", 10000, IGNORE, id="missing-equals-ignored"),
    pytest.param("bytes =0-5", 10000, IGNORE, id="space-before-equals-ignored"),
    pytest.param("=0-5", 10000, IGNORE, id="empty-unit-ignored"),
    # grammar
    pytest.param("bytes=0-499", 10000, ok((0, 499)), id="first-last"),
    pytest.param("bytes=9500-", 10000, ok((9500, 9999)), id="open-ended"),
    pytest.param("bytes=-500", 10000, ok((9500, 9999)), id="suffix"),
    pytest.param("bytes=5-5", 10000, ok((5, 5)), id="single-byte-first-equals-last"),
    pytest.param("bytes=0-", 10000, ok((0, 9999)), id="whole-file-still-206"),
    pytest.param("bytes= 0-999, -500", 10000, ok((0, 999), (9500, 9999)), id="ows-after-eq"),
    pytest.param("bytes=0-1 ,\t4-5", 10000, ok((0, 1), (4, 5)), id="ows-around-commas"),
    pytest.param(" bytes=0-1 ", 10000, ok((0, 1)), id="field-ows-trimmed"),
    pytest.param("bytes=0 -1", 10000, IGNORE, id="space-inside-spec-ignored"),
    pytest.param("bytes=0- 1", 10000, IGNORE, id="space-after-dash-ignored"),
    pytest.param("bytes=1 0-20", 10000, IGNORE, id="space-inside-number-ignored"),
    pytest.param("bytes=5-4", 10000, IGNORE, id="last-before-first-ignored"),
    pytest.param("abc", 10000, IGNORE, id="garbage-ignored"),
    pytest.param("", 10000, IGNORE, id="empty-header-ignored"),
    pytest.param("bytes=", 10000, IGNORE, id="empty-range-set-ignored"),
    pytest.param("bytes=-", 10000, IGNORE, id="bare-dash-ignored"),
    pytest.param("bytes=1-2-3", 10000, IGNORE, id="two-dashes-ignored"),
    pytest.param("bytes=+1-2", 10000, IGNORE, id="plus-sign-ignored"),
    pytest.param("bytes=-+1", 10000, IGNORE, id="plus-suffix-ignored"),
    pytest.param("bytes=1_0-20", 10000, IGNORE, id="underscore-ignored"),
    pytest.param("bytes=0x1-2", 10000, IGNORE, id="hex-ignored"),
    pytest.param("bytes=\u0661-2", 10000, IGNORE, id="arabic-indic-digit-ignored"),
    pytest.param("bytes=0-\uff19", 10000, IGNORE, id="fullwidth-digit-ignored"),
    pytest.param("bytes=0-1,abc", 10000, IGNORE, id="one-invalid-spec-spoils-all"),
    pytest.param("bytes=0-1,5-4", 10000, IGNORE, id="one-backwards-spec-spoils-all"),
    pytest.param("bytes=0-1\n", 10000, IGNORE, id="trailing-newline-ignored"),
    # empty list elements, RFC 9110 §5.6.1.2
    pytest.param("bytes=0-1,,8-9", 10000, ok((0, 1), (8, 9)), id="empty-element-skipped"),
    pytest.param("bytes=,0-1", 10000, ok((0, 1)), id="leading-empty-element"),
    pytest.param("bytes=0-1,", 10000, ok((0, 1)), id="trailing-empty-element"),
    pytest.param("bytes=, ,", 10000, IGNORE, id="only-empty-elements-ignored"),
    pytest.param("bytes=0-1" + "," * 17, 10000, IGNORE, id="too-many-empty-elements"),
    # clamping
    pytest.param("bytes=0-20000", 10000, ok((0, 9999)), id="last-beyond-length-clamped"),
    pytest.param("bytes=0-9999", 10000, ok((0, 9999)), id="last-equals-length-minus-1"),
    pytest.param("bytes=0-10000", 10000, ok((0, 9999)), id="last-equals-length-clamped"),
    pytest.param("bytes=-20000", 10000, ok((0, 9999)), id="suffix-longer-than-file"),
    pytest.param("bytes=-10000", 10000, ok((0, 9999)), id="suffix-equals-file"),
    pytest.param("bytes=-1", 10000, ok((9999, 9999)), id="suffix-last-byte"),
    pytest.param("bytes=00-0009", 10000, ok((0, 9)), id="leading-zeros-accepted"),
    # huge numerals never reach int()
    pytest.param("bytes=0-" + "9" * 40, 10000, ok((0, 9999)), id="huge-last-clamped"),
    pytest.param("bytes=-" + "9" * 40, 10000, ok((0, 9999)), id="huge-suffix-whole-file"),
    pytest.param("bytes=" + "9" * 40 + "-", 10000, UNSATISFIABLE, id="huge-first-unsat"),
    pytest.param("bytes=1" + "0" * 19 + "-9", 10000, IGNORE, id="huge-first-above-last"),
    pytest.param("bytes=" + "9" * 5000 + "-", 10000, UNSATISFIABLE, id="past-int-digit-limit"),
    pytest.param(
        "bytes=" + "8" * 30 + "-" + "9" * 30, 10000, UNSATISFIABLE, id="huge-both-ordered"
    ),
    pytest.param("bytes=" + "9" * 30 + "-" + "8" * 30, 10000, IGNORE, id="huge-both-backwards"),
    pytest.param("bytes=" + "0" * 30 + "5-9", 10000, ok((5, 9)), id="zeros-are-not-huge"),
    pytest.param(
        "bytes=999999999999999999-", 10**18, ok((10**18 - 1, 10**18 - 1)), id="18-digit-exact"
    ),
    # satisfiability, RFC 9110 §14.1.1
    pytest.param("bytes=10000-", 10000, UNSATISFIABLE, id="first-at-length-unsat"),
    pytest.param("bytes=10000-20000", 10000, UNSATISFIABLE, id="range-past-end-unsat"),
    pytest.param("bytes=-0", 10000, UNSATISFIABLE, id="zero-suffix-unsat"),
    pytest.param("bytes=-0,10000-", 10000, UNSATISFIABLE, id="all-unsat"),
    pytest.param("bytes=0-10,100000-", 10000, ok((0, 10)), id="drop-unsat-serve-rest"),
    pytest.param("bytes=-0,5-9", 10000, ok((5, 9)), id="drop-zero-suffix-serve-rest"),
    # empty file
    pytest.param("bytes=0-0", 0, IGNORE, id="empty-file-ignored"),
    pytest.param("bytes=-0", 0, IGNORE, id="empty-file-zero-suffix-ignored"),
    pytest.param("items=0-0", 0, IGNORE, id="empty-file-unknown-unit-ignored"),
    # ordering and coalescing (part_overhead=0: only overlapping or touching ranges merge)
    pytest.param("bytes=500-600,0-100", 10000, ok((0, 100), (500, 600)), id="unsorted-sorted"),
    pytest.param("bytes=0-100,50-150", 10000, ok((0, 150)), id="overlap-coalesced"),
    pytest.param("bytes=0-100,101-200", 10000, ok((0, 200)), id="adjacent-coalesced"),
    pytest.param("bytes=0-100,102-200", 10000, ok((0, 100), (102, 200)), id="gap-of-1-kept"),
    pytest.param("bytes=0-500,10-20", 10000, ok((0, 500)), id="contained-coalesced"),
    pytest.param("bytes=0-0,0-0,0-0", 10000, ok((0, 0)), id="duplicates-coalesced"),
    pytest.param("bytes=200-300,0-100,101-199", 10000, ok((0, 300)), id="unsorted-coalesce-to-one"),
    pytest.param("bytes=-100,9000-", 10000, ok((9000, 9999)), id="suffix-inside-open-range"),
]


@pytest.mark.parametrize(("header", "length", "expected"), CASES)
def test_parse_range(header: str, length: int, expected: RangeResult) -> None:
    assert parse_range(header, length, part_overhead=0) == expected


# (header, length, max_ranges, part_overhead, expected)
LIMIT_CASES = [
    pytest.param("bytes=0-1,3-4", 10000, 1, 0, IGNORE, id="more-specs-than-max-ignored"),
    pytest.param("bytes=0-1,3-4", 10000, 2, 0, ok((0, 1), (3, 4)), id="specs-at-max-allowed"),
    pytest.param(
        ",".join(f"{i}-{i}" for i in range(0, 34, 2)),
        10000,
        16,
        0,
        IGNORE,
        id="default-cap-16-exceeded",
    ),
    pytest.param("bytes=0-0,0-0,0-0", 10000, 2, 0, IGNORE, id="cap-counts-before-coalesce"),
    pytest.param("bytes=0-1,-0,9000-", 10000, 2, 0, IGNORE, id="cap-counts-unsat-specs"),
    pytest.param(
        "bytes=0-99,200-299", 10000, 16, 100, ok((0, 99), (200, 299)), id="gap-equal-overhead-kept"
    ),
    pytest.param(
        "bytes=0-99,199-299", 10000, 16, 100, ok((0, 299)), id="gap-below-overhead-merged"
    ),
    pytest.param("bytes=0-99,150-299", 10000, 16, 100, ok((0, 299)), id="near-gap-merged"),
    pytest.param("bytes=0-10,20-30", 1000, 16, 100, ok((0, 30)), id="coalesce-to-one-single"),
    pytest.param("bytes=0-99,300-399", 400, 16, 150, IGNORE, id="overhead-exceeds-length"),
    pytest.param(
        "bytes=0-99,250-349", 400, 16, 100, ok((0, 99), (250, 349)), id="overhead-fits-exactly"
    ),
    pytest.param("bytes=0-99,250-349", 399, 16, 100, IGNORE, id="overhead-one-byte-over"),
    pytest.param("bytes=0-", 100, 16, 1000, ok((0, 99)), id="single-range-no-overhead-check"),
    pytest.param(
        "bytes=0-0,2-2,4-4", 10, 16, 0, ok((0, 0), (2, 2), (4, 4)), id="zero-overhead-tiny-file"
    ),
]


@pytest.mark.parametrize(("header", "length", "max_ranges", "overhead", "expected"), LIMIT_CASES)
def test_parse_range_limits(
    header: str, length: int, max_ranges: int, overhead: int, expected: RangeResult
) -> None:
    if not header.startswith("bytes="):
        header = "bytes=" + header
    assert parse_range(header, length, max_ranges=max_ranges, part_overhead=overhead) == expected


def test_default_overhead_merges_near_ranges() -> None:
    assert parse_range("bytes=0-9,50-59", 10000) == ok((0, 59))


def test_many_ranges_coalesce_in_sorted_order() -> None:
    specs = [f"{i * 10}-{i * 10 + 4}" for i in range(16)]
    random.Random(7).shuffle(specs)
    result = parse_range("bytes=" + ",".join(specs), 100000, part_overhead=0)
    assert [r.start for r in result.ranges] == [i * 10 for i in range(16)]


CONTENT_RANGE_CASES = [
    pytest.param(ByteRange(0, 9), 100, "bytes 0-9/100", 10, id="first-ten"),
    pytest.param(ByteRange(99, 99), 100, "bytes 99-99/100", 1, id="last-byte"),
    pytest.param(ByteRange(0, 99), 100, "bytes 0-99/100", 100, id="whole"),
]


@pytest.mark.parametrize(("byte_range", "total", "value", "length"), CONTENT_RANGE_CASES)
def test_content_range(byte_range: ByteRange, total: int, value: str, length: int) -> None:
    assert byte_range.content_range(total) == value
    assert byte_range.length == length


def test_unsatisfied_content_range() -> None:
    assert unsatisfied_content_range(10000) == "bytes */10000"


_FUZZ_ALPHABET = "bytesBYTESitm=-,0123456789 \t\n+_x\u0661\uff19;\"'*"


def _random_spec(rng: random.Random) -> str:
    """Given a seeded generator, return a mostly valid range-spec with edge-case numbers."""
    numbers = [0, 1, 9, 10, 99, 100, 999, 1000, 10**6, 10**6 + 1, 10**20]
    first, last = rng.choice(numbers), rng.choice(numbers)
    return rng.choice([f"{first}-{last}", f"{first}-", f"-{last}", "", " ", f"{first}-{last} "])


@pytest.mark.parametrize("seed", range(5))
def test_fuzz_never_raises_and_stays_in_bounds(seed: int) -> None:
    rng = random.Random(seed)
    outcomes: set[RangeOutcome] = set()
    for _ in range(2000):
        if rng.random() < 0.5:
            body = "".join(rng.choice(_FUZZ_ALPHABET) for _ in range(rng.randint(0, 40)))
        else:
            body = ",".join(_random_spec(rng) for _ in range(rng.randint(1, 10)))
        header = rng.choice(["bytes=", "Bytes= ", "", "items="]) + body
        length = rng.choice([0, 1, 2, 10, 100, 1000, 10**6])
        overhead = rng.choice([0, 1, 100])
        result = parse_range(header, length, max_ranges=8, part_overhead=overhead)
        outcomes.add(result.outcome)
        if result.outcome is not RangeOutcome.SATISFIABLE:
            assert result.ranges == ()
            continue
        assert result.ranges
        for byte_range in result.ranges:
            assert 0 <= byte_range.start <= byte_range.end < length
        for before, after in zip(result.ranges, result.ranges[1:], strict=False):
            assert after.start - before.end - 1 >= max(overhead, 1)
    assert outcomes == set(RangeOutcome)  # the fuzzer reaches every branch


# The single-range fast path in parse_range must answer exactly as the general parser does.
FAST_PATH_ROWS = [
    pytest.param("bytes=0-", 10000, id="open-from-zero"),
    pytest.param("bytes=0-0", 10000, id="first-byte"),
    pytest.param("bytes=9999-", 10000, id="last-byte-open"),
    pytest.param("bytes=10000-", 10000, id="first-at-length-unsatisfiable"),
    pytest.param("bytes=5-4", 10000, id="last-before-first-invalid"),
    pytest.param("bytes=0-999999999999999999", 10000, id="huge-last-clamped"),
    pytest.param("bytes=999999999999999999-", 10000, id="huge-first-unsatisfiable"),
    pytest.param("bytes=100-200", 150, id="last-beyond-length-clamped"),
    pytest.param("bytes=000-001", 10, id="leading-zeros"),
]


@pytest.mark.parametrize(("header", "length"), FAST_PATH_ROWS)
def test_single_range_fast_path_matches_general_parser(header: str, length: int) -> None:
    from origin.ranges import parse_range_set

    assert parse_range(header, length) == parse_range_set(header, length)


def test_single_range_fast_path_matches_general_parser_fuzzed() -> None:
    from origin.ranges import parse_range_set

    rng = random.Random(20261122)
    for _ in range(20000):
        length = rng.choice([1, 2, 10, 1000, 65536, 10**9])
        first = str(rng.randrange(0, length * 2 + 2))
        last = rng.choice(["", str(rng.randrange(0, length * 2 + 2))])
        header = f"bytes={first}-{last}"
        assert parse_range(header, length) == parse_range_set(header, length), (header, length)
