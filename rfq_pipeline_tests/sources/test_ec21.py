"""The EC21 buy-lead list parser on pages the simulator renders from the seed, and on the site's special pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import ec21 as site
from rfq_pipeline.sources.ec21 import SPEC, lead_url, parse_dot_date, parse_list
from rfq_pipeline.sources.model import PageParseError

TODAY = date(2025, 7, 13)
NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def leads() -> list[site.Lead]:
    simulated = site.Ec21Site()
    simulated.build(TODAY, NOW)
    return simulated.leads()


def _page_of(leads: list[site.Lead], lead: site.Lead) -> int:
    return leads.index(lead) // site.PAGE_SIZE + 1


def _entry(leads: list[site.Lead], lead: site.Lead):
    page = parse_list(site.render_list(leads, _page_of(leads, lead)), fetched_at=NOW)
    return next(e for e in page.entries if e.external_id == lead.lead_id)


def test_every_page_parses_and_days_match_the_site(leads) -> None:
    simulated = site.Ec21Site()
    simulated.build(TODAY, NOW)
    total_pages = -(-len(leads) // site.PAGE_SIZE)
    entries = []
    for number in range(1, total_pages + 1):
        page = parse_list(site.render_list(leads, number), fetched_at=NOW)
        assert page.total_pages == total_pages and page.has_next is (number < total_pages)
        entries += page.entries
    assert [e.external_id for e in entries] == [lead.lead_id for lead in leads]
    by_day: dict[date, list[str]] = defaultdict(list)
    for entry in entries:
        assert entry.posted_at is not None and entry.posted_at.tzinfo is UTC
        by_day[entry.posted_at.date()].append(entry.external_id)
    assert len(by_day) == site.DAYS
    for day, ids in by_day.items():
        assert ids == simulated.expected(day)
        assert site.MIN_PER_DAY <= len(ids) <= site.MAX_PER_DAY


def test_lead_fields_as_shown(leads) -> None:
    lead = next(lead for lead in leads if lead.title == "Vitamin C Face Serum OEM")
    entry = _entry(leads, lead)
    assert entry.source == "ec21"
    assert entry.title == "Vitamin C Face Serum OEM"
    assert entry.quantity_text == "5,000 Piece"  # the site's thousands separator is kept
    assert entry.buyer_company == "Bloom & Birch Skincare LLC"
    assert entry.country_raw == "United States" and entry.country_code == "US"
    assert entry.posted_text == site.dot_date(lead.posted_at.date())
    assert entry.posted_at == datetime.combine(lead.posted_at.date(), datetime.min.time(), UTC)
    valid_until = lead.posted_at.date() + timedelta(days=lead.valid_days)
    assert entry.attributes == {"category": "Health & Beauty", "valid_until": valid_until.isoformat()}
    assert entry.description.startswith("OEM vitamin C serum, 15% L-ascorbic acid")
    assert entry.canonical_url == f"https://www.ec21.com/buy-lead/Vitamin_C_Face_Serum_OEM--{lead.lead_id}.html"
    assert entry.detail_path == ""  # list-only source


def test_undisclosed_buyer_and_apostrophes_in_urls(leads) -> None:
    hidden = next(lead for lead in leads if not lead.company)
    assert _entry(leads, hidden).buyer_company == ""
    jeans = next(lead for lead in leads if lead.title == "Women's Stretch Skinny Jeans")
    entry = _entry(leads, jeans)
    assert entry.title == "Women's Stretch Skinny Jeans"
    assert entry.canonical_url == lead_url("Women_s_Stretch_Skinny_Jeans", jeans.lead_id)


def test_container_quantities_and_codes(leads) -> None:
    chicken = next(lead for lead in leads if lead.title == "Frozen Chicken Paws Grade A")
    entry = _entry(leads, chicken)
    assert entry.quantity_text == "5 Forty-Foot Container"
    assert entry.country_code == "HK"


def test_dot_dates() -> None:
    assert parse_dot_date("2025.07.13") == datetime(2025, 7, 13, tzinfo=UTC)
    assert parse_dot_date("Posted 2025.7.3") == datetime(2025, 7, 3, tzinfo=UTC)
    assert parse_dot_date("2025.02.30") is None
    assert parse_dot_date("13-07-2025") is None


def test_ids_grow_with_posting_time(leads) -> None:
    ids = [int(lead.lead_id) for lead in leads]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(lead.posted_at < NOW for lead in leads)


def test_page_past_the_end_is_an_empty_result(leads) -> None:
    last = -(-len(leads) // site.PAGE_SIZE)
    page = parse_list(site.render_list(leads, last + 1), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False and page.total_pages == last


def test_drift_truncation_and_not_found(leads) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(site.render_list_drift(leads, 1), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    html = site.render_list(leads, 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    with pytest.raises(PageParseError) as no_posted:
        parse_list(html.replace("<th>Posted</th>", "<th>Date</th>", 1), fetched_at=NOW)
    assert no_posted.value.kind == "layout_drift"
    with pytest.raises(PageParseError) as not_found:
        parse_list(site.render_not_found("/buy-leads/nothing.html"), fetched_at=NOW)
    assert not_found.value.kind == "layout_drift"


@pytest.mark.parametrize(
    "html",
    [
        faults.cloudflare_challenge("/x").body.decode(),
        faults.awswaf_challenge("/x").body.decode(),
        site.render_sign_in("/buy-lead/Anything--1.html"),
    ],
    ids=["cloudflare", "aws_waf", "sign_in"],
)
def test_challenge_and_sign_in_pages(html: str) -> None:
    with pytest.raises(PageParseError) as error:
        parse_list(html, fetched_at=NOW)
    assert error.value.kind == "challenge"


def test_spec_pages_by_page_number() -> None:
    spec = replace(SPEC, base_url="https://www.ec21.com")
    assert spec.list_url(SPEC.listings[0], 3) == "https://www.ec21.com/buy-leads/list.html?sort=recent&page=3"
    assert SPEC.parse_detail is None and SPEC.page_size == site.PAGE_SIZE
