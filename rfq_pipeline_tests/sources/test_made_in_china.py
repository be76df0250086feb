"""The Made-in-China sourcing-request parsers: relative and zoned times, list and request pages from the simulator."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import made_in_china as site
from rfq_pipeline.sources.made_in_china import (
    SPEC,
    parse_detail,
    parse_list,
    parse_posted_time,
    parse_zoned_time,
    request_url,
)
from rfq_pipeline.sources.model import PageParseError

NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)


def _requests(now: datetime) -> list[site.Request]:
    simulated = site.MadeInChinaSite()
    simulated.build(now.date(), now)
    return simulated.requests()


@pytest.fixture(scope="module")
def requests() -> list[site.Request]:
    return _requests(NOW)


def _entry(requests: list[site.Request], request: site.Request, now: datetime = NOW):
    page = requests.index(request) // site.PAGE_SIZE + 1
    parsed = parse_list(site.render_list(requests, page, now), fetched_at=now)
    return next(e for e in parsed.entries if e.external_id == request.request_id)


@pytest.mark.parametrize(
    "now",
    [NOW, datetime(2025, 7, 13, 0, 20, tzinfo=UTC), datetime(2025, 7, 13, 23, 58, 30, tzinfo=UTC)],
    ids=["afternoon", "just_after_midnight", "just_before_midnight"],
)
def test_relative_times_give_each_request_its_own_day(now: datetime) -> None:
    requests = _requests(now)
    simulated = site.MadeInChinaSite()
    simulated.build(now.date(), now)
    total_pages = -(-len(requests) // site.PAGE_SIZE)
    entries = []
    for number in range(1, total_pages + 1):
        page = parse_list(site.render_list(requests, number, now), fetched_at=now)
        assert page.total_pages == total_pages and page.has_next is (number < total_pages)
        entries += page.entries
    assert [e.external_id for e in entries] == [r.request_id for r in requests]
    by_day: dict[date, list[str]] = defaultdict(list)
    for entry in entries:
        assert entry.posted_at is not None and entry.posted_at <= now
        by_day[entry.posted_at.date()].append(entry.external_id)
    assert len(by_day) == site.DAYS
    for day, ids in by_day.items():
        assert ids == simulated.expected(day), day


def test_list_shows_relative_times_for_a_week_then_dates(requests) -> None:
    texts = [site.posted_text(r.posted_at, NOW) for r in requests]
    assert all(re.fullmatch(r"Just now|\d+ (minute|hour|day)s? ago|\d{4}-\d{2}-\d{2}", t) for t in texts)
    week_old = [r for r in requests if NOW - r.posted_at >= timedelta(days=site.RELATIVE_DAYS)]
    assert week_old and all(site.posted_text(r.posted_at, NOW) == r.posted_at.date().isoformat() for r in week_old)
    assert any(t.endswith("hours ago") for t in texts) and any(t.endswith("days ago") for t in texts)


def test_card_fields_as_shown(requests) -> None:
    bottles = next(r for r in requests if r.title.startswith("30ml Amber Glass Dropper Bottles"))
    entry = _entry(requests, bottles)
    assert entry.source == "made_in_china"
    assert re.fullmatch(r"[A-Za-z]{12}", entry.external_id)
    assert entry.title == "30ml Amber Glass Dropper Bottles with Bamboo Caps"
    assert entry.quantity_text == "20,000 Pieces"
    assert entry.country_raw == "United Arab Emirates"
    assert entry.posted_text == site.posted_text(bottles.posted_at, NOW)
    assert entry.canonical_url == (
        f"https://www.made-in-china.com/sourcing-requests/{bottles.request_id}/"
        "30ml-Amber-Glass-Dropper-Bottles-with-Bamboo-Caps.html"
    )
    assert entry.canonical_url == request_url(bottles.request_id, entry.detail_path.rsplit("/", 1)[1][:-5])
    assert entry.detail_path == entry.canonical_url.removeprefix("https://www.made-in-china.com")
    assert entry.description.startswith("We need 30ml amber glass dropper bottles")


def test_request_page_gives_exact_time_terms_and_buyer(requests) -> None:
    bottles = next(r for r in requests if r.title.startswith("30ml Amber Glass Dropper Bottles"))
    entry = _entry(requests, bottles)
    detailed = parse_detail(site.render_request(bottles), entry)
    assert detailed.posted_at == bottles.posted_at  # exact to the second, converted from GMT+08:00
    assert detailed.buyer_company == "Al Noor Cosmetics Trading LLC"
    assert detailed.quantity_text == "20,000 Pieces"
    assert detailed.country_raw == "United Arab Emirates"
    assert detailed.attributes["trade_terms"] == "FOB"
    assert detailed.attributes["payment_terms"] == "T/T"
    assert detailed.attributes["category"] == "Packaging & Printing"
    assert detailed.attributes["posted_local"].endswith("(GMT+08:00)")
    china_day = (bottles.posted_at + timedelta(hours=8)).date()
    assert detailed.attributes["valid_to"] == (china_day + timedelta(days=bottles.valid_days)).isoformat()
    assert detailed.description.startswith("We need 30ml amber glass dropper bottles with bamboo collar")
    assert detailed.posted_text == entry.posted_text  # what the list said is kept


def test_hidden_buyer_stays_empty(requests) -> None:
    hidden = next(r for r in requests if not r.company)
    detailed = parse_detail(site.render_request(hidden), _entry(requests, hidden))
    assert detailed.buyer_company == ""


def test_relative_time_parsing() -> None:
    at = datetime(2025, 7, 13, 12, 0, tzinfo=UTC)
    assert parse_posted_time("Just now", at) == at
    assert parse_posted_time("1 minute ago", at) == at - timedelta(minutes=1)
    assert parse_posted_time("5 hours ago", at) == at - timedelta(hours=5)
    assert parse_posted_time("an hour ago", at) == at - timedelta(hours=1)
    assert parse_posted_time("3 days ago", at) == at - timedelta(days=3)
    assert parse_posted_time("2 weeks ago", at) == at - timedelta(weeks=2)
    assert parse_posted_time("yesterday", at) == at - timedelta(days=1)
    assert parse_posted_time("2025-07-01", at) == datetime(2025, 7, 1, tzinfo=UTC)
    assert parse_posted_time("2025-02-30", at) is None
    assert parse_posted_time("recently", at) is None
    # A naive fetch time is taken as UTC.
    assert parse_posted_time("2 hours ago", datetime(2025, 7, 13, 12, 0)) == at - timedelta(hours=2)


def test_zoned_time_parsing() -> None:
    assert parse_zoned_time("2025-07-14 01:24:05 (GMT+08:00)") == datetime(2025, 7, 13, 17, 24, 5, tzinfo=UTC)
    assert parse_zoned_time("2025-07-13 10:00 GMT-05:00") == datetime(2025, 7, 13, 15, 0, tzinfo=UTC)
    assert parse_zoned_time("2025-07-13 10:00:00") is None  # no offset, no guess
    assert parse_zoned_time("2025-13-01 10:00:00 (GMT+08:00)") is None


def test_page_past_the_end_is_an_empty_result(requests) -> None:
    last = -(-len(requests) // site.PAGE_SIZE)
    page = parse_list(site.render_list(requests, last + 1, NOW), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False and page.total_pages == last


def test_list_drift_and_truncation(requests) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(site.render_list_drift(requests, 1, NOW), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    html = site.render_list(requests, 1, NOW)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    with pytest.raises(PageParseError) as no_time:
        parse_list(html.replace('class="sr-time"', 'class="sr-when"', 1), fetched_at=NOW)
    assert no_time.value.kind == "layout_drift"


def test_request_page_drift_and_truncation(requests) -> None:
    request = requests[0]
    entry = _entry(requests, request)
    with pytest.raises(PageParseError) as drift:
        parse_detail(site.render_request_drift(request), entry)
    assert drift.value.kind == "layout_drift"
    html = site.render_request(request)
    with pytest.raises(PageParseError) as cut:
        parse_detail(html[: int(len(html) * 0.6)], entry)
    assert cut.value.kind == "truncated"


@pytest.mark.parametrize(
    "reply",
    [faults.cloudflare_challenge("/x"), faults.alibaba_captcha("/x"), faults.login_wall("made_in_china", "/x")],
    ids=["cloudflare", "captcha", "login"],
)
def test_challenge_pages(reply: faults.Reply, requests) -> None:
    with pytest.raises(PageParseError) as listing:
        parse_list(reply.body.decode(), fetched_at=NOW)
    assert listing.value.kind == "challenge"
    entry = _entry(requests, requests[0])
    with pytest.raises(PageParseError) as detail:
        parse_detail(reply.body.decode(), entry)
    assert detail.value.kind == "challenge"


def test_spec_pages_by_path() -> None:
    spec = replace(SPEC, base_url="https://www.made-in-china.com")
    assert spec.list_url(SPEC.listings[0], 2) == "https://www.made-in-china.com/sourcing-requests/list-2.html"
    assert SPEC.parse_detail is parse_detail and SPEC.page_size == site.PAGE_SIZE
