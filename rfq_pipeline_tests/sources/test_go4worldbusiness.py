"""The go4WorldBusiness parser on the simulated 2026 buyer lists (built like the served pages) and on the site's other
answers; the template splitter on the real lead texts.

The served pages themselves are checked field by field in ``test_served_pages.py``; that the simulated cards are
built like them is checked in ``rfq_pipeline_tests/devtools/test_simulated_markup.py``.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selectolax.lexbor import LexborHTMLParser

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator import go4w_pages as site
from rfq_pipeline.devtools.simulator.catalog import Go4wLead, Go4wMember, go4w_leads, go4w_members
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.go4worldbusiness import (
    SPEC,
    parse_card_date,
    parse_list,
    parse_templated_description,
)
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import lead_record, read_list_page

CORPUS = Path(rfq_pipeline.devtools.__file__).parent / "corpus"
TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)
HOST = "https://www.go4worldbusiness.com"


@pytest.fixture(scope="module")
def real_leads() -> list[dict[str, str]]:
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [r for r in records if "/buylead/view/" in r["buyerCompanyLink"]]


@pytest.fixture(scope="module")
def simulated() -> site.Go4wSite:
    return site.Go4wSite(go4w_leads(TODAY), go4w_members(TODAY), TODAY)


def _real_text(real_leads: list[dict[str, str]], lead_id: str) -> str:
    return next(r["buyerText"] for r in real_leads if f"/buylead/view/{lead_id}/" in r["buyerCompanyLink"])


def _served(simulated: site.Go4wSite, url: str, style: str = "normal") -> str:
    """The simulated site's answer to an absolute www URL (as a page's next link gives it)."""
    parts = urlsplit(url)
    reply = simulated.render(parts.path.lstrip("/"), parse_qs(parts.query), style)
    assert reply.status == 200, url
    return reply.body.decode()


def _read_list(simulated: site.Go4wSite, keyword: str) -> tuple[list[ListPage], list[str]]:
    """Every page of a list, reached from ``/buyers/<keyword>.html`` by each page's next link, and the URLs read."""
    url = f"{HOST}/buyers/{keyword}.html"
    pages, urls = [], []
    while True:
        urls.append(url)
        pages.append(parse_list(_served(simulated, url), fetched_at=NOW))
        if not pages[-1].has_next:
            return pages, urls
        assert pages[-1].next_url and len(pages) < 50, "paging never ends"
        url = pages[-1].next_url


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _as_read(entry: ParsedRfq, lead: Go4wLead) -> None:
    """The entry carries the lead's card as a reader of the page sees it."""
    assert entry.external_id == lead.lead_id
    assert entry.canonical_url == HOST + lead.detail_path
    assert entry.title == " ".join(lead.title.split())
    assert entry.posted_at == datetime.combine(lead.posted_on, time(0), UTC)
    assert entry.posted_text == site.card_date(lead.posted_on)
    assert (entry.country_raw, entry.country_code) == (lead.country, lead.country_code.upper())
    assert entry.quantity_text == lead.quantity_text
    assert entry.description.split("\n") == _lines(lead.text)
    assert entry.attributes["status"] == ("archived" if lead.archived else "verified")
    assert entry.attributes["categories"] == list(lead.categories)
    for key, shown in (
        ("payment_terms", lead.payment_terms),
        ("destination", lead.destination),
        ("looking_for_suppliers_from", lead.suppliers_from),
    ):  # "Not specified" is no value
        assert entry.attributes.get(key) == (None if shown.lower() == "not specified" else shown)
    if "\n" in lead.text and re.search(r"(?m)^\s*Contact\s*:", lead.text):
        assert entry.buyer_name == lead.contact


def test_template_fields_of_a_real_crlf_lead(real_leads) -> None:
    fields = parse_templated_description(_real_text(real_leads, "640170"))  # "Flavor Emulsion", CRLF text
    assert fields == {
        "product_name": "Flavor Emulsion",
        "specifications": "Grade : Food Grade\n"
        "Flavor : Ginger Emulsion, Ginger Ale Belfast, American Ice Cream Soda, Mixed Fruit Flavor, Etc.",
        "quantity_required": "1X20' FCL",
        "shipping_terms": "FOB Or CIF",
        "destination_port": "Colombo, Sri Lanka",
        "payment_terms": "To be discussed with suppliers",
        "looking_for_suppliers_from": "Worldwide mainly India",
        "contact": "Contact-029d9589",
    }


def test_template_fields_of_the_reposted_lead_with_product_name_colon_and_lf() -> None:
    with (CORPUS / "go4w_reposted_lead_2021.csv").open(newline="", encoding="utf-8") as handle:
        text = next(csv.DictReader(handle))["Commodities"]
    assert "Product Name: Coconut Milk" in text and "\r\n" not in text
    fields = parse_templated_description(text)
    assert fields["product_name"] == "Coconut Milk"
    # "Packaging Terms : ..." is part of the specifications, not a field of its own.
    assert fields["specifications"] == "17% Fat\nPvt. Label\nPackaging Terms : 400ml Cans, Tetra Pack"
    assert fields["quantity_required"] == "1 Forty-Foot Container"
    assert fields["shipping_terms"] == "CIF"
    assert fields["destination_port"] == "New York, Miami, Florida, United States"
    assert fields["payment_terms"] == "Wire Transfer"


def test_template_fields_of_a_lead_whose_line_breaks_were_lost(real_leads) -> None:
    text = next(
        r["buyerText"]
        for r in real_leads
        if r["buyerText"].startswith("The buyer would like to receive quotations for -Product Name : Fruits")
    )
    assert "\n" not in text
    fields = parse_templated_description(text)
    assert fields["product_name"] == "Fruits"
    assert fields["quantity_required"] == "1 X 20' FCL"
    assert fields["shipping_terms"] == "FOB"
    assert fields["destination_port"] == "Australia"
    assert fields["looking_for_suppliers_from"] == "Worldwide Mainly India"


def test_template_label_variants(real_leads) -> None:
    # Two real leads for "Egg Products"; this one says "Quantity :", "Shipment Terms" and "Destination Port:".
    egg = next(
        r["buyerText"] for r in real_leads if "Egg Products\r\n" in r["buyerText"] and "\nQuantity :" in r["buyerText"]
    )
    fields = parse_templated_description(egg)
    assert fields["quantity_required"] == "1 Ton (Negotiable)"
    assert fields["shipping_terms"] == "FOB"
    assert fields["destination_port"] == "Australia"
    assert fields["looking_for_suppliers_from"] == "Australia"


def test_every_real_templated_lead_gives_its_product_and_port(real_leads) -> None:
    templated = [r for r in real_leads if re.search(r"Product Name\s*:", r["buyerText"])]
    assert len(templated) > 200
    for record in templated:
        fields = parse_templated_description(record["buyerText"])
        assert fields.get("product_name"), record["buyerText"][:120]
        if re.search(r"Destination Port\s*:", record["buyerText"], re.I):
            assert fields.get("destination_port"), record["buyerText"][:120]


def test_free_text_lead_has_no_template_fields(real_leads) -> None:
    text = _real_text(real_leads, "73674")  # a 2005 free-text request from a company
    fields = parse_templated_description(text)
    assert "product_name" not in fields and "quantity_required" not in fields


def test_card_dates() -> None:
    assert parse_card_date("Nov-15-21") == datetime(2021, 11, 15, tzinfo=UTC)
    assert parse_card_date("Posted On : Jun-17-19") == datetime(2019, 6, 17, tzinfo=UTC)
    assert parse_card_date("Foo-15-21") is None
    assert parse_card_date("Feb-30-21") is None


@pytest.mark.parametrize("keyword", site.WATCHED_KEYWORDS)
def test_every_watched_list_reads_whole_by_its_next_links(simulated: site.Go4wSite, keyword: str) -> None:
    leads = simulated.listing(keyword)
    pages, urls = _read_list(simulated, keyword)
    entries = [entry for page in pages for entry in page.entries]
    assert leads and [e.external_id for e in entries] == [lead.lead_id for lead in leads]
    assert len(pages) <= SPEC.max_pages
    search = not simulated.is_category(keyword)
    for number, (page, url) in enumerate(zip(pages, urls, strict=True), start=1):
        # The paging block links page 1 without pg_buyers: a one-page list gives no page count.
        assert page.total_pages == len(pages)
        if number > 1:  # the head's next link: ?pg_buyers=N, on /find for a keyword that is no category
            expected = f"/find?searchText={keyword}&BuyersOrSuppliers=buyers" if search else f"/buyers/{keyword}.html?"
            assert url.startswith(HOST + expected) and url.endswith(f"pg_buyers={number}")
    for entry, lead in zip(entries, leads, strict=True):
        _as_read(entry, lead)


def test_watched_lists_stay_within_the_page_cap_and_hold_recent_leads(simulated: site.Go4wSite) -> None:
    for keyword in site.WATCHED_KEYWORDS:
        assert len(simulated.cards(keyword)) <= site.PAGE_SIZE * SPEC.max_pages, keyword
    watched = {lead.lead_id for keyword in site.WATCHED_KEYWORDS for lead in simulated.listing(keyword)}
    assert simulated.expected_total() == len(watched)
    for back in range(60):
        day = TODAY - timedelta(days=back)
        on_day = [lead.lead_id for lead in simulated.leads if lead.posted_on == day and lead.lead_id in watched]
        assert simulated.expected(day) == on_day
    assert all(simulated.expected(TODAY - timedelta(days=back)) for back in range(7))
    assert simulated.expected(TODAY + timedelta(days=1)) == []
    # The reposted coconut-milk lead stays on a watched list: one text, twenty ids, the last repost today.
    reposts = [lead for lead in simulated.listing("coconut-milk") if lead.contact == "Contact-e0512b02"]
    assert len(reposts) == 20 and len({lead.text for lead in reposts}) == 1
    assert max(lead.posted_on for lead in reposts) == TODAY


def test_lists_are_not_sorted_by_date(simulated: site.Go4wSite) -> None:
    days = [e.posted_at for e in _read_list(simulated, "food-flavors")[0][0].entries]
    assert days != sorted(days, reverse=True) and days != sorted(days)
    assert SPEC.date_sorted is False


def test_member_cards_are_skipped(simulated: site.Go4wSite) -> None:
    cards = simulated.cards("food-flavors")
    position = next(i for i, card in enumerate(cards) if isinstance(card, Go4wMember))
    member = cards[position]
    assert isinstance(member, Go4wMember) and position % site.PAGE_SIZE == site.MEMBER_POSITION - 1
    page_no = position // site.PAGE_SIZE + 1
    html = simulated.list_page("food-flavors", page_no)
    tree = LexborHTMLParser(html)
    assert len(tree.css("div.search-results")) == site.PAGE_SIZE
    assert tree.css_first(f'a[href="{member.profile_path}"]') is not None
    assert tree.css_first("div.borderGOLD span.star-textG") is not None
    page = parse_list(html, fetched_at=NOW)
    assert len(page.entries) == site.PAGE_SIZE - 1
    assert member.member_id not in {e.external_id for e in page.entries}
    assert all("/buylead/view/" in e.canonical_url for e in page.entries)
    item_list = next(
        data
        for script in tree.css('script[type="application/ld+json"]')
        if (data := json.loads(script.text())).get("@type") == "ItemList"
    )
    kinds = [element["item"]["@type"] for element in item_list["itemListElement"]]
    assert len(kinds) == site.PAGE_SIZE and kinds.count("Organization") == 1 and kinds[position % 20] == "Organization"
    for day in {lead.posted_on for lead in simulated.leads}:
        assert member.member_id not in simulated.expected(day)


def test_fields_as_a_reader_sees_them(simulated: site.Go4wSite) -> None:
    repost = next(lead for lead in simulated.listing("coconut-milk") if lead.posted_on == TODAY)
    page_no = simulated.cards("coconut-milk").index(repost) // site.PAGE_SIZE + 1
    html = simulated.list_page("coconut-milk", page_no)
    entry = next(e for e in parse_list(html, fetched_at=NOW).entries if e.external_id == repost.lead_id)
    assert entry.title == "Coconut Milk"  # without "Wanted :"
    assert entry.canonical_url == f"{HOST}/buylead/view/{repost.lead_id}/wanted-:-coconut-milk.html"
    assert (entry.country_raw, entry.country_code) == ("United States", "US")
    assert entry.quantity_text == "1 Forty-Foot Container"
    assert entry.buyer_name == "Contact-e0512b02"  # the request's last line, the only place the buyer is named
    assert entry.description.startswith("Please quote for the following wholesale product requirement -\n")
    assert "Specifications :\n17% Fat\nPvt. Label\nPackaging Terms : 400ml Cans, Tetra Pack\n" in entry.description
    assert entry.description.endswith("\nContact : Contact-e0512b02")
    assert entry.attributes == {
        "payment_terms": "Wire Transfer",
        "destination": "New York, Miami, Florida, United States",
        "looking_for_suppliers_from": "Worldwide",
        "product_name": "Coconut Milk",
        "specifications": "17% Fat\nPvt. Label\nPackaging Terms : 400ml Cans, Tetra Pack",
        "shipping_terms": "CIF",
        "destination_port": "New York, Miami, Florida, United States",
        "status": "verified",
        "categories": ["Coconut Milk"],
    }
    assert entry.detail_path == ""  # list-only source: no lead page is fetched
    # A real 2019 lead whose quantity is no "<number> <unit>": the card says "Not specified", the reader gets none.
    flavor = next(lead for lead in simulated.leads if lead.lead_id == "640170")
    assert flavor.quantity == ("Not specified", "") and "1X20' FCL" in flavor.text
    record = lead_record(_entry(simulated, "food-flavors", flavor))
    assert record["quantity"] is None and record["buyer"] == "Contact-029d9589" and record["country_code"] == "LK"


def _entry(simulated: site.Go4wSite, keyword: str, lead: Go4wLead) -> ParsedRfq:
    page_no = simulated.cards(keyword).index(lead) // site.PAGE_SIZE + 1
    page = parse_list(simulated.list_page(keyword, page_no), fetched_at=NOW)
    return next(e for e in page.entries if e.external_id == lead.lead_id)


def test_a_card_with_a_city_quirky_text_and_an_archived_lead() -> None:
    lead = Go4wLead(
        lead_id="973113",
        posted_on=date(2022, 8, 26),
        title="Raw Dragon's Blood Resin",
        country="Germany",
        country_code="de",
        categories=("Plants & Plant Extracts", "Resins"),
        text='Product Name: Raw Dragon\'s Blood Resin\nUse : Retail & Distribution Purpose\nNote: "grade A" <only>\n'
        "Quantity Required : 1 Kilogram/Kilograms(sample)\n\nContact :  Rosa Banks",
        archived=True,
        quantity=("1", "Kilogram"),
        payment_terms="L/C",
        destination="Hamburg,, Germany",
        suppliers_from="Worldwide",
        contact="Rosa Banks",
        city="Bochum",
    )
    html = site.render_list([lead], "resins", 1)
    assert "Wanted : Raw Dragon&#039;s Blood Resin" in html and "Retail & Distribution" in html
    assert "Plants &amp; Plant Extracts" + " " * 40 in html  # padded to 64 characters before escaping
    [entry] = parse_list(html, fetched_at=NOW).entries
    _as_read(entry, lead)
    assert entry.title == "Raw Dragon's Blood Resin" and entry.buyer_name == "Rosa Banks"
    assert entry.attributes["city"] == "Bochum" and entry.country_raw == "Germany"
    assert entry.description.split("\n")[1:3] == ["Use : Retail & Distribution Purpose", 'Note: "grade A" <only>']
    assert entry.posted_at == datetime(2022, 8, 26, tzinfo=UTC)
    assert LexborHTMLParser(html).css_first("div.item-verified-div") is None


def test_head_and_paging_block_as_served(simulated: site.Go4wSite) -> None:
    last = -(-len(simulated.cards("food-flavors")) // site.PAGE_SIZE)
    first = LexborHTMLParser(simulated.list_page("food-flavors", 1))
    assert first.css_first('link[rel="canonical"]').attributes["href"] == f"{HOST}/buyers/food-flavors.html"
    assert first.css_first('link[rel="next"]').attributes["href"] == f"{HOST}/buyers/food-flavors.html?pg_buyers=2"
    assert first.css_first('link[rel="prev"]') is None
    nexts = first.css('ul.pagination a[aria-label="Next"]')
    assert [a.attributes["href"] for a in nexts] == [
        "/buyers/food-flavors.html?region=worldwide&pg_buyers=2",
        f"/buyers/food-flavors.html?region=worldwide&pg_buyers={last}",
    ]
    assert [a.text().strip() for a in first.css("ul.pagination li.currentPage a")] == [
        str(n) for n in range(1, last + 1)
    ]
    assert first.css_first("ul.pagination li.active.currentPage a").text().strip() == "1"
    assert "</ul>\n    </diV>" in simulated.list_page("food-flavors", 1)
    # The last page links no next page, in the head or the paging block (inferred: no served last page exists).
    end = parse_list(simulated.list_page("food-flavors", last), fetched_at=NOW)
    assert end.has_next is False and end.next_url is None and end.total_pages == last
    # Both URL forms of a page answer the same.
    assert _served(simulated, f"{HOST}/buyers/food-flavors.html?region=worldwide&pg_buyers=3") == _served(
        simulated, f"{HOST}/buyers/food-flavors.html?pg_buyers=3"
    )


def test_a_keyword_that_is_no_category_is_answered_by_the_site_search(simulated: site.Go4wSite) -> None:
    assert not simulated.is_category("peppermint-oil")
    html = _served(simulated, f"{HOST}/buyers/peppermint-oil.html")
    tree = LexborHTMLParser(html)
    assert tree.css_first('link[rel="canonical"]').attributes["href"] == (
        f"{HOST}/find?searchText=peppermint-oil&BuyersOrSuppliers=buyers"
    )
    assert tree.css_first("#category-breadcrumb") is None
    assert tree.css_first('ul.pagination a[aria-label="Next"]').attributes["href"] == (
        "/find?searchText=peppermint-oil&countryFilter%5B0%5D=&cityFilter%5B0%5D=&pg_buyers=2&pg_suppliers=1"
        "&_format=html&BuyersOrSuppliers=buyers"
    )
    # Loose matching: any word of the keyword; the oils of other records come with the peppermint ones.
    titles = [lead.title for lead in simulated.listing("peppermint-oil")]
    assert any("Peppermint" not in title for title in titles) and any("Peppermint" in title for title in titles)
    assert _served(simulated, f"{HOST}/find?searchText=peppermint-oil&BuyersOrSuppliers=buyers&pg_buyers=2") == (
        _served(simulated, f"{HOST}/buyers/peppermint-oil.html?pg_buyers=2")
    )


def test_a_keyword_with_no_leads_and_a_page_past_the_end_are_empty_results(simulated: site.Go4wSite) -> None:
    beyond = -(-len(simulated.cards("cosmetics")) // site.PAGE_SIZE) + 1
    for url in (
        f"{HOST}/buyers/quantum-widgets.html",
        f"{HOST}/buyers/No-Such-Category?region=worldwide&pg_buyers=1",
        f"{HOST}/buyers/cosmetics.html?pg_buyers={beyond}",
        f"{HOST}/find?searchText=&BuyersOrSuppliers=buyers",
    ):
        html = _served(simulated, url)
        assert "No buyers found" in html, url
        page = parse_list(html, fetched_at=NOW)
        assert page.entries == [] and page.has_next is False, url


def test_the_next_link_is_followed_on_any_base_url(simulated: site.Go4wSite) -> None:
    base = "http://127.0.0.1:9/go4worldbusiness"
    spec = replace(SPEC, base_url=base)
    assert spec.list_url(SPEC.listings[0], 1) == f"{base}/buyers/cosmetics.html"
    listing = "/buyers/food-flavors.html"
    page = parse_list(simulated.list_page("food-flavors", 1), fetched_at=NOW)
    assert page.next_url == f"{HOST}/buyers/food-flavors.html?pg_buyers=2"
    assert next_page_url(spec, listing, base + listing, page, 1, NOW, NOW) == f"{base}{listing}?pg_buyers=2"
    search = parse_list(simulated.list_page("peppermint-oil", 2), fetched_at=NOW)
    assert next_page_url(spec, "/buyers/peppermint-oil.html", "x", search, 2, NOW, NOW) == (
        f"{base}/find?searchText=peppermint-oil&BuyersOrSuppliers=buyers&pg_buyers=3"
    )
    real = replace(SPEC, base_url=SPEC.site_url)
    assert next_page_url(real, listing, HOST + listing, page, 1, NOW, NOW) == f"{HOST}{listing}?pg_buyers=2"
    # No next link (the last page): the listing itself, which the crawl has read already and so stops.
    end = replace(page, next_url=None)
    assert next_page_url(spec, listing, base + listing, end, 1, NOW, NOW) == base + listing


def test_a_redesign_is_read_by_the_fallback(simulated: site.Go4wSite) -> None:
    html = _served(simulated, f"{HOST}/buyers/food-flavors.html", style="drift")
    with pytest.raises(PageParseError) as drift:
        parse_list(html, fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    page = read_list_page(SPEC, html, fetched_at=NOW)
    leads = [card for card in simulated.cards("food-flavors")[: site.PAGE_SIZE] if isinstance(card, Go4wLead)]
    assert page.extraction == "fallback" and page.next_url == f"{HOST}/buyers/food-flavors.html?pg_buyers=2"
    assert [e.external_id for e in page.entries] == [lead.lead_id for lead in leads]
    for entry, lead in zip(page.entries, leads, strict=True):
        assert entry.extraction == "fallback" and entry.title.removeprefix("WANTED : ") == lead.title
        assert entry.posted_at == datetime.combine(lead.posted_on, time(0), UTC)
        assert entry.country_code == lead.country_code.upper()


def test_truncated_and_challenge_pages(simulated: site.Go4wSite) -> None:
    html = simulated.list_page("food-flavors", 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    for page in (
        faults.cloudflare_challenge("/buyers/food-flavors.html").body.decode(),
        faults.awswaf_challenge("/buyers/food-flavors.html").body.decode(),
        faults.login_wall("go4worldbusiness", "/buyers/food-flavors.html").body.decode(),
    ):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"


def test_a_card_without_its_title_is_drift(simulated: site.Go4wSite) -> None:
    html = simulated.list_page("cosmetics", 1).replace("entity-row-title", "row-title", 1)
    with pytest.raises(PageParseError) as error:
        parse_list(html, fetched_at=NOW)
    assert error.value.kind == "layout_drift"


def test_lead_and_member_pages_and_unknown_ids(simulated: site.Go4wSite) -> None:
    lead = simulated.listing("food-flavors")[0]
    reply = simulated.render(lead.detail_path.lstrip("/"), {}, "normal")
    assert reply.status == 200 and f'href="{HOST}{lead.detail_path}"' in reply.body.decode()
    assert _lines(lead.text)[0] in " ".join(reply.body.decode().split())
    member = simulated.members[0]
    assert simulated.render(member.profile_path.lstrip("/"), {}, "normal").status == 200
    for path in ("buylead/view/999999999/wanted-:-nothing.html", "member/view/1/x.html", "buyers", "sitemap.xml"):
        missing = simulated.render(path, {}, "normal")
        assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>"), path


def test_drift_redesigns_every_page(simulated: site.Go4wSite) -> None:
    normal = simulated.render("buyers/cosmetics.html", {}, "normal").body.decode()
    drift = simulated.render("buyers/cosmetics.html", {}, "drift").body.decode()
    assert drift == faults.redesigned(normal) and "search-results" not in drift
