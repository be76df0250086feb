"""The TradeKey parsers on the real buy-offer URLs and on list and offer pages the simulator builds from them."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import tradekey as site
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.tradekey import (
    SPEC,
    canonical_offer_url,
    parse_detail,
    parse_list,
    parse_offer_date,
    parse_offer_url,
)

REAL_URLS = Path(rfq_pipeline.devtools.__file__).parent / "corpus" / "tradekey" / "tradekey_buyoffer_urls_2019.txt"
TODAY = date(2025, 7, 13)
FETCHED_AT = datetime(2025, 7, 13, 15, 30, tzinfo=UTC)
PRINTERS = "Printer-Supplies_lid5672"


@pytest.fixture(scope="module")
def real_urls() -> list[str]:
    return [line.strip() for line in REAL_URLS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def offers() -> dict[str, list[site.Offer]]:
    return site.build_offers(TODAY)


def _offer(offers: dict[str, list[site.Offer]], offer_id: str) -> site.Offer:
    return next(offer for listed in offers.values() for offer in listed if offer.offer_id == offer_id)


def _entry(offers: dict[str, list[site.Offer]], offer_id: str):
    offer = _offer(offers, offer_id)
    listed = offers[offer.category]
    page = listed.index(offer) // site.PAGE_SIZE + 1
    parsed = parse_list(site.render_list(listed, offer.category, page), fetched_at=FETCHED_AT)
    return offer, next(e for e in parsed.entries if e.external_id == offer_id)


def test_every_real_url_gives_slug_id_and_canonical_url(real_urls: list[str]) -> None:
    assert len(real_urls) == 1200
    parsed = [parse_offer_url(url) for url in real_urls]
    assert all(p is not None for p in parsed)
    ids = [p[1] for p in parsed if p]
    assert len(set(ids)) == 1200  # reposts have their own ids
    slugs = Counter(p[0] for p in parsed if p)
    assert slugs["Buy-Waste-Paper"] == 9 and len(slugs) == 1140
    for url, (slug, offer_id) in zip(real_urls, parsed, strict=True):  # type: ignore[misc]
        canonical = canonical_offer_url(slug, offer_id)
        assert canonical.startswith("https://www.tradekey.com/buyoffer/")
        assert url.replace("https://importer.tradekey.com", "https://www.tradekey.com") == canonical


def test_offer_url_edge_cases() -> None:
    # A slug ending in "-" (a dropped ")") keeps it; digits inside the slug are not the id.
    assert parse_offer_url("/buyoffer/EEC-EPA-Scooter-250T-150T--325000.html") == (
        "EEC-EPA-Scooter-250T-150T-",
        "325000",
    )
    assert parse_offer_url("/buyoffer/Need-125cc-600cc-Motor-Cycles-323320.html") == (
        "Need-125cc-600cc-Motor-Cycles",
        "323320",
    )
    assert parse_offer_url("/buyoffer/no-id-here.html") is None
    assert parse_offer_url("/Printer-Supplies_lid5672/page_no/2.htm") is None


def test_list_pages_carry_every_real_offer_with_its_real_url(real_urls, offers) -> None:
    real_paths = {re.sub(r"^https://[^/]+", "", url) for url in real_urls}
    seen: list[str] = []
    for category, listed in offers.items():
        total_pages = -(-len(listed) // site.PAGE_SIZE)
        for page in range(1, total_pages + 1):
            parsed = parse_list(site.render_list(listed, category, page), fetched_at=FETCHED_AT)
            assert parsed.total_pages == total_pages
            assert parsed.has_next is (page < total_pages)
            for entry in parsed.entries:
                assert entry.detail_path in real_paths
                assert entry.canonical_url == "https://www.tradekey.com" + entry.detail_path
                assert entry.attributes == {"slug": entry.detail_path.removeprefix("/buyoffer/").rsplit("-", 1)[0]}
                seen.append(entry.external_id)
    assert sorted(seen) == sorted(p[1] for url in real_urls if (p := parse_offer_url(url)))


def test_listing_dates_go_back_newest_first(offers) -> None:
    listed = offers[PRINTERS]
    entries = parse_list(site.render_list(listed, PRINTERS, 1), fetched_at=FETCHED_AT).entries
    assert entries[0].external_id == "2689781"  # the first printer-supplies URL of the file, dated today
    assert entries[0].posted_at == datetime(2025, 7, 13, tzinfo=UTC)
    assert entries[0].posted_text == "Jul 13, 2025"
    dates = [e.posted_at for e in entries]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert min(dates) < datetime(2025, 7, 13, tzinfo=UTC) - timedelta(days=3)  # type: ignore[type-var]


def test_row_fields(offers) -> None:
    offer, entry = _entry(offers, "315452")
    assert entry.title == "Need Mopeds Motorcyles & Leather Womens & Men's Casual Shoes"
    assert entry.country_raw == offer.country and entry.country_raw
    assert entry.description.startswith("Need Mopeds Motorcyles & Leather")
    assert (
        entry.detail_path
        == "/buyoffer/Need-Mopeds-Motorcyles-amp-Leather-Womens-amp-Men-039-s-Casual-Shoes-315452.html"
    )
    assert entry.quantity_text == "" and entry.buyer_company == ""


def test_detail_page_adds_quantity_text_and_category(offers) -> None:
    offer, entry = _entry(offers, "2050913")  # "Want-To-Buy-T654dn-Quantity-15-"
    detailed = parse_detail(site.render_detail(offer), entry)
    assert detailed.title == "Want To Buy T654dn (Quantity: 15)"
    assert detailed.quantity_text == "15"
    assert detailed.country_raw == offer.country
    assert detailed.attributes == {"slug": "Want-To-Buy-T654dn-Quantity-15-", "category": "Printer Supplies"}
    assert detailed.description.split("\n")[0] == "Want To Buy T654dn (Quantity: 15)"
    assert detailed.description.endswith("Quantity required: 15.")
    assert detailed.posted_at == entry.posted_at and detailed.external_id == "2050913"


def test_detail_without_quantity_keeps_the_entry_quantity_empty(offers) -> None:
    offer, entry = _entry(offers, "326247")
    detailed = parse_detail(site.render_detail(offer), entry)
    assert detailed.title == "Hi Quality Bikes Are Required"
    assert detailed.quantity_text == ""
    assert detailed.attributes["category"] == "Motorcycle Bikes"


def test_detail_dates_an_undated_entry(offers) -> None:
    from dataclasses import replace

    offer, entry = _entry(offers, "326247")
    detailed = parse_detail(site.render_detail(offer), replace(entry, posted_at=None, posted_text=""))
    assert detailed.posted_at == datetime(offer.posted_on.year, offer.posted_on.month, offer.posted_on.day, tzinfo=UTC)
    assert detailed.posted_text == site.offer_date(offer.posted_on)


def test_titles_rebuilt_from_slugs() -> None:
    assert site.title_from_slug("Men-039-s-Swimwear") == "Men's Swimwear"
    assert site.title_from_slug("I-039-m-Looking-For-City-Bikes") == "I'm Looking For City Bikes"
    assert (
        site.title_from_slug("Electric-Scooters-amp-amp-Electric-Motorcycles")
        == "Electric Scooters & Electric Motorcycles"
    )
    assert site.title_from_slug("Kit-S-Lipo-Bat-Or-amp-gt-500w") == "Kit S Lipo Bat Or > 500w"
    assert site.title_from_slug("Wanted-quot-BLANK-quot-Jerseys-Only-") == 'Wanted "BLANK" Jerseys Only'
    assert site.title_from_slug("Need-Opc-Drum-Quantity-15000-") == "Need Opc Drum (Quantity: 15000)"


def test_offer_dates() -> None:
    assert parse_offer_date("Jul 13, 2025") == datetime(2025, 7, 13, tzinfo=UTC)
    assert parse_offer_date("Posted: July 4 2025") == datetime(2025, 7, 4, tzinfo=UTC)
    assert parse_offer_date("Foo 13, 2025") is None
    assert parse_offer_date("Feb 30, 2025") is None
    assert parse_offer_date("13/07/2025") is None


def test_page_past_the_end_is_an_empty_result(offers) -> None:
    listed = offers[PRINTERS]
    page = parse_list(site.render_list(listed, PRINTERS, 13), fetched_at=FETCHED_AT)
    assert page.entries == [] and page.has_next is False and page.total_pages == 12


def test_drift_and_truncation(offers) -> None:
    listed = offers[PRINTERS]
    with pytest.raises(PageParseError) as drift:
        parse_list(site.render_list_drift(listed, PRINTERS, 1), fetched_at=FETCHED_AT)
    assert drift.value.kind == "layout_drift"
    html = site.render_list(listed, PRINTERS, 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=FETCHED_AT)
    assert cut.value.kind == "truncated"
    with pytest.raises(PageParseError) as no_link:
        parse_list(html.replace("/buyoffer/", "/offer/", 1), fetched_at=FETCHED_AT)
    assert no_link.value.kind == "layout_drift"
    # The site's 404 page is a normal page with neither rows nor the empty-result message.
    with pytest.raises(PageParseError) as not_found:
        parse_list(site.render_not_found("/Nothing_lid1.htm"), fetched_at=FETCHED_AT)
    assert not_found.value.kind == "layout_drift"


def test_detail_drift_and_truncation(offers) -> None:
    offer, entry = _entry(offers, "326247")
    with pytest.raises(PageParseError) as drift:
        parse_detail(site.render_detail_drift(offer), entry)
    assert drift.value.kind == "layout_drift"
    html = site.render_detail(offer)
    with pytest.raises(PageParseError) as cut:
        parse_detail(html[: int(len(html) * 0.6)], entry)
    assert cut.value.kind == "truncated"


@pytest.mark.parametrize(
    "reply",
    [faults.cloudflare_challenge("/x"), faults.awswaf_challenge("/x"), faults.login_wall("tradekey", "/x")],
    ids=["cloudflare", "aws_waf", "login"],
)
def test_challenge_pages(reply: faults.Reply, offers) -> None:
    with pytest.raises(PageParseError) as listing:
        parse_list(reply.body.decode(), fetched_at=FETCHED_AT)
    assert listing.value.kind == "challenge"
    _, entry = _entry(offers, "326247")
    with pytest.raises(PageParseError) as detail:
        parse_detail(reply.body.decode(), entry)
    assert detail.value.kind == "challenge"


def test_spec_listings_are_the_simulated_categories() -> None:
    assert SPEC.name == "tradekey" and SPEC.parse_detail is parse_detail
    paths = {re.match(r"/(.+?)/page_no/\{page\}\.htm$", listing).group(1) for listing in SPEC.listings}  # type: ignore[union-attr]
    assert paths == set(site.CATEGORIES)
    assert SPEC.page_size == site.PAGE_SIZE
