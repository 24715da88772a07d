"""Tests for packager.directives: each row is one rule of llhls-rules.md
"Origin: delivery directives" (rfc8216bis §6.2.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from packager.directives import (
    Decision,
    Directives,
    Outcome,
    SkipRequest,
    advance_part_limit,
    evaluate_directives,
    parse_directives,
)
from packager.window import Snapshot, Window, WindowConfig

TS = 1000
PART_TARGET = Fraction(1, 2)  # Advance Part Limit: 3 / 0.5 = 6 parts


def build(segments: int, partial: int, *, ended: bool = False) -> Snapshot:
    """Segments 0..segments-1 of four 0.5 s parts, then `partial` parts of the next one."""
    window = Window(WindowConfig(timescale=TS, target_duration=2, part_target=PART_TARGET))
    window.discontinuity(datetime(2025, 1, 1, tzinfo=UTC), 0)
    start = 0
    for msn in range(segments + 1):
        for index in range(4 if msn < segments else partial):
            window.add_part(msn, index, 500, index == 0, start)
            start += 500
        if msn < segments:
            window.add_segment(msn, 2000)
    if ended:
        window.end()
    return window.snapshot()


LIVE = build(8, 2)  # last msn 8, last part 1; segment 7 complete with parts 0..3
ENDED = build(8, 0, ended=True)
EARLY = build(0, 2)  # parts 0.0 and 0.1, no complete segment yet

NOW = Decision(Outcome.ANSWER_NOW)


def wait(msn: int, part: int | None, delta: bool = False) -> Decision:
    return Decision(Outcome.WAIT, msn=msn, part=part, delta=delta)


# (rule, query, snapshot, expected outcome; for 400s only the outcome is compared)
CASES: list[tuple[str, str, Snapshot, Decision]] = [
    ("no directives: answer now", "", LIVE, NOW),
    ("segment M complete: answer now", "_HLS_msn=7", LIVE, NOW),
    ("hold until segment M is complete", "_HLS_msn=8", LIVE, wait(8, None)),
    ("part N of M published: answer now", "_HLS_msn=8&_HLS_part=1", LIVE, NOW),
    ("hold until part N of M", "_HLS_msn=8&_HLS_part=2", LIVE, wait(8, 2)),
    ("later part already there: answer now", "_HLS_msn=6&_HLS_part=0", LIVE, NOW),
    ("N past the end of M is part 0 of M+1", "_HLS_msn=7&_HLS_part=4", LIVE, NOW),
    ("N past the end rolls even far past", "_HLS_msn=7&_HLS_part=5", LIVE, NOW),
    ("no roll while M is in progress", "_HLS_msn=8&_HLS_part=5", LIVE, wait(8, 5)),
    ("next segment's first part", "_HLS_msn=9&_HLS_part=0", LIVE, wait(9, 0)),
    ("M = last + 2 is fine", "_HLS_msn=10", LIVE, wait(10, None)),
    ("400: M > last MSN + 2", "_HLS_msn=11", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("400: _HLS_part without _HLS_msn", "_HLS_part=1", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("Advance Part Limit: 6 ahead is fine", "_HLS_msn=8&_HLS_part=7", LIVE, wait(8, 7)),
    ("400: 7 parts ahead > 3/0.5", "_HLS_msn=8&_HLS_part=8", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("limit counts into M+1 too", "_HLS_msn=9&_HLS_part=5", LIVE, wait(9, 5)),
    ("400: too far into M+1", "_HLS_msn=9&_HLS_part=6", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("400: malformed number", "_HLS_msn=1e3", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("other parameters tolerated", "token=abc&_HLS_msn=8&_HLS_part=1&x=", LIVE, NOW),
    ("skip=YES: delta", "_HLS_skip=YES", LIVE, Decision(Outcome.ANSWER_NOW, delta=True)),
    ("skip=v2: delta", "_HLS_skip=v2", LIVE, Decision(Outcome.ANSWER_NOW, delta=True)),
    ("skip with a wait", "_HLS_msn=9&_HLS_skip=YES", LIVE, wait(9, None, delta=True)),
    ("400: unknown skip value", "_HLS_skip=yes", LIVE, Decision(Outcome.BAD_REQUEST)),
    ("ENDLIST: msn ignored", "_HLS_msn=50&_HLS_part=3", ENDED, NOW),
    ("ENDLIST: part without msn ignored", "_HLS_part=3", ENDED, NOW),
    ("ENDLIST: skip ignored", "_HLS_skip=YES", ENDED, NOW),
    ("ENDLIST: malformed ignored", "_HLS_msn=x", ENDED, NOW),
    ("no complete segment: hold", "", EARLY, wait(0, None)),
    (
        "no complete segment: hold even if part is there",
        "_HLS_msn=0&_HLS_part=0",
        EARLY,
        wait(0, None),
    ),
]


@pytest.mark.parametrize(
    ("query", "snap", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_delivery_directives(query: str, snap: Snapshot, expected: Decision) -> None:
    decision = evaluate_directives(parse_directives(query), snap)
    if expected.outcome is Outcome.BAD_REQUEST:
        assert decision.outcome is Outcome.BAD_REQUEST
        assert decision.reason
    else:
        assert decision == expected


def test_skip_without_can_skip_until_is_a_full_playlist() -> None:
    decision = evaluate_directives(parse_directives("_HLS_skip=YES"), LIVE, can_skip=False)
    assert decision == NOW


# (query, parsed)
PARSE_CASES = [
    ("", Directives()),
    ("_HLS_msn=5", Directives(msn=5)),
    ("_HLS_msn=5&_HLS_part=0", Directives(msn=5, part=0)),
    ("a=1&_HLS_msn=05&b", Directives(msn=5)),
    ("_HLS_skip=v2&_HLS_msn=3", Directives(msn=3, skip=SkipRequest.V2)),
    (f"_HLS_msn={2**64 - 1}", Directives(msn=2**64 - 1)),
]


@pytest.mark.parametrize(("query", "parsed"), PARSE_CASES)
def test_parse(query: str, parsed: Directives) -> None:
    assert parse_directives(query) == parsed


MALFORMED = [
    "_HLS_msn=",
    "_HLS_msn=-1",
    "_HLS_msn=1.0",
    "_HLS_msn=+1",
    "_HLS_msn= 1",
    "_HLS_part=x",
    f"_HLS_msn={2**64}",
    "_HLS_msn=1&_HLS_msn=2",
    "_HLS_skip=",
    "_HLS_skip=NO",
]


@pytest.mark.parametrize("query", MALFORMED)
def test_parse_malformed(query: str) -> None:
    assert parse_directives(query).error


# (PART-TARGET, Advance Part Limit)
LIMIT_CASES = [
    (Fraction(1, 5), Fraction(15)),
    (Fraction(1, 2), Fraction(6)),
    (Fraction(334, 1000), Fraction(3000, 334)),
    (Fraction(1), Fraction(3)),
    (Fraction(2), Fraction(3)),
]


@pytest.mark.parametrize(("part_target", "limit"), LIMIT_CASES)
def test_advance_part_limit(part_target: Fraction, limit: Fraction) -> None:
    assert advance_part_limit(part_target) == limit
