"""The TradeIndia list parser on the simulated lists (built like the live ones, as other scrapers read them), on
cards assembled from the values those scrapers recorded, and on the site's other answers.

No served TradeIndia page exists (``fixtures/EVIDENCE_B.md`` section 1); the hand-written cards below use values
quoted there from go4it's 58 scraped cards and kaifaxing's test fixture, never invented ones.
"""

from __future__ import annotations

import urllib.robotparser
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import tradeindia as site
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.model import PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import read_list_page
from rfq_pipeline.sources.tradeindia import SPEC, parse_list, repair_text, split_labels

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulated() -> site.TradeIndiaSite:
    built = site.TradeIndiaSite()
    built.build(TODAY, NOW)
    return built


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), datetime.min.time(), UTC)


def _root_pages(leads: list[site.Lead]) -> list[str]:
    total = max(1, -(-len(leads) // site.ROOT_PAGE_SIZE))
    return [site.render_list(leads, n) for n in range(1, total + 1)]


def _category_entries(simulated: site.TradeIndiaSite, slug: str) -> list[ParsedRfq]:
    leads = simulated.category(slug)
    name = simulated.categories()[slug]
    total = max(1, -(-len(leads) // site.CATEGORY_PAGE_SIZE))
    pages = [parse_list(site.render_list(leads, n, category=name), fetched_at=NOW) for n in range(1, total + 2)]
    if total == 1:  # no paging block at all: the next page_no is asked for, and it is an empty result
        assert pages[0].has_next is True and pages[0].next_url is None
    else:
        assert [page.has_next for page in pages[:total]] == [n < total for n in range(1, total + 1)]
    assert pages[total].entries == [] and pages[total].has_next is False
    return [entry for page in pages for entry in page.entries]


def _page(cards: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Buy Leads</title></head><body>{cards}</body></html>"


def test_every_root_page_reads_whole_newest_first(simulated: site.TradeIndiaSite) -> None:
    leads = simulated.leads()
    pages = [parse_list(html, fetched_at=NOW) for html in _root_pages(leads)]
    entries = [entry for page in pages for entry in page.entries]
    assert [e.external_id for e in entries] == [lead.lead_id for lead in leads]
    for number, page in enumerate(pages, start=1):
        assert page.has_next is (number < len(pages))
        assert page.next_url == (f"/TradeLeads/buy/?page_no={number + 1}" if page.has_next else None)
    for entry, lead in zip(entries, leads, strict=True):
        assert entry.title == lead.product and entry.attributes == {"product": lead.product}
        assert entry.canonical_url == f"https://www.tradeindia.com/buyoffer/{lead.lead_id}/{lead.slug}.html"
        assert entry.posted_at == _midnight(lead.posted_at) and entry.posted_text == site.day_text(lead.posted_at)
        assert (entry.country_raw, entry.country_code) == (lead.country, lead.country_code)
        assert entry.description == f"Buyer is looking for {lead.product}"
        assert entry.buyer_name == "" and entry.quantity_text == ""  # the root list shows neither
    days = [e.posted_at for e in entries]
    assert days == sorted(days, reverse=True) and SPEC.date_sorted is True


def test_every_category_page_reads_whole_with_what_its_cards_show(simulated: site.TradeIndiaSite) -> None:
    for slug in simulated.categories():
        entries = _category_entries(simulated, slug)
        leads = simulated.category(slug)
        assert [e.external_id for e in entries] == [lead.lead_id for lead in leads]
        for entry, lead in zip(entries, leads, strict=True):
            assert entry.title == lead.title and entry.attributes["product"] == lead.product
            assert entry.buyer_name == lead.buyer_name and entry.buyer_company == ""
            assert entry.attributes.get("location", "") == lead.location
            assert entry.quantity_text == lead.quantity
            assert entry.attributes["want_to_buy"] == "Immediate" and entry.attributes["purpose"] == lead.purpose
            assert entry.description == lead.description and entry.attributes["truncated"] is True
            assert entry.posted_at == _midnight(lead.posted_at)
            if lead.flag:
                assert entry.country_code == lead.country_code
            else:  # no flag: only a city part that is a country names it, never a default
                assert entry.country_code in ("", lead.country_code)


def test_simulated_cards_as_a_reader_sees_them(simulated: site.TradeIndiaSite) -> None:
    def first(slug: str, check: Callable[[site.Lead], bool]) -> ParsedRfq:
        entries = {e.external_id: e for e in _category_entries(simulated, slug)}
        return entries[next(lead.lead_id for lead in simulated.category(slug) if check(lead))]

    # Mojibake: the site serves "Â°C"; the reader sees "°C".
    entry = first("Rose-Water", lambda lead: True)
    html = site.render_list(simulated.category("Rose-Water"), 1, category="Rose Water")
    assert "25Â°C" in html and "25°C" in entry.description and "Â" not in entry.description
    # Percent-encoded region: served "Lyon, Auvergne-Rh%C3%B4ne-Alpes", read decoded.
    entry = first("Hair-Color", lambda lead: lead.city == "Lyon")
    html = site.render_list(simulated.category("Hair-Color"), 1, category="Hair Color")
    assert "Lyon, Auvergne-Rh%C3%B4ne-Alpes" in html
    assert entry.attributes["location"] == "Lyon, Auvergne-Rhône-Alpes"
    # Anonymous buyer: "Buyer is looking for suppliers of ..." names nobody.
    entry = first("Face-Pack", lambda lead: lead.contact == "Buyer")
    assert entry.title == "Buyer is looking for suppliers of Herbal Face Pack Powder" and entry.buyer_name == ""
    # A shop enquiry's placeholder is not a buyer's name either.
    entry = first("Deodorant", lambda lead: True)
    assert entry.title.startswith("Shopping_Inquiry_30412877 is looking") and entry.buyer_name == ""
    # A named buyer, with a flag and a glued free-form answer.
    entry = first("Hair-Oil", lambda lead: lead.contact == "Hetal Patel" and lead.flag)
    assert entry.buyer_name == "Hetal Patel" and entry.country_code == "IN" and entry.country_raw == "India"
    assert entry.attributes["purpose"] == "Retail" and entry.attributes["preferred_time"] == "anytime during the day"
    assert entry.attributes["quantity_unit"] == "bottle"
    # Without a flag, "City, State" names no country: it stays unknown.
    no_flag = [
        (lead, entry)
        for slug in simulated.categories()
        for lead, entry in zip(simulated.category(slug), _category_entries(simulated, slug), strict=True)
        if not lead.flag
    ]
    assert no_flag and all(entry.country_code == "" for lead, entry in no_flag if lead.state)


def test_cards_built_from_the_values_scrapers_recorded() -> None:
    cards = _page(
        # go4it's values (category list, blListCard): named buyer, flag, quantity, mojibake in the description.
        '<div class="blListCard"><a href="/buyoffer/17792906/Arham-Shafiq-Rahman-is-looking-for-suppliers-of-'
        'industrial-bitumen-.html" class="title">Arham Shafiq Rahman is looking for suppliers of industrial bitumen'
        '</a><div class="blCity"><img src="https://img.example/countries-flags/in.jpg"> Chennai, Tamil Nadu</div>'
        '<span class="blDate">29 July 2026</span><div class="blCustomData"><span>Quantity Required : </span>'
        "<span>100 Tons</span> <span>Want to Buy : </span><span>Immediate</span></div>"
        "<div class=\"blDiscription\">Buyer is looking for 'industrial bitumen'. Specification: - Industrial Blown "
        "Bitumen - Penetration: 60-80 - Softening Point: 50-60Â°C - Specific Gravity: 1.01-1.03 Quantity Requir..."
        "</div></div>"
        # go4it: anonymous buyer, short slug, empty city, glued free labels.
        '<div class="blListCard"><a class="title" href="/buyoffer/17633104/Bitumen-Grades.html">Buyer is looking '
        'for suppliers of Bitumen Grades</a><div class="blCity"><img src="/countries-flags/in.jpg"></div>'
        '<span class="blDate">13 July 2026</span><div class="blCustomData">Purpose : Businesspreferred time : '
        "anytime during the dayquantity unit : kilogram Want to Buy : Immediate</div>"
        "<div class=\"blDiscription\">Buyer is looking for 'Bitumen Grades'....</div></div>"
        # go4it: no flag, percent-encoded region.
        '<div class="blListCard"><a href="/buyoffer/17635629/Paria-abolfazli-is-looking-for-suppliers-of-liquid-'
        'bitumen-.html" class="title">Paria abolfazli is looking for suppliers of liquid bitumen</a>'
        '<div class="blCity">Paris, %C3%8Ele-de-France</div><span class="blDate">13 July 2026</span>'
        '<div class="blCustomData">Want to Buy : Immediate</div><div class="blDiscription">x...</div></div>'
        # go4it: a trailing comma and a Kuwaiti flag.
        '<div class="blListCard"><a href="/buyoffer/17629315/Rizwan-is-looking-for-suppliers-of-road-bitumen-.html" '
        'class="title">Rizwan is looking for suppliers of road bitumen</a><div class="blCity">'
        '<img src="/countries-flags/kw.jpg"> al-Farwaniyah, al-Farwaniyah</div><span class="blDate">13 July 2026'
        '</span><div class="blCustomData">Want to Buy : Immediate</div><div class="blDiscription">y...</div></div>'
        # kaifaxing's fixture (root list, blBuyLeadsBox) with the <img alt="map"> form of the country.
        '<div class="blBuyLeadsBox"><div> <a href="/buyoffer/17947147/Glass-Roll.html" class="blTitle"> Glass Roll '
        '</a> </div><div class="blCountry"><img alt="map"> India </div><div class="blPostedDate">Date posted : '
        '<span class="blDate">14 August 2026</span></div><div class="blBuyrLooking">Buyer is looking for '
        '<span class="blLookingName">Glass Roll</span></div></div>'
    )
    named, anonymous, paris, kuwait, box = parse_list(cards, fetched_at=NOW).entries
    assert named.external_id == "17792906" and named.buyer_name == "Arham Shafiq Rahman"
    assert named.attributes["product"] == "industrial bitumen" and named.quantity_text == "100 Tons"
    assert (named.country_code, named.country_raw, named.attributes["location"]) == (
        "IN",
        "India",
        "Chennai, Tamil Nadu",
    )
    assert named.posted_at == datetime(2026, 7, 29, tzinfo=UTC) and named.posted_text == "29 July 2026"
    assert "Softening Point: 50-60°C" in named.description and named.description.endswith("Quantity Requir...")
    assert named.attributes["truncated"] is True and named.attributes["want_to_buy"] == "Immediate"
    assert anonymous.buyer_name == "" and anonymous.title == "Buyer is looking for suppliers of Bitumen Grades"
    assert "location" not in anonymous.attributes and anonymous.country_code == "IN"
    assert anonymous.attributes["purpose"] == "Business"
    assert anonymous.attributes["preferred_time"] == "anytime during the day"
    assert anonymous.attributes["quantity_unit"] == "kilogram" and anonymous.quantity_text == ""
    assert paris.attributes["location"] == "Paris, Île-de-France" and paris.country_code == ""
    assert paris.buyer_name == "Paria abolfazli"
    assert kuwait.country_code == "KW" and kuwait.attributes["location"] == "al-Farwaniyah, al-Farwaniyah"
    assert (box.title, box.country_code, box.country_raw) == ("Glass Roll", "IN", "India")
    assert box.posted_at == datetime(2026, 8, 14, tzinfo=UTC) and box.description == "Buyer is looking for Glass Roll"
    assert box.canonical_url == "https://www.tradeindia.com/buyoffer/17947147/Glass-Roll.html"


def test_the_rendered_listbox_is_read_from_its_text() -> None:
    # ABUMeta's view of the root list in a browser: options with "... Date posted : ... Buyer is looking for ... More".
    html = _page(
        '<div role="listbox"><div role="option"><a href="/buyoffer/17947147/Glass-Roll.html">Glass Roll</a> '
        "<div>India</div><div>Date posted : <span>14 August 2026</span></div><div>Buyer is looking for Glass Roll"
        '</div><a href="/buyoffer/17947147/Glass-Roll.html">More</a></div></div>'
    )
    (entry,) = parse_list(html, fetched_at=NOW).entries
    assert (entry.external_id, entry.title, entry.country_code) == ("17947147", "Glass Roll", "IN")
    assert entry.posted_at == datetime(2026, 8, 14, tzinfo=UTC)
    assert entry.description == "Buyer is looking for Glass Roll"


def test_labels_and_text_repair() -> None:
    assert split_labels("Purpose : Retail whatsapp availability : yesproduct details: penetration (astm d5): 2040") == {
        "Purpose": "Retail",
        "Whatsapp Availability": "yes",
        "Product Details": "penetration (astm d5): 2040",
    }
    assert repair_text("50-60Â°C") == "50-60°C"
    assert repair_text("Café 25°C") == "Café 25°C"  # already right: latin-1 bytes are not UTF-8, kept
    assert repair_text("Âge ₹") == "Âge ₹"  # not latin-1 encodable: kept


def test_paging_without_markup_asks_for_the_next_page_no() -> None:
    card = (
        '<div class="blBuyLeadsBox"><a href="/buyoffer/1/A.html" class="blTitle">A</a>'
        '<div class="blPostedDate">Date posted : <span class="blDate">14 August 2026</span></div></div>'
    )
    unmarked = parse_list(_page(card), fetched_at=NOW)
    assert unmarked.has_next is True and unmarked.next_url is None
    numbered = parse_list(_page(card + '<a href="/TradeLeads/buy/?page_no=1">1</a>'), fetched_at=NOW)
    assert numbered.has_next is False


def test_list_urls_and_the_next_link() -> None:
    real = replace(SPEC, base_url=SPEC.site_url)
    assert SPEC.listings == ("/TradeLeads/buy/?page_no={page}",)
    assert real.list_url(SPEC.listings[0], 1) == "https://www.tradeindia.com/TradeLeads/buy/"
    assert real.list_url(SPEC.listings[0], 2) == "https://www.tradeindia.com/TradeLeads/buy/?page_no=2"
    local = replace(SPEC, base_url="http://127.0.0.1:9/tradeindia")
    page = parse_list(site.render_list([], 1), fetched_at=NOW)
    linked = replace(page, has_next=True, next_url="/TradeLeads/buy/?page_no=3")
    current = "http://127.0.0.1:9/tradeindia/TradeLeads/buy/?page_no=2"
    assert next_page_url(local, SPEC.listings[0], current, linked, 2, NOW, NOW) == (
        "http://127.0.0.1:9/tradeindia/TradeLeads/buy/?page_no=3"
    )
    assert next_page_url(local, SPEC.listings[0], current, replace(linked, next_url=None), 2, NOW, NOW) == (
        "http://127.0.0.1:9/tradeindia/TradeLeads/buy/?page_no=3"
    )
    assert SPEC.evidence == "second_hand" and SPEC.fixtures == () and SPEC.parse_detail is None
    assert SPEC.known_gaps and SPEC.mail_domains == ("tradeindia.com",)


def test_an_empty_list_is_an_empty_result_and_a_bare_page_is_drift(simulated: site.TradeIndiaSite) -> None:
    past_the_end = parse_list(site.render_list(simulated.leads(), 99), fetched_at=NOW)
    assert past_the_end.entries == [] and past_the_end.has_next is False
    with pytest.raises(PageParseError) as drift:
        parse_list(_page("<h1>Buy Leads</h1><p>Welcome</p>"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"


def test_a_redesign_is_read_by_the_fallback(simulated: site.TradeIndiaSite) -> None:
    leads = simulated.leads()
    html = faults.redesigned(site.render_list(leads, 2))
    with pytest.raises(PageParseError) as drift:
        parse_list(html, fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    page = read_list_page(SPEC, html, fetched_at=NOW)
    chunk = leads[site.ROOT_PAGE_SIZE : 2 * site.ROOT_PAGE_SIZE]
    assert page.extraction == "fallback" and page.next_url == "/TradeLeads/buy/?page_no=3"
    assert [e.external_id for e in page.entries] == [lead.lead_id for lead in chunk]
    for entry, lead in zip(page.entries, chunk, strict=True):
        assert entry.title == lead.product and entry.posted_at == _midnight(lead.posted_at)
        assert entry.country_code == lead.country_code
    category = faults.redesigned(site.render_list(simulated.category("Hair-Oil"), 1, category="Hair Oil"))
    found = read_list_page(SPEC, category, fetched_at=NOW).entries
    assert [e.external_id for e in found] == [lead.lead_id for lead in simulated.category("Hair-Oil")]


def test_truncated_and_challenge_pages(simulated: site.TradeIndiaSite) -> None:
    html = site.render_list(simulated.leads(), 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    for page in (faults.cloudflare_challenge("/x").body.decode(), faults.awswaf_challenge("/x").body.decode()):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"


def test_the_simulated_site(simulated: site.TradeIndiaSite) -> None:
    leads = simulated.leads()
    ids = [int(lead.lead_id) for lead in leads]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(lead.posted_at < NOW for lead in leads) and leads[0].posted_at.date() == TODAY
    assert simulated.expected(TODAY + timedelta(days=1)) == []
    assert all(3 <= len(simulated.expected(TODAY - timedelta(days=back))) <= 10 for back in range(44))
    assert simulated.expected_total() == len(leads) <= SPEC.max_pages * site.ROOT_PAGE_SIZE
    again = site.TradeIndiaSite()
    again.build(TODAY, NOW)
    assert [lead.lead_id for lead in again.leads()] == [lead.lead_id for lead in leads]
    assert simulated.render("TradeLeads/buy/", {"page_no": ["2"]}, "normal", NOW).status == 200
    assert simulated.render("TradeLeads/buy/Hair-Oil/", {}, "normal", NOW).status == 200
    assert simulated.render("TradeLeads/buy/No-Such-Category/", {}, "normal", NOW).status == 404
    missing = simulated.render("no/such/page.html", {}, "normal", NOW)
    assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>")
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(simulated.robots_txt.replace("{p}", "tradeindia").splitlines())
    assert robots.can_fetch("*", "/tradeindia/TradeLeads/buy/?page_no=2")
    assert not robots.can_fetch("*", "/tradeindia/my-tradeindia/")
    xpost = [row for row in site.seed() if row.get("xpost") == "xp-barber"]
    assert [row["buyer"] for row in xpost] == ["Nairobi Salon Supplies Ltd."]
