"""The TradeIndia buy-requirement parser: IST times, offset paging, locations, on pages the simulator renders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import tradeindia as site
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.tradeindia import SPEC, lead_url, parse_list, parse_posted_on

NOW = datetime(2025, 7, 13, 21, 10, 5, tzinfo=UTC)  # late in the UTC day: past midnight in India


def _build(now: datetime) -> site.TradeIndiaSite:
    simulated = site.TradeIndiaSite()
    simulated.build(now.date(), now)
    return simulated


@pytest.fixture(scope="module")
def simulated() -> site.TradeIndiaSite:
    return _build(NOW)


@pytest.fixture(scope="module")
def requirements(simulated: site.TradeIndiaSite) -> list[site.Requirement]:
    return simulated.requirements()


def _entry(requirements: list[site.Requirement], req: site.Requirement):
    start = requirements.index(req) // site.PAGE_SIZE * site.PAGE_SIZE
    return next(
        e
        for e in parse_list(site.render_list(requirements, start), fetched_at=NOW).entries
        if e.external_id == req.lead_id
    )


def test_every_offset_parses_and_days_match_the_site(simulated, requirements) -> None:
    entries, start, pages = [], 0, 0
    while True:
        page = parse_list(site.render_list(requirements, start), fetched_at=NOW)
        pages += 1
        assert page.total_pages == -(-len(requirements) // site.PAGE_SIZE)
        entries += page.entries
        if not page.has_next:
            break
        start += site.PAGE_SIZE
    assert pages == page.total_pages
    assert [e.external_id for e in entries] == [req.lead_id for req in requirements]
    by_day: dict[date, list[str]] = defaultdict(list)
    for entry in entries:
        by_day[entry.posted_at.date()].append(entry.external_id)  # type: ignore[union-attr]
    assert len(by_day) == site.DAYS
    for day, ids in by_day.items():
        assert ids == simulated.expected(day), day
        assert site.MIN_PER_DAY <= len(ids) <= site.MAX_PER_DAY


def test_ist_times_cross_the_utc_day(requirements) -> None:
    # Requirements posted after 18:30 UTC carry the next day's date in India; they still belong to today (UTC).
    late = [req for req in requirements if req.posted_at.date() == NOW.date() and req.posted_at.hour >= 19]
    assert late
    entry = _entry(requirements, late[0])
    assert entry.posted_text.startswith("14-07-2025 ")
    assert entry.posted_at == late[0].posted_at.replace(second=0)
    assert entry.posted_at.date() == NOW.date()  # type: ignore[union-attr]


def test_posted_on_parsing() -> None:
    assert parse_posted_on("13-07-2025 02:45 PM") == datetime(2025, 7, 13, 9, 15, tzinfo=UTC)
    assert parse_posted_on("Posted On : 14-07-2025 01:27 AM") == datetime(2025, 7, 13, 19, 57, tzinfo=UTC)
    assert parse_posted_on("13-07-2025 12:05 AM") == datetime(2025, 7, 12, 18, 35, tzinfo=UTC)
    assert parse_posted_on("13-07-2025 12:30 PM") == datetime(2025, 7, 13, 7, 0, tzinfo=UTC)
    assert parse_posted_on("13-07-2025 09:00 p.m.") == datetime(2025, 7, 13, 15, 30, tzinfo=UTC)
    assert parse_posted_on("13-07-2025") == datetime(2025, 7, 12, 18, 30, tzinfo=UTC)  # IST midnight
    assert parse_posted_on("31-02-2025 10:00 AM") is None
    assert parse_posted_on("13-07-2025 13:45 PM") is None
    assert parse_posted_on("yesterday") is None


def test_card_fields_as_shown(requirements) -> None:
    oil = next(req for req in requirements if req.title == "Ayurvedic Hair Oil 100 ml Private Label")
    entry = _entry(requirements, oil)
    assert entry.source == "tradeindia"
    assert entry.quantity_text == "10000 Bottle"
    assert entry.country_raw == "India"
    assert entry.buyer_company == "Vedic Roots Wellness LLP"
    assert entry.attributes == {
        "location": "Ahmedabad, Gujarat, India",
        "city": "Ahmedabad",
        "state": "Gujarat",
        "requirement_frequency": "Monthly",
        "usage": "Reselling",
        "category": "Hair Oil",
    }
    assert (
        entry.canonical_url
        == f"https://www.tradeindia.com/buy-leads/ayurvedic-hair-oil-100-ml-private-label-{oil.lead_id}.html"
    )
    assert entry.detail_path == ""  # list-only source
    assert entry.description.startswith("Looking for third party manufacturer of ayurvedic hair oil")


def test_buyer_abroad_has_no_state(requirements) -> None:
    bottles = next(req for req in requirements if req.title == "Amber Glass Dropper Bottle 30 ml")
    entry = _entry(requirements, bottles)
    assert entry.country_raw == "United Arab Emirates"
    assert entry.attributes["city"] == "Dubai" and "state" not in entry.attributes
    assert entry.buyer_company == "Al Noor Cosmetics Trading LLC"
    assert entry.canonical_url == lead_url("amber-glass-dropper-bottle-30-ml", bottles.lead_id)


def test_page_past_the_end_is_an_empty_result(requirements) -> None:
    page = parse_list(site.render_list(requirements, len(requirements) + 50), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False
    assert page.total_pages == -(-len(requirements) // site.PAGE_SIZE)


def test_drift_truncation_and_not_found(requirements) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(site.render_list_drift(requirements, 0), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    html = site.render_list(requirements, 0)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    with pytest.raises(PageParseError) as no_link:
        parse_list(html.replace('href="/buy-leads/', 'href="/leads/', 1), fetched_at=NOW)
    assert no_link.value.kind == "layout_drift"
    with pytest.raises(PageParseError) as not_found:
        parse_list(site.render_not_found("/buyerRequirements.htm"), fetched_at=NOW)
    assert not_found.value.kind == "layout_drift"


@pytest.mark.parametrize(
    "html",
    [
        faults.cloudflare_challenge("/x").body.decode(),
        faults.awswaf_challenge("/x").body.decode(),
        site.render_sign_in("/buy-leads/anything-1.html"),
    ],
    ids=["cloudflare", "aws_waf", "sign_in"],
)
def test_challenge_and_sign_in_pages(html: str) -> None:
    with pytest.raises(PageParseError) as error:
        parse_list(html, fetched_at=NOW)
    assert error.value.kind == "challenge"


def test_spec_pages_by_offset() -> None:
    spec = replace(SPEC, base_url="https://www.tradeindia.com")
    assert spec.list_url(SPEC.listings[0], 1) == "https://www.tradeindia.com/buyerRequirements.html?start=0"
    assert spec.list_url(SPEC.listings[0], 3) == "https://www.tradeindia.com/buyerRequirements.html?start=50"
    assert SPEC.page_size == site.PAGE_SIZE and SPEC.parse_detail is None
