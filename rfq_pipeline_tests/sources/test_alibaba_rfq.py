"""The Alibaba RFQ board parser on the real saved page (and on pages derived from it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.sources.alibaba_rfq import DETAIL_URL, decode_js_string, parse_list, parse_relative_time
from rfq_pipeline.sources.model import PageParseError

REAL_PAGE = Path(rfq_pipeline.devtools.__file__).parent / "corpus" / "alibaba_rfq_list_page_2025-07.html"
# The saved page was served at 2025-07-10 04:52:09 UTC (its page id); any instant works for relative times.
FETCHED_AT = datetime(2025, 7, 10, 4, 52, 9, tzinfo=UTC)
PUSH = 'window.PAGE_DATA["index"].data.push({'


@pytest.fixture(scope="module")
def real_html() -> str:
    return REAL_PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real_page(real_html: str):
    return parse_list(real_html, fetched_at=FETCHED_AT)


def test_real_page_yields_its_twenty_requests_and_paging(real_page) -> None:
    assert len(real_page.entries) == 20
    assert len({e.external_id for e in real_page.entries}) == 20
    assert real_page.has_next is True
    assert real_page.total_pages == 100


def test_first_request_exactly_as_on_the_page(real_page) -> None:
    first = real_page.entries[0]
    assert first.source == "alibaba_rfq"
    assert first.external_id == "1844538814"
    assert first.title == "Electronic Components:CPU Module and Power Supply"
    assert first.quantity_text == "2 Piece/Pieces"
    assert first.country_code == "AE"
    assert first.country_raw == "United Arab Emirates"
    assert first.buyer_name == "Buyer-1b801d6b"
    assert first.posted_text == "25 minutes before"
    assert first.posted_at == FETCHED_AT - timedelta(minutes=25)
    assert first.canonical_url == (
        DETAIL_URL + "?p=ID1bkjRcw2CEuYQtlafwjHjRAIUCNt6Eg5CTN5YTL8DSulpSnUVlJjK7qR-79VubZvK"
    )
    assert first.description.startswith("Dear Team, We are looking to purchase electronic components")
    assert first.attributes == {
        "quotes_left": 8,
        "rfq_star_level": 3,
        "tags": ["RFQ_MKT_ST_39408", "emailConfirm"],
        "have_annexes": True,
        "enr_rfq_id": "ID1bkjRcw2CEuYQtlafwjHjRAIUCNt6Eg5CTN5YTL8DSulpSnUVlJjK7qR-79VubZvK",
    }


def test_every_request_is_complete_and_session_free(real_page) -> None:
    for entry in real_page.entries:
        assert entry.external_id.isdigit() and entry.title
        assert entry.canonical_url.startswith(DETAIL_URL + "?p=ID")
        assert "uuid" not in entry.canonical_url and "language" not in entry.canonical_url
        assert re.fullmatch(r"\d+ \S.*", entry.quantity_text)
        assert entry.posted_at is not None and entry.posted_at <= FETCHED_AT
        assert entry.country_code == "AE"
    # Newest first, as the "Most Recently" sort promises.
    times = [e.posted_at for e in real_page.entries]
    assert times == sorted(times, reverse=True)


def test_escaped_text_is_decoded(real_page) -> None:
    by_id = {e.external_id: e for e in real_page.entries}
    arabic = by_id["1682421368"]  # \uNNNN Arabic text and \x3cbr\x2f\x3e line breaks
    assert arabic.description.startswith("مرحبًا، لدي اهتمام بهذه المنتجات.\nproduct: Used gas scooters\n")
    tyres = by_id["1844530720"]  # the subject is HTML-escaped before being JS-escaped (&quot;)
    assert tyres.title.startswith('Quick Delivery Used Tires Sizes 13"14"15"')
    assert by_id["1682421029"].attributes["rfq_star_level"] == 0  # parseInt("" || 0)


def test_cut_page_is_truncated(real_html: str) -> None:
    with pytest.raises(PageParseError) as error:
        parse_list(real_html[: int(len(real_html) * 0.6)], fetched_at=FETCHED_AT)
    assert error.value.kind == "truncated"


def test_unterminated_record_is_truncated_even_with_a_closing_tag(real_html: str) -> None:
    fifth = [m.start() for m in re.finditer(re.escape(PUSH), real_html)][4]
    cut = real_html[: fifth + 600] + "\n</body></html>"
    with pytest.raises(PageParseError) as error:
        parse_list(cut, fetched_at=FETCHED_AT)
    assert error.value.kind == "truncated"


def test_records_moved_elsewhere_is_layout_drift(real_html: str) -> None:
    drifted = real_html.replace(PUSH, "window.__RFQ_STATE__.items.push({")
    with pytest.raises(PageParseError) as error:
        parse_list(drifted, fetched_at=FETCHED_AT)
    assert error.value.kind == "layout_drift"


def test_renamed_record_fields_are_layout_drift(real_html: str) -> None:
    drifted = real_html.replace("rfqId:", "requestId:").replace("            id:", "            key:")
    with pytest.raises(PageParseError) as error:
        parse_list(drifted, fetched_at=FETCHED_AT)
    assert error.value.kind == "layout_drift"


def test_no_records_with_zero_items_is_an_empty_result(real_html: str) -> None:
    first = real_html.index(PUSH)
    last = real_html.index("});", real_html.rindex(PUSH)) + 3
    empty = real_html[:first] + real_html[last:]
    empty = re.sub(r"pageView\.totalItems = '\d+'", "pageView.totalItems = '0'", empty)
    page = parse_list(empty, fetched_at=FETCHED_AT)
    assert page.entries == [] and page.has_next is False
    # Without the zero count the same page is not a believable empty result.
    with pytest.raises(PageParseError):
        parse_list(real_html[:first] + real_html[last:], fetched_at=FETCHED_AT)


def test_disabled_next_link_means_last_page(real_html: str) -> None:
    last = re.sub(
        r'<a class="next" data-role="next" href="[^"]*"', '<a class="next disable" href="javascript:void(0)"', real_html
    )
    assert parse_list(last, fetched_at=FETCHED_AT).has_next is False


def test_anti_bot_page_is_a_challenge_not_an_empty_list() -> None:
    captcha = (
        "<!DOCTYPE html><html><head><title>Captcha Interception</title></head><body>"
        '<div id="nocaptcha"><span id="nc_1_n1z"></span></div>'
        "<script>window._config_={url:'/_____tmd_____/punish'}</script></body></html>"
    )
    with pytest.raises(PageParseError) as error:
        parse_list(captcha, fetched_at=FETCHED_AT)
    assert error.value.kind == "challenge"


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("Just now", timedelta(0)),
        ("just now", timedelta(0)),
        ("1 minutes before", timedelta(minutes=1)),
        ("25 minutes before", timedelta(minutes=25)),
        ("1 hours before", timedelta(hours=1)),
        ("23 hours before", timedelta(hours=23)),
        ("1 days ago", timedelta(days=1)),
        ("14 days ago", timedelta(days=14)),
        ("2 day(s) before", timedelta(days=2)),
        ("3 days before", timedelta(days=3)),
        ("an hour ago", timedelta(hours=1)),
        ("yesterday", timedelta(days=1)),
        ("2 weeks ago", timedelta(weeks=2)),
    ],
)
def test_relative_times(text: str, delta: timedelta) -> None:
    assert parse_relative_time(text, FETCHED_AT) == FETCHED_AT - delta


@pytest.mark.parametrize("text", ["", "soon", "25 minutes", "minutes before", "1 fortnight ago"])
def test_unreadable_relative_times_give_none(text: str) -> None:
    assert parse_relative_time(text, FETCHED_AT) is None


def test_naive_fetch_time_is_taken_as_utc() -> None:
    naive = datetime(2025, 7, 10, 4, 52, 9)
    assert parse_relative_time("5 minutes before", naive) == FETCHED_AT - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("body", "decoded"),
    [
        (r"Electronic\x20Components\x3aCPU", "Electronic Components:CPU"),
        (r"\u0645\u0631\u062d\u0628", "مرحب"),
        (r"O\'min\x26co", "O'min&co"),
        (r"line\nbreak\ttab\\slash\"quote", 'line\nbreak\ttab\\slash"quote'),
        (r"\ud83d\ude00 and \u{1F600}", "\U0001f600 and \U0001f600"),
        ("plain text", "plain text"),
    ],
)
def test_decode_js_string(body: str, decoded: str) -> None:
    assert decode_js_string(body) == decoded
