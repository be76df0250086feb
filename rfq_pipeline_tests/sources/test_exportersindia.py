"""The ExportersIndia parsers on pages the simulated board renders: IST dates, paging, detail pages, broken pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import exportersindia as site_module
from rfq_pipeline.devtools.simulator.sites.exportersindia import EiLead, ExportersIndiaSite
from rfq_pipeline.sources.exportersindia import SITE_URL, SPEC, parse_detail, parse_list, parse_posted
from rfq_pipeline.sources.model import PageParseError, ParsedRfq

TODAY = date(2025, 7, 13)
NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)  # 21:00 in India


@pytest.fixture(scope="module")
def site() -> ExportersIndiaSite:
    built = ExportersIndiaSite()
    built.build(TODAY, NOW)
    return built


def _list_html(site: ExportersIndiaSite, page: int = 1, *, category: str | None = None, style: str = "normal") -> str:
    rest = f"buy-leads/{category}/" if category else "buy-leads/"
    reply = site.render(rest, {"page": [str(page)]}, style, NOW)
    assert reply.status == 200
    return reply.body.decode()


def _detail_html(site: ExportersIndiaSite, lead: EiLead, style: str = "normal") -> str:
    reply = site.render(lead.detail_path.lstrip("/"), {}, style, NOW)
    assert reply.status == 200
    return reply.body.decode()


def test_first_page_lists_the_newest_leads_as_the_site_has_them(site: ExportersIndiaSite) -> None:
    page = parse_list(_list_html(site), fetched_at=NOW)
    assert len(page.entries) == 25
    assert page.has_next is True
    assert page.total_pages == -(-len(site.leads) // 25)
    for lead, entry in zip(site.leads[:25], page.entries, strict=True):
        assert entry.source == "exportersindia"
        assert entry.external_id == lead.lead_id
        assert entry.canonical_url == f"{SITE_URL}/buy-lead-details/{lead.lead_id}/{lead.slug}.htm"
        assert entry.detail_path == lead.detail_path
        assert entry.title == lead.title
        assert entry.posted_at == lead.posted_at
        assert entry.quantity_text == lead.quantity
        assert entry.country_raw == lead.location
        flat = " ".join(lead.description.split())
        assert entry.description and flat.startswith(entry.description.removesuffix("..."))
    # Today's leads are written relative to the Indian day ("Today, 08:52 PM").
    assert page.entries[0].posted_text.startswith("Today, ")


def test_every_lead_date_round_trips_through_the_site_format(site: ExportersIndiaSite) -> None:
    texts = set()
    for lead in site.leads:
        text = site_module.list_date(lead.posted_at, NOW)
        texts.add(text.split(",")[0])
        assert parse_posted(text, NOW) == lead.posted_at, text
    assert {"Today", "Yesterday"} <= texts and len(texts) > 10


def test_ist_dates_with_and_without_the_fetch_time() -> None:
    assert parse_posted("10 Jul 2025, 09:05 PM", None) == datetime(2025, 7, 10, 15, 35, tzinfo=UTC)
    assert parse_posted("Posted : 01 Jan 2025, 12:10 AM", None) == datetime(2024, 12, 31, 18, 40, tzinfo=UTC)
    assert parse_posted("13 Jul 2025, 12:00 PM", None) == datetime(2025, 7, 13, 6, 30, tzinfo=UTC)
    assert parse_posted("Today, 02:45 PM", NOW) == datetime(2025, 7, 13, 9, 15, tzinfo=UTC)
    assert parse_posted("Yesterday, 11:10 AM", NOW) == datetime(2025, 7, 12, 5, 40, tzinfo=UTC)
    # At 20:00 UTC it is already the 14th in India: "Today, 12:30 AM" is 19:00 UTC on the 13th.
    late = datetime(2025, 7, 13, 20, 0, tzinfo=UTC)
    assert parse_posted("Today, 12:30 AM", late) == datetime(2025, 7, 13, 19, 0, tzinfo=UTC)
    assert parse_posted("Yesterday, 11:50 PM", late) == datetime(2025, 7, 13, 18, 20, tzinfo=UTC)
    assert parse_posted("Today, 02:45 PM", None) is None  # a relative time needs the fetch time
    assert parse_posted("31 Feb 2025, 10:00 AM", None) is None
    assert parse_posted("10 Jul 2025, 13:00 PM", None) is None
    assert parse_posted("10 Jul 2025", None) is None  # the board always gives a time


def test_a_lead_posted_late_in_the_utc_day_shows_the_next_indian_date() -> None:
    posted = datetime(2025, 7, 10, 20, 15, tzinfo=UTC)
    text = site_module.list_date(posted, NOW)
    assert text == "11 Jul 2025, 01:45 AM"
    assert parse_posted(text, NOW) == posted  # and the parser puts it back on the 10th (UTC)


def test_quantity_not_specified_is_empty(site: ExportersIndiaSite) -> None:
    position = next(i for i, lead in enumerate(site.leads) if not lead.quantity)
    page_no, index = divmod(position, 25)
    html = _list_html(site, page_no + 1)
    assert "<b>Quantity :</b> Not Specified" in html
    entry = parse_list(html, fetched_at=NOW).entries[index]
    assert entry.external_id == site.leads[position].lead_id and entry.quantity_text == ""


def test_detail_page_adds_the_requirement_table_text_and_company(site: ExportersIndiaSite) -> None:
    page = parse_list(_list_html(site), fetched_at=NOW)
    lead, entry = next((ld, e) for ld, e in zip(site.leads, page.entries, strict=False) if ld.company)
    detailed = parse_detail(_detail_html(site, lead), entry)
    assert detailed.buyer_company == lead.company
    assert detailed.description == lead.description
    assert detailed.posted_at == lead.posted_at and detailed.posted_text == entry.posted_text
    assert detailed.attributes["approx_order_value"] == lead.order_value
    assert detailed.attributes["purpose_of_requirement"] == lead.purpose
    assert detailed.attributes["usage_application"] == lead.usage
    assert detailed.attributes["requirement_frequency"] == lead.frequency
    assert detailed.attributes["preferred_suppliers_from"] == lead.supplier_location
    assert detailed.attributes["member_since"] == lead.member_since
    assert detailed.canonical_url == entry.canonical_url


def test_undisclosed_buyer_has_no_company_and_detail_dates_an_undated_entry(site: ExportersIndiaSite) -> None:
    lead = next(lead for lead in site.leads if not lead.company)
    html = _detail_html(site, lead)
    assert "Not Disclosed" in html
    undated = ParsedRfq(source="exportersindia", external_id=lead.lead_id, canonical_url="", title="", posted_at=None)
    detailed = parse_detail(html, undated)
    assert detailed.buyer_company == ""
    assert detailed.title == lead.title
    assert detailed.posted_at == lead.posted_at  # the detail page prints an absolute IST time
    assert detailed.quantity_text == lead.quantity


def test_last_page_beyond_and_empty_category(site: ExportersIndiaSite) -> None:
    last = -(-len(site.leads) // 25)
    final = parse_list(_list_html(site, last), fetched_at=NOW)
    assert final.has_next is False and final.total_pages == last
    assert [e.external_id for e in final.entries] == [lead.lead_id for lead in site.leads[(last - 1) * 25 :]]
    beyond = parse_list(_list_html(site, last + 1), fetched_at=NOW)
    assert beyond.entries == [] and beyond.has_next is False
    unknown = parse_list(_list_html(site, category="quantum-widgets"), fetched_at=NOW)
    assert unknown.entries == [] and unknown.has_next is False


def test_category_listing_holds_only_that_category(site: ExportersIndiaSite) -> None:
    beauty = [lead for lead in site.leads if lead.category == "cosmetics-personal-care"]
    page = parse_list(_list_html(site, category="cosmetics-personal-care"), fetched_at=NOW)
    assert [e.external_id for e in page.entries] == [lead.lead_id for lead in beauty[:25]]


def test_drift_truncation_and_challenges_are_refused(site: ExportersIndiaSite) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(_list_html(site, style="drift"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    entry = parse_list(_list_html(site), fetched_at=NOW).entries[0]
    with pytest.raises(PageParseError) as detail_drift:
        parse_detail(_detail_html(site, site.leads[0], style="drift"), entry)
    assert detail_drift.value.kind == "layout_drift"
    cut = faults.truncate(site.render("buy-leads/", {"page": ["2"]}, "normal", NOW)).body.decode()
    with pytest.raises(PageParseError) as truncated:
        parse_list(cut, fetched_at=NOW)
    assert truncated.value.kind == "truncated"
    for wall in (faults.cloudflare_challenge("/buy-leads/"), faults.login_wall(SPEC.name, "/buy-leads/")):
        with pytest.raises(PageParseError) as challenge:
            parse_list(wall.body.decode(), fetched_at=NOW)
        assert challenge.value.kind == "challenge"


def test_leads_mix_beauty_other_industries_and_near_misses(site: ExportersIndiaSite) -> None:
    kinds = [lead.kind for lead in site.leads]
    assert 0.35 <= kinds.count("beauty") / len(kinds) <= 0.75
    assert kinds.count("hard_negative") >= 20 and kinds.count("other") >= 50
    for back in range(41):
        assert 8 <= len(site.expected(TODAY - timedelta(days=back))) <= 20


def test_spec() -> None:
    assert SPEC.name == "exportersindia" and SPEC.kind == "marketplace"
    assert SPEC.site_url == SITE_URL and SPEC.cadence == "0 */6 * * *"
    assert SPEC.respect_robots is True and SPEC.impersonate == "chrome"
    assert SPEC.parse_detail is parse_detail and SPEC.page_size == 25
    assert 6 <= SPEC.rate_per_minute <= 20
    assert all("{page}" in listing for listing in SPEC.listings)
