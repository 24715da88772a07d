"""Validators (ETag, HTTP-date) and precondition evaluation (RFC 9110 §8.8, §13).

Pure: no I/O. The handler calls ``evaluate_preconditions`` only for a resource that exists and
would otherwise answer 2xx (RFC 9110 §13.2.1), so ``*`` always matches here.

Resolved ambiguities:
- A malformed If-Match matches nothing, so the request fails with 412; a malformed If-None-Match
  matches nothing, so the request proceeds (and, being present, still disables
  If-Modified-Since). This is what Go's net/http and nginx do for a value with no valid tag.
- An empty or all-whitespace conditional header is treated as absent (Go's net/http); a list of
  only empty elements (``", ,"``) is a valid empty list that matches nothing (RFC 9110 §5.6.1).
- HTTP-dates are parsed case-sensitively (RFC 9110 §5.6.7); the weekday is checked for syntax but
  not against the date (as Go's time.Parse does). Leap second 60 is rejected.
- An If-Range date is trusted as a strong validator when it equals Last-Modified exactly; the
  caller guarantees Last-Modified is never later than Date (http-rules.md).
"""

from __future__ import annotations

import calendar
import datetime
import enum
import math
import re
from collections.abc import Mapping

__all__ = [
    "Precondition",
    "evaluate_preconditions",
    "format_etag",
    "format_http_date",
    "if_range_allows_range",
    "parse_etag_list",
    "parse_http_date",
    "strong_match",
    "weak_match",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name: number for number, name in enumerate(_MONTHS, start=1)}
_DAY = "|".join(_DAYS)
_MONTH = "|".join(_MONTHS)
_TIME = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
# RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime formats, exactly.
_IMF_FIXDATE = re.compile(
    rf"(?:{_DAY}), (?P<day>[0-9]{{2}}) (?P<month>{_MONTH}) (?P<year>[0-9]{{4}}) {_TIME} GMT"
)
_RFC850 = re.compile(
    rf"(?:{'|'.join(_LONG_DAYS)}), (?P<day>[0-9]{{2}})-(?P<month>{_MONTH})-(?P<year>[0-9]{{2}})"
    rf" {_TIME} GMT"
)
_ASCTIME = re.compile(
    rf"(?:{_DAY}) (?P<month>{_MONTH}) (?P<day>[0-9]{{2}}| [0-9]) {_TIME} (?P<year>[0-9]{{4}})"
)
# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text.
_ETAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')
_ETAGC = re.compile(r"[\x21\x23-\x7e\x80-\xff]*")
# RFC 9110 §5.6.1.2: one list element (possibly empty) with its OWS and trailing comma.
_LIST_ELEMENT = re.compile(r'[ \t]*(?P<tag>(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?[ \t]*(?:,|\Z)')
_OWS = " \t"
_GET_OR_HEAD = frozenset({"GET", "HEAD"})


class Precondition(enum.Enum):
    """The outcome of evaluating a request's preconditions."""

    PROCEED = "proceed"  # go on to Range evaluation / 200
    NOT_MODIFIED = "not_modified"  # 304
    PRECONDITION_FAILED = "failed"  # 412


def format_etag(digest_hex: str, *, suffix: str = "") -> str:
    """Given a content digest and an optional variant suffix, return a strong entity-tag."""
    opaque = digest_hex + suffix
    if _ETAGC.fullmatch(opaque) is None:
        raise ValueError(f"not valid etagc characters: {opaque!r}")  # RFC 9110 §8.8.3
    return f'"{opaque}"'


def format_http_date(epoch_seconds: float) -> str:
    """Given seconds since the epoch, return the IMF-fixdate for that second."""
    moment = datetime.datetime.fromtimestamp(math.floor(epoch_seconds), tz=datetime.UTC)
    # RFC 9110 §5.6.7: senders MUST generate IMF-fixdate; names are fixed English, not locale.
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def parse_http_date(value: str, *, now: float | None = None) -> int | None:
    """Given an HTTP-date in any of the three formats, return epoch seconds, or None if invalid.

    ``now`` (epoch seconds, default: the clock) resolves RFC 850's two-digit year.
    """
    value = value.strip(_OWS)
    match = _IMF_FIXDATE.fullmatch(value) or _ASCTIME.fullmatch(value)
    if match is not None:
        year = int(match["year"])
    else:
        match = _RFC850.fullmatch(value)
        if match is None:
            return None
        year = _rfc850_year(int(match["year"]), now)
    try:
        moment = datetime.datetime(
            year,
            _MONTH_NUMBER[match["month"]],
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
    except ValueError:
        return None
    return calendar.timegm(moment.timetuple())


def _rfc850_year(two_digits: int, now: float | None) -> int:
    """Given an RFC 850 two-digit year, return the full year it most plausibly means."""
    current = (
        datetime.datetime.now(datetime.UTC)
        if now is None
        else datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    ).year
    year = current - current % 100 + two_digits
    # RFC 9110 §5.6.7: more than 50 years in the future MUST mean the most recent past such year.
    return year - 100 if year > current + 50 else year


def parse_etag_list(value: str) -> list[str] | None:
    """Given an If-Match/If-None-Match value, return its entity-tags, ``["*"]``, or None."""
    value = value.strip(_OWS)
    if value == "*":
        return ["*"]  # RFC 9110 §13.1.1, §13.1.2
    tags: list[str] = []
    position = 0
    # A scanner, not str.split(","): etagc includes "," so a quoted tag may contain commas.
    while True:
        match = _LIST_ELEMENT.match(value, position)
        if match is None:
            return None
        if match["tag"]:
            tags.append(match["tag"])
        if not match[0].endswith(","):
            return tags
        position = match.end()


def _opaque(tag: str) -> str:
    """Given an entity-tag, return its opaque-tag (without any weak prefix)."""
    return tag[2:] if tag.startswith("W/") else tag


def strong_match(a: str, b: str) -> bool:
    """Given two entity-tags, return whether they match by strong comparison."""
    # RFC 9110 §8.8.3.2: both strong and character-for-character identical.
    return not a.startswith("W/") and not b.startswith("W/") and a == b and a.startswith('"')


def weak_match(a: str, b: str) -> bool:
    """Given two entity-tags, return whether they match by weak comparison."""
    # RFC 9110 §8.8.3.2: opaque-tags identical, either or both may be weak.
    return _opaque(a) == _opaque(b) and _opaque(a).startswith('"')


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Given request headers, return a field's value, treating an empty value as absent."""
    value = headers.get(name)
    return value if value is not None and value.strip(_OWS) else None


def _tags_match(tags: list[str], etag: str | None, *, strong: bool) -> bool:
    """Given a parsed tag list and the current tag, return whether the condition matches."""
    if tags == ["*"]:
        return True  # RFC 9110 §13.1.1, §13.1.2: "*" matches any current representation
    if etag is None:
        return False
    compare = strong_match if strong else weak_match
    return any(compare(tag, etag) for tag in tags)


def evaluate_preconditions(
    method: str, headers: Mapping[str, str], etag: str | None, last_modified: int | None
) -> Precondition:
    """Given a request and the current validators, return the precondition outcome."""
    safe = method in _GET_OR_HEAD
    if_match = _header(headers, "if-match")
    if if_match is not None:  # RFC 9110 §13.2.2 step 1
        tags = parse_etag_list(if_match)
        # RFC 9110 §13.1.1: MUST use strong comparison; an unparsable list matches nothing.
        if tags is None or not _tags_match(tags, etag, strong=True):
            return Precondition.PRECONDITION_FAILED
    else:  # RFC 9110 §13.1.4: MUST ignore If-Unmodified-Since when If-Match is present
        since = _header(headers, "if-unmodified-since")
        date = None if since is None else parse_http_date(since)
        # RFC 9110 §13.1.4: ignore an invalid date or an unknown modification date.
        if date is not None and last_modified is not None and last_modified > date:
            return Precondition.PRECONDITION_FAILED  # RFC 9110 §13.2.2 step 2
    if_none_match = _header(headers, "if-none-match")
    if if_none_match is not None:  # RFC 9110 §13.2.2 step 3
        tags = parse_etag_list(if_none_match)
        # RFC 9110 §13.1.2: MUST use weak comparison.
        if tags is not None and _tags_match(tags, etag, strong=False):
            # RFC 9110 §13.1.2: 304 for GET/HEAD, 412 for any other method.
            return Precondition.NOT_MODIFIED if safe else Precondition.PRECONDITION_FAILED
        return Precondition.PROCEED
    modified_since = _header(headers, "if-modified-since")
    # RFC 9110 §13.1.3: MUST ignore unless GET/HEAD, and when If-None-Match is present.
    if safe and modified_since is not None and last_modified is not None:
        date = parse_http_date(modified_since)
        if date is not None and last_modified <= date:
            return Precondition.NOT_MODIFIED  # RFC 9110 §13.2.2 step 4
    return Precondition.PROCEED


def if_range_allows_range(
    if_range: str | None, etag: str | None, last_modified: int | None
) -> bool:
    """Given an If-Range value and the current validators, return whether Range may apply."""
    if if_range is None:
        return True
    value = if_range.strip(_OWS)
    if value.startswith(('"', "W/")):
        if _ETAG.fullmatch(value) is None or etag is None:
            return False
        # RFC 9110 §13.1.5: the entity-tag MUST match by strong comparison; W/ never does.
        return strong_match(value, etag)
    date = parse_http_date(value)
    # RFC 9110 §13.1.5: a date condition is true only if it exactly equals Last-Modified.
    return date is not None and last_modified is not None and date == last_modified
