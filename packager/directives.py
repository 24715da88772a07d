"""Delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`): parse, then decide.

`parse_directives()` reads a query string; `evaluate_directives()` turns directives plus a
window snapshot into a `Decision`: answer now, wait for (msn, part), or 400. The live HTTP
code re-evaluates on every wake-up until the answer is ANSWER_NOW or its 3xTD timeout fires
(rfc8216bis §6.2.5.2).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import parse_qsl

from packager.window import Snapshot

__all__ = [
    "Decision",
    "Directives",
    "Outcome",
    "SkipRequest",
    "advance_part_limit",
    "evaluate_directives",
    "parse_directives",
]

# rfc8216bis §4.2: decimal-integer is 1-20 digits, range 0 to 2^64-1.
_DECIMAL_INTEGER = re.compile(r"[0-9]{1,20}")
_MAX_DECIMAL_INTEGER = 2**64 - 1
# rfc8216bis §6.2.5.2: 400 when _HLS_msn is more than this beyond the last msn.
MSN_ADVANCE_LIMIT = 2
# rfc8216bis §6.2.5.2: Advance Part Limit numerator (3 / PART-TARGET, or 3 if PART-TARGET ≥ 1s).
ADVANCE_PARTS = 3


class SkipRequest(enum.Enum):
    """Value of `_HLS_skip`."""

    NONE = ""
    YES = "YES"  # skip old segments
    V2 = "v2"  # skip old segments and old EXT-X-DATERANGE tags


class Outcome(enum.Enum):
    """What the HTTP side does with a playlist request."""

    ANSWER_NOW = "answer-now"
    WAIT = "wait"
    BAD_REQUEST = "bad-request"


@dataclass(frozen=True, slots=True)
class Directives:
    """The `_HLS_*` parameters of one request; `error` is set if one was malformed."""

    msn: int | None = None  # _HLS_msn
    part: int | None = None  # _HLS_part
    skip: SkipRequest = SkipRequest.NONE  # _HLS_skip
    error: str | None = None  # why the query is a 400 (kept so ENDLIST can still win)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome; msn/part are the (normalised) wait target, delta asks for EXT-X-SKIP."""

    outcome: Outcome
    msn: int | None = None
    part: int | None = None
    delta: bool = False
    reason: str = ""


def _number(name: str, raw: str) -> int | str:
    if not _DECIMAL_INTEGER.fullmatch(raw) or int(raw) > _MAX_DECIMAL_INTEGER:
        return f"{name} is not a decimal-integer: {raw!r}"
    return int(raw)


def parse_directives(query: str) -> Directives:
    """Given a raw query string, return its delivery directives; other parameters are ignored."""
    msn: int | None = None
    part: int | None = None
    skip = SkipRequest.NONE
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not name.startswith("_HLS_"):
            continue  # llhls-rules.md: auth tokens and the like ride along
        if name in seen:
            return Directives(error=f"{name} given twice")
        seen.add(name)
        if name in ("_HLS_msn", "_HLS_part"):
            parsed = _number(name, value)
            if isinstance(parsed, str):
                return Directives(error=parsed)
            if name == "_HLS_msn":
                msn = parsed
            else:
                part = parsed
        elif name == "_HLS_skip":
            try:
                skip = SkipRequest(value)
            except ValueError:
                return Directives(error=f"_HLS_skip must be YES or v2, not {value!r}")
            if skip is SkipRequest.NONE:
                return Directives(error="_HLS_skip is empty")
    return Directives(msn=msn, part=part, skip=skip)


def advance_part_limit(part_target: Fraction) -> Fraction:
    """Return how many parts past the last one a request may ask for (rfc8216bis §6.2.5.2)."""
    return ADVANCE_PARTS / part_target if part_target < 1 else Fraction(ADVANCE_PARTS)


def evaluate_directives(
    directives: Directives, snapshot: Snapshot, *, can_skip: bool = True
) -> Decision:
    """Given a request's directives and the window now, return what to do.

    `can_skip` is whether the playlist advertises CAN-SKIP-UNTIL.
    """
    if snapshot.has_endlist:
        # rfc8216bis §6.2.5.2: once the playlist has EXT-X-ENDLIST, directives are ignored.
        return Decision(Outcome.ANSWER_NOW)
    if directives.error is not None:
        return Decision(Outcome.BAD_REQUEST, reason=directives.error)
    # rfc8216bis §6.2.5.1: a delta update only if CAN-SKIP-UNTIL is advertised.
    delta = can_skip and directives.skip is not SkipRequest.NONE
    msn, part = directives.msn, directives.part
    if part is not None and msn is None:
        # rfc8216bis §6.2.5.2: _HLS_part without _HLS_msn is a 400.
        return Decision(Outcome.BAD_REQUEST, reason="_HLS_part without _HLS_msn")
    if msn is not None and msn > snapshot.last_msn + MSN_ADVANCE_LIMIT:
        # rfc8216bis §6.2.5.2: more than two segments ahead is a 400.
        return Decision(
            Outcome.BAD_REQUEST, reason=f"_HLS_msn={msn} > last msn {snapshot.last_msn} + 2"
        )
    if msn is not None and part is not None:
        count = snapshot.part_count(msn)
        if count is not None and part >= count:
            # llhls-rules.md: a part past the end of segment M is part 0 of M+1 (hls.js).
            msn, part = msn + 1, 0
        if _parts_ahead(snapshot, msn, part) > advance_part_limit(snapshot.part_target):
            # rfc8216bis §6.2.5.2: beyond the Advance Part Limit is a 400.
            return Decision(
                Outcome.BAD_REQUEST,
                reason=f"_HLS_part={directives.part} beyond the Advance Part Limit",
            )
    if not snapshot.has_complete_segment:
        # llhls-rules.md: publish no playlist until one complete segment exists.
        return Decision(Outcome.WAIT, msn=snapshot.next_msn, part=None, delta=delta)
    if msn is None or snapshot.is_published(msn, part):
        return Decision(Outcome.ANSWER_NOW, delta=delta)
    # rfc8216bis §6.2.5.2: hold the request until the playlist holds (msn, part) or later.
    return Decision(Outcome.WAIT, msn=msn, part=part, delta=delta)


def _parts_ahead(snapshot: Snapshot, msn: int, part: int) -> int:
    """Lower bound on how many parts (msn, part) lies past the newest published part."""
    last_msn, last_part = snapshot.last_msn, snapshot.last_part
    if msn < last_msn:
        return 0
    if msn == last_msn:
        return part - (last_part if last_part is not None else -1)
    # The segment in progress may end at any moment, so count only the parts of segment msn.
    return part + 1
