"""The ExportersIndia list parser on the simulated buyer lists (built like the live ones, as other scrapers read
them), on cards assembled from the labels those scrapers recorded, and on the site's other answers.

No served ExportersIndia page exists (``fixtures/EVIDENCE_B.md`` section 2): the hand-written cards use the elements,
labels and mask format quoted there; names and numbers in them are made up.
"""

from __future__ import annotations

import re
import urllib.robotparser
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import exportersindia as site
from rfq_pipeline.sources.exportersindia import SPEC, country_of, lead_key, parse_list, parse_posted
from rfq_pipeline.sources.model import PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import read_list_page

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)
MASKED = re.compile(r"^\+\d{1,3}-\d{2}\*{6}\d{2}$")  # the QA suite's pattern for the site's masked numbers


@pytest.fixture(scope="module")
def simulated() -> site.ExportersIndiaSite:
    built = site.ExportersIndiaSite()
    built.build(TODAY, NOW)
    return built


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), datetime.min.time(), UTC)


def _page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Buyers</title></head><body>{body}</body></html>"


def _check(entry: ParsedRfq, lead: site.EiLead) -> None:
    assert entry.external_id == lead.lead_id and entry.canonical_url == f"{SPEC.site_url}/buyers/#lead-{lead.lead_id}"
    assert entry.title == lead.product and entry.buyer_name == lead.buyer_name and entry.buyer_company == ""
    assert entry.quantity_text == lead.quantity and entry.description == lead.description
    assert entry.attributes["mobile"] == lead.mobile and MASKED.match(entry.attributes["mobile"])
    assert entry.attributes["location"] == lead.location
    assert entry.attributes["requirement"] == lead.requirement and entry.attributes["frequency"] == lead.frequency
    assert entry.attributes.get("payment_mode", "") == lead.payment_mode
    assert entry.attributes["usage_application"] == lead.usage
    assert entry.attributes.get("verified", False) is lead.verified
    assert entry.posted_at == _midnight(lead.posted_at) and entry.posted_text == site.day_text(lead.posted_at)
    assert entry.country_raw == lead.location.rsplit(", ", 1)[-1] and entry.country_code


def test_every_root_page_reads_whole(simulated: site.ExportersIndiaSite) -> None:
    leads = simulated.leads()
    total = -(-len(leads) // site.PAGE_SIZE)
    pages = [parse_list(site.render_root(leads, n), fetched_at=NOW) for n in range(1, total + 1)]
    entries = [entry for page in pages for entry in page.entries]
    assert len(entries) == len(leads)
    for entry, lead in zip(entries, leads, strict=True):
        _check(entry, lead)
    for number, page in enumerate(pages, start=1):
        assert page.has_next is (number < total)
        assert page.next_url == (f"/buyers/?page={number + 1}" if number < total else None)
    assert SPEC.date_sorted is False  # the site's order is unknown


def test_every_industry_page_reads_whole_and_links_its_static_pages(simulated: site.ExportersIndiaSite) -> None:
    for slug in site._seed()["industries"]:
        leads = simulated.industry(slug)
        total = max(1, -(-len(leads) // site.PAGE_SIZE))
        pages = [parse_list(site.render_industry(leads, slug, n), fetched_at=NOW) for n in range(1, total + 1)]
        for entry, lead in zip([e for page in pages for e in page.entries], leads, strict=True):
            _check(entry, lead)
        assert [page.next_url for page in pages] == [f"/buyers/{slug}-{n + 1}.htm" for n in range(1, total)] + [None]


def test_a_card_as_a_reader_sees_it(simulated: site.ExportersIndiaSite) -> None:
    html = site.render_root(simulated.leads(), 1)
    assert not re.search(r"\+\d{1,3}-\d{10}", html)  # no number is ever shown unmasked
    lead = next(lead for lead in simulated.leads() if lead.payment_mode and lead.quantity and lead.verified)
    page = next(n for n in range(1, 20) if lead in simulated.leads()[(n - 1) * site.PAGE_SIZE : n * site.PAGE_SIZE])
    entry = next(
        e
        for e in parse_list(site.render_root(simulated.leads(), page), fetched_at=NOW).entries
        if e.title == lead.product
    )
    assert entry.attributes == {
        "mobile": lead.mobile,
        "requirement": lead.requirement,
        "frequency": lead.frequency,
        "payment_mode": lead.payment_mode,
        "usage_application": lead.usage,
        "location": lead.location,
        "verified": True,
    }


def test_cards_built_from_the_labels_scrapers_recorded() -> None:
    html = _page(
        '<ul id="buyer_lead"><li><div class="lead_det-title"><h3>Looking for A4 Size Copy Paper</h3></div>'
        '<div class="lead-location">Pune, Maharashtra</div><div class="lead-date">Today</div>'
        '<ul class="_info_p"><li><b>Buyer Name</b><span>Ramesh Kumar</span></li>'
        "<li><b>Mobile No.</b><span>+91-88******83</span></li><li><b>Quantity</b><span>500 Ream</span></li>"
        "<li><b>Requirement</b><span>Immediate</span></li><li><b>payment mode</b><span>Advance</span></li>"
        "<li><b>Material</b><span>Wood Pulp</span></li><li><b>Color:</b><span>White</span></li></ul>"
        '<div class="other_info">I want to buy A4 size copy paper,  75 GSM.</div>'
        '<ul class="buys-info-list"><li><span class="lbl">Replies</span><span class="val">3</span></li></ul>'
        '<img class="_verify" src="v.png"></li>'
        '<li><div class="lead_det-title"><h3>Looking for Labels</h3></div><div class="lead-location"></div>'
        '<div class="lead-date">3 hours ago</div><ul class="_info_p"><li><b>Buyer Name</b><span>A</span></li>'
        "<li><b>Mode Of Payment</b><span>Cash</span></li></ul></li>"
        '<li class="more"><a href="javascript:void(0)">Show More Result</a></li></ul>'
    )
    page = parse_list(html, fetched_at=NOW)
    paper, labels = page.entries
    assert (paper.title, paper.buyer_name, paper.quantity_text) == ("A4 Size Copy Paper", "Ramesh Kumar", "500 Ream")
    assert paper.attributes["mobile"] == "+91-88******83" and paper.attributes["payment_mode"] == "Advance"
    assert paper.attributes["material"] == "Wood Pulp" and paper.attributes["color"] == "White"
    assert paper.attributes["buyer_activity"] == {"Replies": "3"} and paper.attributes["verified"] is True
    assert paper.description == "I want to buy A4 size copy paper, 75 GSM."
    assert (paper.country_code, paper.country_raw) == ("IN", "India")  # a state of India, the country left out
    assert paper.posted_at == datetime(2026, 8, 27, tzinfo=UTC) and paper.posted_text == "Today"
    assert labels.attributes["payment_mode"] == "Cash" and labels.country_code == "" and labels.country_raw == ""
    assert labels.posted_at == datetime(2026, 8, 27, tzinfo=UTC)
    assert paper.external_id == lead_key(
        "A4 Size Copy Paper", "Ramesh Kumar", "+91-88******83", "Pune, Maharashtra", "500 Ream"
    )
    # A "Show More Result" control without a page link loads in place: the listing's static page form comes next.
    assert page.has_next is True and page.next_url is None


def test_the_id_is_stable_when_the_date_text_changes(simulated: site.ExportersIndiaSite) -> None:
    leads = simulated.leads()[: site.PAGE_SIZE]
    html = site.render_root(simulated.leads(), 1)
    relative = html.replace(f">{site.day_text(NOW)}<", ">Today<")
    assert relative != html
    later = NOW + timedelta(days=1)
    again = parse_list(relative.replace(">Today<", ">Yesterday<"), fetched_at=later).entries
    first = parse_list(html, fetched_at=NOW).entries
    assert [e.external_id for e in first] == [e.external_id for e in again] == [lead.lead_id for lead in leads]
    assert [e.posted_at for e in first] == [e.posted_at for e in again]
    # The same lead on its industry list has the same id.
    lead = leads[0]
    industry = parse_list(site.render_industry(simulated.industry(lead.industry), lead.industry, 1), fetched_at=NOW)
    assert lead.lead_id in {e.external_id for e in industry.entries}


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("29 Jul 2026", date(2026, 7, 29)),
        ("Posted on : July 29, 2026", date(2026, 7, 29)),
        ("2026-07-29", date(2026, 7, 29)),
        ("29-07-2026", date(2026, 7, 29)),
        ("29/07/2026", date(2026, 7, 29)),
        ("Today", date(2026, 8, 27)),
        ("Yesterday", date(2026, 8, 26)),
        ("16 hours ago", date(2026, 8, 26)),
        ("5 mins ago", date(2026, 8, 27)),
        ("a day ago", date(2026, 8, 26)),
        ("3 days ago", date(2026, 8, 24)),
    ],
)
def test_posting_dates_absolute_and_relative(text: str, day: date) -> None:
    assert parse_posted(text, NOW) == datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_unreadable_dates_and_locations_stay_unknown() -> None:
    assert parse_posted("recently", NOW) is None
    assert country_of("Dubai, United Arab Emirates") == ("AE", "United Arab Emirates")
    assert country_of("Kochi, Kerala, India") == ("IN", "India")
    assert country_of("Springfield") == ("", "")  # never a default country


def test_an_empty_list_is_an_empty_result_and_a_missing_one_is_drift() -> None:
    empty = parse_list(_page('<h1>Buyers for Labels</h1><ul class="buyer_lead"></ul>'), fetched_at=NOW)
    assert empty.entries == [] and empty.has_next is False
    with pytest.raises(PageParseError) as drift:
        parse_list(_page("<h1>Buyers</h1><p>Nothing here</p>"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"


def test_a_redesign_is_drift_even_for_the_fallback(simulated: site.ExportersIndiaSite) -> None:
    for html in (
        site.render_root(simulated.leads(), 1),
        site.render_industry(simulated.industry("textiles"), "textiles", 1),
    ):
        redesigned = faults.redesigned(html)
        with pytest.raises(PageParseError) as drift:
            read_list_page(SPEC, redesigned, fetched_at=NOW)  # no detail links: nothing for the fallback to follow
        assert drift.value.kind == "layout_drift"


def test_truncated_and_challenge_pages(simulated: site.ExportersIndiaSite) -> None:
    html = site.render_root(simulated.leads(), 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    for page in (faults.cloudflare_challenge("/x").body.decode(), faults.awswaf_challenge("/x").body.decode()):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"


def test_list_urls() -> None:
    real = replace(SPEC, base_url=SPEC.site_url)
    assert SPEC.listings == ("/buyers/",)
    assert real.list_url("/buyers/", 1) == "https://www.exportersindia.com/buyers/"
    assert real.list_url("/buyers/", 2) == "https://www.exportersindia.com/buyers/"  # no known page form
    assert real.list_url("/buyers/labels.htm", 1) == "https://www.exportersindia.com/buyers/labels.htm"
    assert real.list_url("/buyers/labels.htm", 2) == "https://www.exportersindia.com/buyers/labels-2.htm"
    assert SPEC.detail_regex == "" and SPEC.parse_detail is None and SPEC.evidence == "second_hand"
    assert SPEC.fixtures == () and SPEC.known_gaps and SPEC.mail_domains == ("exportersindia.com",)


def test_the_simulated_site(simulated: site.ExportersIndiaSite) -> None:
    leads = simulated.leads()
    assert len({lead.lead_id for lead in leads}) == len(leads)
    assert all(lead.posted_at < NOW for lead in leads) and leads[0].posted_at.date() == TODAY
    posted = [lead.posted_at for lead in leads]
    assert posted == sorted(posted, reverse=True)
    assert simulated.expected(TODAY + timedelta(days=1)) == []
    assert all(5 <= len(simulated.expected(TODAY - timedelta(days=back))) <= 8 for back in range(44))
    assert simulated.expected_total() == len(leads) <= SPEC.max_pages * site.PAGE_SIZE
    again = site.ExportersIndiaSite()
    again.build(TODAY + timedelta(days=3), NOW + timedelta(days=3))
    older = TODAY - timedelta(days=5)
    assert again.expected(older) == simulated.expected(older)  # a day keeps its leads
    assert simulated.render("buyers/", {"page": ["2"]}, "normal", NOW).status == 200
    assert simulated.render("buyers/agriculture-2.htm", {}, "normal", NOW).status == 200
    assert simulated.render("buyers/hang-tag.htm", {}, "normal", NOW).status == 410
    missing = simulated.render("no/such/page.htm", {}, "normal", NOW)
    assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>")
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(simulated.robots_txt.replace("{p}", "exportersindia").splitlines())
    assert robots.can_fetch("*", "/exportersindia/buyers/?page=2")
    assert not robots.can_fetch("*", "/exportersindia/enquiry.htm")
