"""The TradeKey parser on simulated keyword lists (built like the served pages) and on the site's other answers.

The served pages themselves are checked field by field in ``test_served_pages.py``; ``test_simulated_markup.py``
compares the simulated cards' skeleton with theirs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selectolax.lexbor import LexborHTMLParser

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import tradekey as site
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.html import clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.reading import read_list_page
from rfq_pipeline.sources.tradekey import KEYWORDS, SPEC, offer_url, parse_detail, parse_list, parse_offer_url

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tradekey"


@pytest.fixture(scope="module")
def simulated() -> site.TradeKeySite:
    built = site.TradeKeySite()
    built.build(TODAY, NOW)
    return built


def _get(simulated: site.TradeKeySite, url: str, style: str = "normal") -> str:
    """The simulator's answer to a site URL (``https://www.tradekey.com/...``), as text."""
    reply = simulated.render(urlsplit(url).path.lstrip("/"), {}, style, NOW)
    assert reply.status == 200, url
    return reply.body.decode()


def _read_whole(simulated: site.TradeKeySite, keyword: str) -> list[ListPage]:
    """Every page of a list, reached by each page's own "Next >" link."""
    url = site.list_url(keyword, 1)
    pages = [parse_list(_get(simulated, url), fetched_at=NOW)]
    while pages[-1].has_next:
        assert pages[-1].next_url is not None and len(pages) <= SPEC.max_pages
        pages.append(parse_list(_get(simulated, pages[-1].next_url), fetched_at=NOW))
    return pages


def _entry(simulated: site.TradeKeySite, offer: site.Offer, keyword: str) -> ParsedRfq:
    listed = simulated.listing(keyword)
    page = listed.index(offer) // site.PAGE_SIZE + 1
    parsed = parse_list(site.render_list(listed, keyword, page) or "", fetched_at=NOW)
    return next(entry for entry in parsed.entries if entry.external_id == offer.offer_id)


def _offer(simulated: site.TradeKeySite, title: str) -> site.Offer:
    return next(offer for offer in simulated.offers() if offer.title == title)


@pytest.mark.parametrize("keyword", site.WATCHED_KEYWORDS)
def test_every_list_reads_whole_in_id_order(simulated: site.TradeKeySite, keyword: str) -> None:
    offers = simulated.listing(keyword)
    pages = _read_whole(simulated, keyword)
    entries = [entry for page in pages for entry in page.entries]
    assert [e.external_id for e in entries] == [offer.offer_id for offer in offers]
    ids = [int(e.external_id) for e in entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert 1 < len(pages) <= SPEC.max_pages
    for number, page in enumerate(pages, start=1):
        assert page.total_pages == len(pages) and page.total_entries == len(offers)
        assert len(page.entries) == min(site.PAGE_SIZE, len(offers) - site.PAGE_SIZE * (number - 1))
        if page.has_next:
            assert page.next_url == f"https://www.tradekey.com/{keyword}-buyer/page_no/{number + 1}"
    for entry, offer in zip(entries, offers, strict=True):
        assert entry.posted_at == datetime.combine(offer.posted_at.date(), datetime.min.time(), UTC)
        assert entry.posted_text == site.day_text(offer.posted_at.date())
        assert entry.country_raw == offer.country
        assert entry.detail_path == offer.path


def test_lists_are_not_sorted_by_date(simulated: site.TradeKeySite) -> None:
    days = [e.posted_at for page in _read_whole(simulated, "cosmetics") for e in page.entries]
    assert days != sorted(days, reverse=True)  # type: ignore[type-var]
    assert any(offer.refreshed for offer in simulated.listing("cosmetics"))
    assert SPEC.date_sorted is False


def test_the_page_is_built_like_the_served_one(simulated: site.TradeKeySite) -> None:
    html = site.render_list(simulated.listing("cosmetics"), "cosmetics", 1) or ""
    tree = LexborHTMLParser(html)
    cards = tree.css("div#J-items-content > div#first_div > div.listing_box")
    assert [card.attributes.get("id") for card in cards] == [f"list_{n}" for n in range(1, 26)]
    assert {card.attributes.get("class") for card in cards} <= {
        "ls-icon ls-item AD group listing_box  ",
        "ls-icon ls-item AD group listing_box top_offer ",
    }
    path = "div#page > div#content > div.ls-wrap > div.ls-content > div.grid.grid-c3-s5e6 > div.col-main > "
    assert len(tree.css(path + "div.main-wrap > div#J-items-content > div#first_div > div.listing_box")) == 25
    assert clean_text(tree.css_first("div.ls-filter div.item.right").text()).startswith(
        f"{len(simulated.listing('cosmetics'))} Buy Offers Page 1 of "
    )
    assert "<span>Next ></span>" in html and "<font class='normal ' dir='ltr'><b>1</b></font>" in html
    assert html.count('.html\t"') == 25  # every title link ends in a tab, as served
    assert '<html lang="en">' in html.split("</head>")[0] and "</body>\n</html><style>" in html  # the served strays
    # Outside the cards the sidebar uses the same flag classes: only span.location inside a card is the country.
    assert len(tree.css("span.c_flag")) > len(tree.css("div.listing_box span.location.c_flag")) == 25


def test_fields_as_a_reader_sees_them(simulated: site.TradeKeySite) -> None:
    offer = _offer(simulated, "Import Inquiry: Snail Mucin Essence for Malaysia")
    entry = _entry(simulated, offer, "cosmetics")
    assert entry.title == offer.title
    assert entry.canonical_url == (
        f"https://importer.tradekey.com/buyoffer/Import-Inquiry-Snail-Mucin-Essence-For-Malaysia-{offer.offer_id}.html"
    )
    # The site's cut: 197 characters and "...", digits masked but the last of each run.
    assert entry.description.startswith("Our buyer runs *4 beauty stores and needs snail mucin essence (*6% filtrate)")
    assert entry.description.endswith("...") and len(entry.description) <= 200
    assert (entry.country_code, entry.country_raw) == ("MY", "Malaysia")
    assert entry.quantity_text == "" and entry.buyer_name == "" and entry.buyer_company == ""
    cream = _offer(simulated, "Looking for supplier who can provide Whitening Cream")
    form = _entry(simulated, cream, "cosmetics")
    assert form.buyer_name == cream.buyer == "Sokha Chan" and form.description.startswith(
        "Name: Sokha Chan Email: *******@"
    )
    member = _entry(simulated, _offer(simulated, "Looking for supplier who can provide Argan Oil Hair Mask"), "shampoo")
    assert member.buyer_name == ""  # "Name: Member" is the form's placeholder
    uk = _entry(simulated, _offer(simulated, "Buying Microneedle Acne Patches for UK"), "skin-care")
    assert (uk.country_code, uk.country_raw) == ("GB", "UK")  # the site's flag class is f_uk
    jars = _offer(simulated, "Sourcing Buy Cosmetic Jars & Bamboo Lids")
    assert _entry(simulated, jars, "cosmetics").title == "Sourcing Buy Cosmetic Jars &amp; Bamboo Lids"  # escaped twice
    assert jars.slug == "Sourcing-Buy-Cosmetic-Jars-amp-amp-Bamboo-Lids"
    kits = _entry(simulated, _offer(simulated, "Buying Grooming Kits for Germany"), "cosmetics")
    assert "our men&#**9;s cosmetics aisle" in kits.description  # an escaped apostrophe, masked like digits


def test_premium_and_top_offer_cards(simulated: site.TradeKeySite) -> None:
    offers = simulated.listing("cosmetics")
    entries = {e.external_id: e for page in _read_whole(simulated, "cosmetics") for e in page.entries}
    assert any(offer.top_offer for offer in offers) and any(not offer.premium_only for offer in offers)
    for offer in offers:
        attributes = entries[offer.offer_id].attributes
        assert attributes.get("top_offer", False) is offer.top_offer
        # A top_offer card says "Instant Order RFQ - Only for Premium Members" instead of the italic note.
        assert attributes.get("quotes_from_premium_members_only", False) is (offer.premium_only or offer.top_offer)
        assert attributes.get("tags", []) == list(offer.tags)


def test_the_offer_page_completes_the_description(simulated: site.TradeKeySite) -> None:
    offer = _offer(simulated, "Import Inquiry: Snail Mucin Essence for Malaysia")
    entry = _entry(simulated, offer, "cosmetics")
    reply = simulated.render(offer.path.lstrip("/"), {}, "normal", NOW)
    assert reply.status == 200
    detailed = parse_detail(reply.body.decode(), entry)
    assert detailed.description.startswith(entry.description.removesuffix("...").rstrip())
    assert detailed.description.endswith("Provide FOB price for ***0 pieces and the production lead time.")
    assert detailed.quantity_text == "3,000 Pieces" and detailed.attributes["category"] == "Health & Beauty"
    assert (detailed.country_raw, detailed.country_code) == ("Malaysia", "MY")
    assert detailed.posted_at == entry.posted_at and detailed.title == entry.title
    paragraphs = parse_detail(site.render_offer(_offer(simulated, "Organic Cosmetics Private Label")), entry)
    assert paragraphs.description.split("\n")[1].startswith("Please send your catalogue")


def test_offer_pages_answer_by_id_and_slug(simulated: site.TradeKeySite) -> None:
    offer = simulated.listing("perfume")[0]
    assert simulated.render(f"buyoffer/Something-Else-{offer.offer_id}.html", {}, "normal", NOW).status == 404
    assert simulated.render("buyoffer/Anything-1.html", {}, "normal", NOW).status == 404
    drifted = simulated.render(offer.path.lstrip("/"), {}, "drift", NOW).body.decode()
    with pytest.raises(PageParseError) as drift:
        parse_detail(drifted, _entry(simulated, offer, "perfume"))
    assert drift.value.kind == "layout_drift"


def test_an_empty_keyword_is_an_empty_result(simulated: site.TradeKeySite) -> None:
    assert simulated.listing("no-such-thing") == []
    page = parse_list(_get(simulated, "https://www.tradekey.com/no-such-thing-buyer/"), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False and page.total_entries == 0
    assert simulated.render("no-such-thing-buyer/page_no/2", {}, "normal", NOW).status == 404
    perfume = simulated.listing("perfume")
    past = site.total_pages(len(perfume)) + 1
    assert simulated.render(f"perfume-buyer/page_no/{past}", {}, "normal", NOW).status == 404
    not_found = simulated.render("no/such/page.html", {}, "normal", NOW)
    assert not_found.status == 404 and not_found.body.decode().rstrip().endswith("</html>")


def test_any_keyword_has_a_list(simulated: site.TradeKeySite) -> None:
    page = parse_list(_get(simulated, "https://www.tradekey.com/tea-buyer/"), fetched_at=NOW)
    assert page.entries and all("tea" in e.title.lower() or "tea" in e.description.lower() for e in page.entries)


def test_a_redesign_is_read_by_the_fallback(simulated: site.TradeKeySite) -> None:
    offers = simulated.listing("cosmetics")
    html = _get(simulated, "https://www.tradekey.com/cosmetics-buyer/", style="drift")
    with pytest.raises(PageParseError) as drift:
        parse_list(html, fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    page = read_list_page(SPEC, html, fetched_at=NOW)
    assert page.extraction == "fallback"
    assert [e.external_id for e in page.entries] == [offer.offer_id for offer in offers[: site.PAGE_SIZE]]
    for entry, offer in zip(page.entries, offers, strict=False):
        assert entry.extraction == "fallback" and entry.title == site.list_title(offer)
        assert entry.canonical_url == offer.url  # the trailing tab stripped
        assert entry.posted_at is not None and entry.posted_at.date() == offer.posted_at.date()


def test_todays_offers_are_on_the_first_page_of_a_watched_list() -> None:
    # After a redesign the fallback extractor reads page 1 only (it does not take "Next >" for a next link), so
    # refreshed offers of today must not sink below page 1, whatever the simulated day.
    for back in range(0, 120, 7):
        today = TODAY - timedelta(days=back)
        built = site.TradeKeySite()
        built.build(today, datetime.combine(today, NOW.timetz()))
        first_pages = {o.offer_id for kw in site.WATCHED_KEYWORDS for o in built.listing(kw)[: site.PAGE_SIZE]}
        assert set(built.expected(today)) <= first_pages, today
        assert all(site.total_pages(len(built.listing(kw))) <= SPEC.max_pages for kw in site.WATCHED_KEYWORDS)


def test_the_first_watched_list_keeps_to_the_served_flags() -> None:
    served = set()
    for fixture in FIXTURES.glob("*.excerpt.html"):
        for card in LexborHTMLParser(fixture.read_text(encoding="utf-8")).css("div.listing_box span.location"):
            served |= {c.removeprefix("f_") for c in (card.attributes.get("class") or "").split() if c.startswith("f_")}
    assert served >= site.SERVED_FLAGS  # the simulator shows only flags the served pages show
    first = site.WATCHED_KEYWORDS[0]
    probes = [site.offer_from(row, "1", NOW, refreshed=False) for row in site.seed()]
    assert {offer.flag for offer in probes if offer.matches(first)} <= site.SERVED_FLAGS
    assert "uk" in {offer.flag for offer in probes}  # other rows show the site's f_uk


def test_truncated_and_challenge_pages(simulated: site.TradeKeySite) -> None:
    for html in (site.render_list(simulated.listing("cosmetics"), "cosmetics", 1), site.render_list([], "x", 1)):
        assert html is not None
        # The stray "</html>" early in the page must not make a cut-off page look whole.
        with pytest.raises(PageParseError) as cut:
            parse_list(faults.truncate(faults.Reply(200, html.encode())).body.decode(), fetched_at=NOW)
        assert cut.value.kind == "truncated"
    offer = simulated.listing("cosmetics")[0]
    entry = _entry(simulated, offer, "cosmetics")
    with pytest.raises(PageParseError) as cut_offer:
        parse_detail(site.render_offer(offer)[:-200], entry)
    assert cut_offer.value.kind == "truncated"
    for reply in (faults.cloudflare_challenge("/cosmetics-buyer/"), faults.awswaf_challenge("/cosmetics-buyer/")):
        with pytest.raises(PageParseError) as listing:
            parse_list(reply.body.decode(), fetched_at=NOW)
        assert listing.value.kind == "challenge"
        with pytest.raises(PageParseError) as detail:
            parse_detail(reply.body.decode(), entry)
        assert detail.value.kind == "challenge"


def test_spec_urls_on_the_simulator_and_the_real_site(simulated: site.TradeKeySite) -> None:
    assert SPEC.listings == tuple(f"/{keyword}-buyer/" for keyword in KEYWORDS)
    assert site.WATCHED_KEYWORDS == KEYWORDS
    spec = replace(SPEC, base_url="http://127.0.0.1:9/tradekey")
    listing = SPEC.listings[0]
    first_url = spec.list_url(listing, 1)
    assert first_url == "http://127.0.0.1:9/tradekey/cosmetics-buyer/"
    page = parse_list(_get(simulated, site.list_url("cosmetics", 1)), fetched_at=NOW)
    assert next_page_url(spec, listing, first_url, page, 1, NOW, NOW) == (
        "http://127.0.0.1:9/tradekey/cosmetics-buyer/page_no/2"
    )
    real = replace(SPEC, base_url=SPEC.site_url)
    assert next_page_url(real, listing, real.list_url(listing, 1), page, 1, NOW, NOW) == (
        "https://www.tradekey.com/cosmetics-buyer/page_no/2"
    )
    offer = simulated.listing("cosmetics")[0]
    assert spec.absolute(_entry(simulated, offer, "cosmetics").detail_path) == (
        f"http://127.0.0.1:9/tradekey{offer.path}"
    )
    robots = site.TradeKeySite.robots_txt.format(p="tradekey")
    disallowed = [line.split(": ", 1)[1] for line in robots.splitlines() if line.startswith("Disallow")]
    assert not any("/tradekey/cosmetics-buyer/page_no/2".startswith(path) for path in disallowed)


def test_ids_grow_with_time_and_today_is_before_now(simulated: site.TradeKeySite) -> None:
    offers = simulated.offers()
    ids = [int(offer.offer_id) for offer in offers]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert min(ids) > 3_800_000 and max(ids) < 3_900_000  # around the served ids (3871699 on 27 Aug 2026)
    fresh = [offer for offer in offers if not offer.refreshed]
    assert [o.posted_at for o in fresh] == sorted((o.posted_at for o in fresh), reverse=True)
    assert all(offer.posted_at < NOW for offer in offers)
    assert max(offer.posted_at for offer in offers).date() == TODAY
    assert simulated.expected(TODAY + timedelta(days=1)) == []
    by_id = {offer.offer_id: offer for offer in offers}
    for back in range(site.DAYS - 4):
        day = TODAY - timedelta(days=back)
        expected = simulated.expected(day)
        assert 5 <= len(expected) <= 20, day
        assert all(by_id[offer_id].posted_at.date() == day for offer_id in expected)
    assert simulated.expected_total() == len(simulated.watched())
    again = site.TradeKeySite()
    again.build(TODAY, NOW)
    assert [(o.offer_id, o.title, o.posted_at) for o in again.offers()] == [
        (o.offer_id, o.title, o.posted_at) for o in offers
    ]


def test_every_real_2019_url_gives_slug_and_id() -> None:
    rows = site.corpus_urls()
    assert len(rows) == 1200 and len({offer_id for _, _, offer_id in rows}) == 1200
    for _, slug, offer_id in rows:
        assert parse_offer_url(offer_url(slug, offer_id)) == (slug, offer_id)
    assert parse_offer_url("/buyoffer/EEC-EPA-Scooter-250T-150T--325000.html") == (
        "EEC-EPA-Scooter-250T-150T-",
        "325000",
    )
    assert parse_offer_url("https://www.tradekey.com/tea-buyer/page_no/2") is None
    assert site.title_from_slug("Men-039-s-Swimwear") == "Men's Swimwear"
    assert site.title_from_slug("Need-Opc-Drum-Quantity-15000-") == "Need Opc Drum (Quantity: 15000)"
