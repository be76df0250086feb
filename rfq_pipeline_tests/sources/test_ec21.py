"""The EC21 list parser on simulated keyword lists (built like the served pages) and on the site's other answers.

The served pages themselves are checked field by field in ``test_served_pages.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import ec21 as site
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.ec21 import SPEC, parse_list
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.reading import read_list_page

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulated() -> site.Ec21Site:
    built = site.Ec21Site()
    built.build(TODAY, NOW)
    return built


def _pages(leads: list[site.Lead], keyword: str, country: str | None = None):
    total = max(1, -(-len(leads) // site.PAGE_SIZE))
    return [parse_list(site.render_list(leads, keyword, country, n), fetched_at=NOW) for n in range(1, total + 1)]


@pytest.mark.parametrize("keyword", site.WATCHED_KEYWORDS)
def test_every_list_reads_whole_in_its_own_order(simulated: site.Ec21Site, keyword: str) -> None:
    leads = simulated.listing(keyword)
    pages = _pages(leads, keyword)
    entries = [entry for page in pages for entry in page.entries]
    assert [e.external_id for e in entries] == [lead.lead_id for lead in leads]
    for number, page in enumerate(pages, start=1):
        assert page.total_pages == len(pages) and page.total_entries == len(leads)
        assert page.has_next is (number < len(pages))
        if page.has_next:
            assert page.next_url == f"https://importer.ec21.com/{keyword}/page-{number + 1}.html"
    for entry, lead in zip(entries, leads, strict=True):
        assert entry.posted_at == datetime.combine(lead.posted_at.date(), datetime.min.time(), UTC)
        assert entry.posted_text == site.day_text(lead.posted_at.date())
        assert entry.country_code == lead.country_code and entry.country_raw == lead.country


def test_lists_are_not_sorted_by_date(simulated: site.Ec21Site) -> None:
    days = [e.posted_at for e in _pages(simulated.listing("hair"), "hair")[0].entries]
    assert days != sorted(days, reverse=True) and days != sorted(days)
    assert SPEC.date_sorted is False


def test_fields_as_a_reader_sees_them(simulated: site.Ec21Site) -> None:
    lead = next(lead for lead in simulated.listing("serum") if "Vitamin C Face Serum" in lead.title)
    entry = next(
        e for page in _pages(simulated.listing("serum"), "serum") for e in page.entries if e.external_id == lead.lead_id
    )
    assert entry.title == "We Buy Vitamin C Face Serum OEM"  # the plain title, without the <strong> highlight
    assert entry.canonical_url == f"https://importer.ec21.com/buy-lead/We_Buy_Vitamin_C_Face--{lead.lead_id}.html"
    assert entry.description.startswith("OEM vitamin C serum, 15% L-ascorbic acid")
    assert entry.quantity_text == "" and entry.buyer_company == ""  # the list shows neither
    assert entry.detail_path == ""  # list-only source
    assert entry.attributes.get("quotes_from_premium_members_only", False) is lead.premium_only


def test_a_country_list_holds_that_country_only(simulated: site.Ec21Site) -> None:
    leads = simulated.listing("nail", "US")
    assert leads and len(leads) < len(simulated.listing("nail"))
    page = _pages(leads, "nail", "US")[0]
    assert {e.country_code for e in page.entries} == {"US"}


def test_the_next_link_is_followed_on_any_base_url() -> None:
    spec = replace(SPEC, base_url="http://127.0.0.1:9/ec21")
    page = replace(parse_list(site.render_list([], "tea", None, 1), fetched_at=NOW), next_url=None)
    assert next_page_url(spec, "/tea.html", "http://127.0.0.1:9/ec21/tea.html", page, 1, NOW, NOW) == (
        "http://127.0.0.1:9/ec21/tea.html"  # no next link: the listing template (the crawl stops on repeats)
    )
    linked = replace(page, next_url="https://importer.ec21.com/tea/page-2.html")
    assert next_page_url(spec, "/tea.html", "http://127.0.0.1:9/ec21/tea.html", linked, 1, NOW, NOW) == (
        "http://127.0.0.1:9/ec21/tea/page-2.html"
    )
    real = replace(SPEC, base_url=SPEC.site_url)
    assert next_page_url(real, "/tea.html", "https://importer.ec21.com/tea.html", linked, 1, NOW, NOW) == (
        "https://importer.ec21.com/tea/page-2.html"
    )


def test_an_empty_list_is_an_empty_result() -> None:
    page = parse_list(site.render_list([], "no-such-thing", None, 1), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False and page.total_entries == 0


def test_a_redesign_is_read_by_the_fallback(simulated: site.Ec21Site) -> None:
    leads = simulated.listing("cream")
    html = faults.redesigned(site.render_list(leads, "cream", None, 1))
    with pytest.raises(PageParseError) as drift:
        parse_list(html, fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    page = read_list_page(SPEC, html, fetched_at=NOW)
    assert page.extraction == "fallback"
    assert [e.external_id for e in page.entries] == [lead.lead_id for lead in leads[: site.PAGE_SIZE]]
    assert all(e.extraction == "fallback" and e.title.startswith("We Buy") for e in page.entries)
    assert all(e.posted_at is not None for e in page.entries)


def test_truncated_challenge_and_sign_in_pages(simulated: site.Ec21Site) -> None:
    html = site.render_list(simulated.listing("hair"), "hair", None, 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    for page in (
        faults.cloudflare_challenge("/x").body.decode(),
        faults.awswaf_challenge("/x").body.decode(),
        site.render_sign_in("/buy-lead/Anything--1.html"),
    ):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"


def test_ids_grow_with_posting_time_and_today_is_before_now(simulated: site.Ec21Site) -> None:
    leads = simulated.leads()
    ids = [int(lead.lead_id) for lead in leads]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(lead.posted_at < NOW for lead in leads)
    assert simulated.expected(TODAY + timedelta(days=1)) == []
