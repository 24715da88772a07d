"""Table-driven tests for origin.conditional: validators and RFC 9110 §13.2.2 evaluation order."""

from __future__ import annotations

import pytest

from origin.conditional import (
    Precondition,
    evaluate_preconditions,
    format_etag,
    format_http_date,
    if_range_allows_range,
    parse_etag_list,
    parse_http_date,
    strong_match,
    weak_match,
)

PROCEED = Precondition.PROCEED
NOT_MODIFIED = Precondition.NOT_MODIFIED
FAILED = Precondition.PRECONDITION_FAILED

ETAG = '"abc123"'
OTHER = '"zzz999"'
LAST_MODIFIED = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
AT = "Sun, 06 Nov 1994 08:49:37 GMT"
BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT"
AFTER = "Sun, 06 Nov 1994 08:49:38 GMT"
AT_RFC850 = "Sunday, 06-Nov-94 08:49:37 GMT"
BEFORE_RFC850 = "Sunday, 06-Nov-94 08:49:36 GMT"
AT_ASCTIME = "Sun Nov  6 08:49:37 1994"
BEFORE_ASCTIME = "Sun Nov  6 08:49:36 1994"

# (method, headers, expected) for ETAG / LAST_MODIFIED.
PRECONDITION_CASES = [
    pytest.param("GET", {}, PROCEED, id="no-conditions"),
    pytest.param("GET", {"if-match": ""}, PROCEED, id="empty-if-match-absent"),
    # step 1: If-Match, strong comparison
    pytest.param("GET", {"if-match": ETAG}, PROCEED, id="if-match-equal"),
    pytest.param("GET", {"if-match": OTHER}, FAILED, id="if-match-differs-412"),
    pytest.param("GET", {"if-match": "W/" + ETAG}, FAILED, id="if-match-weak-never-matches"),
    pytest.param("GET", {"if-match": "*"}, PROCEED, id="if-match-star-exists"),
    pytest.param("GET", {"if-match": f'{OTHER}, "x", {ETAG}'}, PROCEED, id="if-match-list-hit"),
    pytest.param("GET", {"if-match": f"{OTHER}, W/{ETAG}"}, FAILED, id="if-match-list-miss"),
    pytest.param("GET", {"if-match": "abc123"}, FAILED, id="if-match-malformed-412"),
    pytest.param("GET", {"if-match": f"{ETAG} garbage"}, FAILED, id="if-match-trailing-junk-412"),
    pytest.param("GET", {"if-match": ", ,"}, FAILED, id="if-match-empty-list-412"),
    pytest.param("GET", {"if-match": f",{ETAG},"}, PROCEED, id="if-match-empty-elements"),
    pytest.param("PUT", {"if-match": OTHER}, FAILED, id="if-match-any-method"),
    # step 2: If-Unmodified-Since, only without If-Match
    pytest.param("GET", {"if-unmodified-since": AT}, PROCEED, id="ius-equal-proceeds"),
    pytest.param("GET", {"if-unmodified-since": AFTER}, PROCEED, id="ius-later-proceeds"),
    pytest.param("GET", {"if-unmodified-since": BEFORE}, FAILED, id="ius-earlier-412"),
    pytest.param("GET", {"if-unmodified-since": "yesterday"}, PROCEED, id="ius-invalid-ignored"),
    pytest.param(
        "GET", {"if-unmodified-since": f"{AFTER}, {BEFORE}"}, PROCEED, id="ius-list-ignored"
    ),
    pytest.param(
        "GET",
        {"if-match": ETAG, "if-unmodified-since": BEFORE},
        PROCEED,
        id="ius-ignored-when-if-match-present",
    ),
    pytest.param(
        "GET",
        {"if-match": OTHER, "if-unmodified-since": AFTER},
        FAILED,
        id="if-match-fails-despite-ius",
    ),
    pytest.param(
        "GET",
        {"if-unmodified-since": BEFORE, "if-none-match": ETAG},
        FAILED,
        id="ius-412-before-inm-304",
    ),
    # step 3: If-None-Match, weak comparison
    pytest.param("GET", {"if-none-match": ETAG}, NOT_MODIFIED, id="inm-match-304"),
    pytest.param("HEAD", {"if-none-match": ETAG}, NOT_MODIFIED, id="inm-match-head-304"),
    pytest.param("GET", {"if-none-match": "W/" + ETAG}, NOT_MODIFIED, id="inm-weak-matches"),
    pytest.param("GET", {"if-none-match": OTHER}, PROCEED, id="inm-differs-proceeds"),
    pytest.param("GET", {"if-none-match": "*"}, NOT_MODIFIED, id="inm-star-304"),
    pytest.param("GET", {"if-none-match": f'"x", W/{ETAG}'}, NOT_MODIFIED, id="inm-list-hit"),
    pytest.param("POST", {"if-none-match": ETAG}, FAILED, id="inm-match-post-412"),
    pytest.param("PUT", {"if-none-match": "*"}, FAILED, id="inm-star-put-412"),
    pytest.param("GET", {"if-none-match": "abc123"}, PROCEED, id="inm-malformed-no-match"),
    pytest.param("GET", {"if-none-match": ETAG.upper()}, PROCEED, id="inm-case-sensitive"),
    pytest.param(
        "GET", {"if-match": ETAG, "if-none-match": ETAG}, NOT_MODIFIED, id="if-match-then-inm"
    ),
    pytest.param(
        "GET", {"if-match": OTHER, "if-none-match": ETAG}, FAILED, id="if-match-412-before-inm"
    ),
    pytest.param("GET", {"if-match": "*", "if-none-match": "*"}, NOT_MODIFIED, id="both-star-304"),
    # step 4: If-Modified-Since, GET/HEAD only, only without If-None-Match
    pytest.param("GET", {"if-modified-since": AT}, NOT_MODIFIED, id="ims-equal-304"),
    pytest.param("GET", {"if-modified-since": AFTER}, NOT_MODIFIED, id="ims-later-304"),
    pytest.param("GET", {"if-modified-since": BEFORE}, PROCEED, id="ims-earlier-proceeds"),
    pytest.param("HEAD", {"if-modified-since": AT}, NOT_MODIFIED, id="ims-head-304"),
    pytest.param("POST", {"if-modified-since": AT}, PROCEED, id="ims-ignored-for-post"),
    pytest.param("get", {"if-modified-since": AT}, PROCEED, id="method-case-sensitive"),
    pytest.param("GET", {"if-modified-since": "garbage"}, PROCEED, id="ims-invalid-ignored"),
    pytest.param("GET", {"if-modified-since": AT_RFC850}, NOT_MODIFIED, id="ims-rfc850"),
    pytest.param("GET", {"if-modified-since": BEFORE_RFC850}, PROCEED, id="ims-rfc850-before"),
    pytest.param("GET", {"if-modified-since": AT_ASCTIME}, NOT_MODIFIED, id="ims-asctime"),
    pytest.param("GET", {"if-modified-since": BEFORE_ASCTIME}, PROCEED, id="ims-asctime-before"),
    pytest.param(
        "GET",
        {"if-none-match": OTHER, "if-modified-since": AFTER},
        PROCEED,
        id="ims-ignored-when-inm-present",
    ),
    pytest.param(
        "GET",
        {"if-none-match": "bad", "if-modified-since": AFTER},
        PROCEED,
        id="ims-ignored-even-with-malformed-inm",
    ),
    pytest.param(
        "GET",
        {"if-match": ETAG, "if-modified-since": AT},
        NOT_MODIFIED,
        id="if-match-then-ims-304",
    ),
    pytest.param(
        "GET",
        {"if-unmodified-since": AT, "if-modified-since": AT},
        NOT_MODIFIED,
        id="ius-passes-then-ims-304",
    ),
]


@pytest.mark.parametrize(("method", "headers", "expected"), PRECONDITION_CASES)
def test_evaluate_preconditions(
    method: str, headers: dict[str, str], expected: Precondition
) -> None:
    assert evaluate_preconditions(method, headers, ETAG, LAST_MODIFIED) == expected


# (headers, etag, last_modified, expected) for a resource missing one validator; always GET.
MISSING_VALIDATOR_CASES = [
    pytest.param({"if-match": ETAG}, None, LAST_MODIFIED, FAILED, id="no-tag-if-match-412"),
    pytest.param({"if-match": "*"}, None, LAST_MODIFIED, PROCEED, id="no-tag-if-match-star"),
    pytest.param({"if-none-match": ETAG}, None, LAST_MODIFIED, PROCEED, id="no-tag-inm-proceed"),
    pytest.param({"if-none-match": "*"}, None, LAST_MODIFIED, NOT_MODIFIED, id="no-tag-inm-star"),
    pytest.param({"if-modified-since": AT}, ETAG, None, PROCEED, id="no-date-ims-ignored"),
    pytest.param({"if-unmodified-since": BEFORE}, ETAG, None, PROCEED, id="no-date-ius-ignored"),
    pytest.param({"if-match": "W/" + ETAG}, "W/" + ETAG, None, FAILED, id="weak-tag-if-match"),
    pytest.param(
        {"if-none-match": ETAG}, "W/" + ETAG, None, NOT_MODIFIED, id="weak-tag-inm-matches"
    ),
]


@pytest.mark.parametrize(("headers", "etag", "last_modified", "expected"), MISSING_VALIDATOR_CASES)
def test_evaluate_preconditions_validators(
    headers: dict[str, str], etag: str | None, last_modified: int | None, expected: Precondition
) -> None:
    assert evaluate_preconditions("GET", headers, etag, last_modified) == expected


# (If-Range value, etag, last_modified, expected)
IF_RANGE_CASES = [
    pytest.param(None, ETAG, LAST_MODIFIED, True, id="absent-allows"),
    pytest.param(ETAG, ETAG, LAST_MODIFIED, True, id="etag-strong-match"),
    pytest.param(f" {ETAG} ", ETAG, LAST_MODIFIED, True, id="etag-with-ows"),
    pytest.param(OTHER, ETAG, LAST_MODIFIED, False, id="etag-differs"),
    pytest.param("W/" + ETAG, ETAG, LAST_MODIFIED, False, id="weak-if-range-never-matches"),
    pytest.param("W/" + ETAG, "W/" + ETAG, LAST_MODIFIED, False, id="weak-current-never-matches"),
    pytest.param(ETAG, "W/" + ETAG, LAST_MODIFIED, False, id="weak-current-vs-strong"),
    pytest.param(ETAG, None, LAST_MODIFIED, False, id="etag-but-resource-has-none"),
    pytest.param(AT, ETAG, LAST_MODIFIED, True, id="date-equal"),
    pytest.param(AT_RFC850, ETAG, LAST_MODIFIED, True, id="date-equal-rfc850"),
    pytest.param(AT_ASCTIME, ETAG, LAST_MODIFIED, True, id="date-equal-asctime"),
    pytest.param(AFTER, ETAG, LAST_MODIFIED, False, id="date-later-not-exact"),
    pytest.param(BEFORE, ETAG, LAST_MODIFIED, False, id="date-earlier"),
    pytest.param(AT, ETAG, None, False, id="date-but-no-last-modified"),
    pytest.param("*", ETAG, LAST_MODIFIED, False, id="star-malformed"),
    pytest.param("abc123", ETAG, LAST_MODIFIED, False, id="unquoted-malformed"),
    pytest.param(f"{ETAG}, {ETAG}", ETAG, LAST_MODIFIED, False, id="list-malformed"),
    pytest.param('"abc', ETAG, LAST_MODIFIED, False, id="unterminated-malformed"),
    pytest.param("", ETAG, LAST_MODIFIED, False, id="empty-malformed"),
]


@pytest.mark.parametrize(("if_range", "etag", "last_modified", "expected"), IF_RANGE_CASES)
def test_if_range_allows_range(
    if_range: str | None, etag: str | None, last_modified: int | None, expected: bool
) -> None:
    assert if_range_allows_range(if_range, etag, last_modified) is expected


NOW_2024 = 1718000000  # 2024-06-10

# (value, expected epoch seconds or None)
DATE_CASES = [
    pytest.param(AT, LAST_MODIFIED, id="imf-fixdate"),
    pytest.param(AT_RFC850, LAST_MODIFIED, id="rfc850"),
    pytest.param(AT_ASCTIME, LAST_MODIFIED, id="asctime-space-padded-day"),
    pytest.param("Sun Nov 06 08:49:37 1994", LAST_MODIFIED, id="asctime-two-digit-day"),
    pytest.param("Thu, 01 Jan 1970 00:00:00 GMT", 0, id="epoch"),
    pytest.param("Tuesday, 01-Jan-80 00:00:00 GMT", 315532800, id="rfc850-80-is-past"),
    pytest.param("Tuesday, 01-Jan-70 00:00:00 GMT", 3155760000, id="rfc850-70-is-future"),
    pytest.param("Sunday, 01-Jan-23 00:00:00 GMT", 1672531200, id="rfc850-recent-2000s"),
    pytest.param("Mon, 07 Nov 1994 08:49:37 GMT", 784198177, id="weekday-not-checked"),
    pytest.param(" " + AT + "\t", LAST_MODIFIED, id="surrounding-ows"),
    pytest.param("sun, 06 nov 1994 08:49:37 gmt", None, id="case-sensitive"),
    pytest.param("Sun, 06 Nov 1994 08:49:37 UTC", None, id="not-gmt"),
    pytest.param("Sun, 6 Nov 1994 08:49:37 GMT", None, id="one-digit-day"),
    pytest.param("Sun, 31 Feb 1994 08:49:37 GMT", None, id="impossible-day"),
    pytest.param("Sun, 06 Nov 1994 24:00:00 GMT", None, id="hour-24"),
    pytest.param("Sun, 06 Nov 1994 08:49:60 GMT", None, id="leap-second"),
    pytest.param("Sun, 06 Nov 1994 08:49:37", None, id="missing-zone"),
    pytest.param("Sunday, 06 Nov 1994 08:49:37 GMT", None, id="long-day-in-fixdate"),
    pytest.param("Sun, 06-Nov-94 08:49:37 GMT", None, id="short-day-in-rfc850"),
    pytest.param("Sun, 06 Nov 1994 08:49:37 GMT, " + AT, None, id="list-of-dates"),
    pytest.param("Sun, \u06606 Nov 1994 08:49:37 GMT", None, id="non-ascii-digit"),
    pytest.param("784111777", None, id="epoch-number"),
    pytest.param("", None, id="empty"),
]


@pytest.mark.parametrize(("value", "expected"), DATE_CASES)
def test_parse_http_date(value: str, expected: int | None) -> None:
    assert parse_http_date(value, now=NOW_2024) == expected


# (now, RFC 850 two-digit year, expected full year); RFC 9110 §5.6.7's 50-year rule.
RFC850_YEAR_CASES = [
    pytest.param(NOW_2024, "74", 2074, id="50-years-ahead-is-future"),
    pytest.param(NOW_2024, "75", 1975, id="51-years-ahead-is-past"),
    pytest.param(NOW_2024, "24", 2024, id="this-year"),
    pytest.param(4102444800, "99", 2099, id="from-2100-99-is-past"),  # 2100-01-01
]


@pytest.mark.parametrize(("now", "two_digits", "year"), RFC850_YEAR_CASES)
def test_rfc850_year(now: int, two_digits: str, year: int) -> None:
    parsed = parse_http_date(f"Monday, 01-Jan-{two_digits} 00:00:00 GMT", now=now)
    assert parsed is not None
    assert format_http_date(parsed).endswith(f"{year} 00:00:00 GMT")


FORMAT_DATE_CASES = [
    pytest.param(784111777, AT, id="rfc-example"),
    pytest.param(784111777.999, AT, id="fraction-truncated"),
    pytest.param(0, "Thu, 01 Jan 1970 00:00:00 GMT", id="epoch"),
    pytest.param(951782400, "Tue, 29 Feb 2000 00:00:00 GMT", id="leap-day"),
]


@pytest.mark.parametrize(("epoch", "expected"), FORMAT_DATE_CASES)
def test_format_http_date(epoch: float, expected: str) -> None:
    assert format_http_date(epoch) == expected
    assert parse_http_date(expected) == int(epoch)


# (value, expected list or None)
ETAG_LIST_CASES = [
    pytest.param("*", ["*"], id="star"),
    pytest.param(" * ", ["*"], id="star-with-ows"),
    pytest.param('"a"', ['"a"'], id="single"),
    pytest.param('"a", W/"b"', ['"a"', 'W/"b"'], id="strong-and-weak"),
    pytest.param('"a",,\t"b" ,', ['"a"', '"b"'], id="empty-elements-and-ows"),
    pytest.param('"a,b"', ['"a,b"'], id="comma-inside-tag"),
    pytest.param('""', ['""'], id="empty-opaque-tag"),
    pytest.param('"\xe9"', ['"\xe9"'], id="obs-text"),
    pytest.param("", [], id="empty"),
    pytest.param("a", None, id="unquoted"),
    pytest.param('"a" "b"', None, id="missing-comma"),
    pytest.param('*, "a"', None, id="star-in-list"),
    pytest.param('w/"a"', None, id="lower-case-weak"),
    pytest.param('W/ "a"', None, id="space-after-weak"),
    pytest.param('"a b"', None, id="space-inside-tag"),
    pytest.param('"a', None, id="unterminated"),
    pytest.param('"a"\n', None, id="trailing-newline"),
]


@pytest.mark.parametrize(("value", "expected"), ETAG_LIST_CASES)
def test_parse_etag_list(value: str, expected: list[str] | None) -> None:
    assert parse_etag_list(value) == expected


# RFC 9110 §8.8.3.2 comparison table, plus non-tags.
MATCH_CASES = [
    pytest.param('W/"1"', 'W/"1"', False, True, id="weak-weak"),
    pytest.param('W/"1"', 'W/"2"', False, False, id="weak-weak-differ"),
    pytest.param('W/"1"', '"1"', False, True, id="weak-strong"),
    pytest.param('"1"', '"1"', True, True, id="strong-strong"),
    pytest.param('"1"', '"2"', False, False, id="strong-differ"),
    pytest.param("*", "*", False, False, id="star-is-not-a-tag"),
]


@pytest.mark.parametrize(("a", "b", "strong", "weak"), MATCH_CASES)
def test_matches(a: str, b: str, strong: bool, weak: bool) -> None:
    assert strong_match(a, b) is strong
    assert strong_match(b, a) is strong
    assert weak_match(a, b) is weak
    assert weak_match(b, a) is weak


FORMAT_ETAG_CASES = [
    pytest.param("abc", "", '"abc"', id="digest"),
    pytest.param("abc", "-gz", '"abc-gz"', id="variant-suffix"),
]


@pytest.mark.parametrize(("digest", "suffix", "expected"), FORMAT_ETAG_CASES)
def test_format_etag(digest: str, suffix: str, expected: str) -> None:
    tag = format_etag(digest, suffix=suffix)
    assert tag == expected
    assert parse_etag_list(tag) == [tag]


@pytest.mark.parametrize("bad", ['a"b', "a b", "a\nb"], ids=["dquote", "space", "newline"])
def test_format_etag_rejects_non_etagc(bad: str) -> None:
    with pytest.raises(ValueError):
        format_etag(bad)
