"""Parser for TradeKey buy offers, read from the keyword buyer lists as ``www.tradekey.com`` serves them.

A list is per keyword, ``/<keyword>-buyer/``; page N is ``/<keyword>-buyer/page_no/N``, linked from the page's
"Next >" link. Each offer is a ``div.listing_box`` (ids ``list_1`` ... ``list_25``) inside ``div#first_div``:
``h2.title.search-title > a`` holds the title and the link to ``importer.tradekey.com/buyoffer/<Slug>-<id>.html``
(the attribute ends in a tab); the first ``span`` of ``div.vm.vm2`` is the request text, cut by the site at about 200
characters with "...", digits and contacts masked with ``*``; ``span.location.c_flag.f_<xx>`` names the country
(``f_uk`` for the United Kingdom); "Posted on: 09 Aug 2026" is the day. A buyer's name appears only when the text is
the site's form template ("Name: ... Email: ..."); there is no quantity field. The list runs by offer id, newest id
first, and **not by date** ("Posted on" behaves like a refresh date). The counter "6,466 Buy Offers Page 1 of 239"
gives totals; the page count is not the offer count over 25, so it is read, never computed.

The buy-offer page (``div.bo-buyoffer-box h1``, an attribute list of ``<li><span>Label:</span> <strong>value``,
the request in ``div.bo-desc``) is known only from other people's scrapers: it is read for the whole request text, and
a page that does not look like that is recorded as drift while the list's version of the offer is kept.

Fixtures: served pages saved in August 2026 (``rfq_pipeline_tests/sources/fixtures/tradekey``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.dates import find_day
from rfq_pipeline.sources.html import block_text, checked_tree, clean_text, label_key
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "tradekey"
SITE_URL = "https://www.tradekey.com"
OFFER_HOST = "https://importer.tradekey.com"
FIXTURES = "rfq_pipeline_tests/sources/fixtures/tradekey"

DETAIL_REGEX = r"/buyoffer/(?P<slug>[A-Za-z0-9][A-Za-z0-9-]*?)-(?P<id>\d+)\.html"
_OFFER_PATH = re.compile(DETAIL_REGEX)
_FLAG = re.compile(r"^f_([a-z]{2})$", re.I)
_FLAG_TO_ISO = {"UK": "GB"}  # the site's flag classes use "uk" where ISO 3166 has "GB"
_POSTED = re.compile(r"Posted\s+on\s*:\s*([^\n<]+?\d{4})", re.I)
_COUNTER = re.compile(r"([\d,]+)\s*Buy\s+Offers?\s+Page\s+(\d+)\s+of\s+(\d+)", re.I)
_FORM_NAME = re.compile(r"^\s*Name\s*:\s*(?P<name>.+?)\s+E-?mail\s*:", re.I | re.S)
_PLACEHOLDER_NAMES = {"member", "buyer", "n/a", "na", "-"}
_PREMIUM = re.compile(r"quotations\s+only\s+from\s+premium\s+members|only\s+for\s+premium\s+members", re.I)

# Buy-offer page labels that fill ParsedRfq fields; any other label is kept in ``attributes`` under its snake_case name.
_COUNTRY_LABELS = {"buyer_country", "country"}
_QUANTITY_LABELS = {"quantity_required", "quantity"}
_DATE_LABELS = {"posted_date", "date_posted"}
_COMPANY_LABELS = {"buyer_company", "company_name"}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one keyword buyer list page into its offers in page order and the paging state.

    ``fetched_at`` is unused (the cards print absolute days) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page whose counter says
    "0 Buy Offers" is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buy offer list")
    cards = tree.css("div#first_div div.listing_box")
    total_entries, total_pages = _counter(tree)
    if not cards:
        if total_entries == 0:
            return ListPage(entries=[], has_next=False, total_pages=total_pages, total_entries=0)
        raise PageParseError("layout_drift", "no div#first_div div.listing_box offers and no '0 Buy Offers' counter")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(cards)]
    next_url = _next_url(tree)
    return ListPage(
        entries=entries,
        has_next=next_url is not None,
        total_pages=total_pages,
        next_url=next_url,
        total_entries=total_entries,
    )


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Complete a list entry from its buy-offer page: the whole request text and the listed attributes.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    tree = checked_tree(html, what="buy offer detail")
    heading = tree.css_first("div.bo-buyoffer-box h1")
    if heading is None:
        raise PageParseError("layout_drift", "buy offer page without div.bo-buyoffer-box h1")
    fields = _attribute_list(tree.css_first("div.bo-buyoffer-box"))
    desc_node = tree.css_first("div.bo-desc")
    description = block_text(desc_node, paragraphs=True) if desc_node is not None else ""
    attributes: dict[str, Any] = dict(entry.attributes)
    country = quantity = posted_text = company = ""
    for key, value in fields.items():
        if key in _COUNTRY_LABELS:
            country = value
        elif key in _QUANTITY_LABELS:
            quantity = value
        elif key in _DATE_LABELS:
            posted_text = value
        elif key in _COMPANY_LABELS:
            company = value
        else:
            attributes[key] = value
    found = find_day(posted_text) if entry.posted_at is None and posted_text else None
    return replace(
        entry,
        title=entry.title or clean_text(heading.text()),
        posted_at=entry.posted_at or (found[0] if found else None),
        posted_text=entry.posted_text or posted_text,
        description=description or entry.description,
        quantity_text=quantity or entry.quantity_text,
        country_raw=entry.country_raw or country,
        buyer_company=company or entry.buyer_company,
        attributes=attributes,
    )


def parse_offer_url(url: str) -> tuple[str, str] | None:
    """``(slug, id)`` of a buy-offer URL or path (``/buyoffer/<Slug>-<id>.html``, any host); ``None`` otherwise."""
    match = _OFFER_PATH.search(url)
    return (match.group("slug"), match.group("id")) if match else None


def offer_url(slug: str, offer_id: str) -> str:
    """The URL of a buy offer as the lists link it."""
    return f"{OFFER_HOST}/buyoffer/{slug}-{offer_id}.html"


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    link = card.css_first("h2.search-title a[href]")
    href = (link.attributes.get("href") or "").strip() if link is not None else ""
    match = _OFFER_PATH.search(href)
    if link is None or match is None:
        raise PageParseError("layout_drift", f"offer {index} has no h2.search-title link to /buyoffer/<slug>-<id>.html")
    title = clean_text(link.text())
    if not title:
        raise PageParseError("layout_drift", f"offer {match.group('id')} has an empty title")
    spans = card.css("div.vm.vm2 > span")
    description = block_text(spans[0]) if spans else ""
    notes = " ".join(clean_text(node.text()) for node in card.css("div.vm.vm2 > *")[1:])
    posted = _POSTED.search(card.text(separator="\n") or "")
    posted_text = clean_text(posted.group(1)) if posted else ""
    found = find_day(posted_text)
    code, country = _country(card)
    buyer = _FORM_NAME.search(description)
    name = clean_text(buyer.group("name")) if buyer else ""
    attributes: dict[str, Any] = {"slug": match.group("slug")}
    tags = [clean_text(a.text()) for span in spans[1:2] for a in span.css("a") if clean_text(a.text())]
    if tags:
        attributes["tags"] = tags
    if _PREMIUM.search(notes):
        attributes["quotes_from_premium_members_only"] = True
    if "top_offer" in (card.attributes.get("class") or "").split():
        attributes["top_offer"] = True
    return ParsedRfq(
        source=SOURCE,
        external_id=match.group("id"),
        canonical_url=urljoin(OFFER_HOST + "/", href),
        title=title,
        posted_at=found[0] if found else None,
        posted_text=posted_text,
        description=description,
        buyer_name="" if name.lower() in _PLACEHOLDER_NAMES else name,
        country_raw=country,
        country_code=code,
        detail_path=f"/buyoffer/{match.group('slug')}-{match.group('id')}.html",
        attributes=attributes,
    )


def _country(card: LexborNode) -> tuple[str, str]:
    node = card.css_first("span.location.c_flag") or card.css_first("span.location")
    if node is None:
        return "", ""
    name = clean_text(node.text()) or re.sub(r"^Made\s+in\s+", "", clean_text(node.attributes.get("title")))
    for token in (node.attributes.get("class") or "").split():
        match = _FLAG.match(token)
        if match:
            code = match.group(1).upper()
            return _FLAG_TO_ISO.get(code, code), name
    return "", name


def _counter(tree: LexborHTMLParser) -> tuple[int | None, int | None]:
    node = tree.css_first("div.ls-filter div.item.right")
    match = _COUNTER.search(clean_text(node.text())) if node is not None else None
    if match is None:
        return None, None
    return int(match.group(1).replace(",", "")), int(match.group(3))


def _next_url(tree: LexborHTMLParser) -> str | None:
    for link in tree.css("#paging a[href]"):
        if clean_text(link.text()).lower().startswith("next"):
            href = (link.attributes.get("href") or "").strip()
            if href and not href.startswith("javascript:"):
                return href
    return None


def _attribute_list(box: LexborNode | None) -> dict[str, str]:
    """``ul li > span + strong`` pairs of the offer box as ``{snake_case_label: value}``."""
    fields: dict[str, str] = {}
    if box is None:
        return fields
    for item in box.css("ul li"):
        label, value = item.css_first("span"), item.css_first("strong")
        if label is None or value is None:
            continue
        key = label_key(label.text())
        if key and key not in fields:
            fields[key] = clean_text(value.text())
    return fields


# The keyword lists a beauty-first exporter watches; others by setting RFQ_SOURCE_TRADEKEY_LISTINGS.
KEYWORDS = ("cosmetics", "skin-care", "hair-care", "perfume", "makeup", "shampoo")

SPEC = SourceSpec(
    name="tradekey",
    kind="marketplace",
    site_url=SITE_URL,
    listings=tuple(f"/{keyword}-buyer/" for keyword in KEYWORDS),
    detail_pattern="importer.tradekey.com/buyoffer/<Slug>-<id>.html",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */6 * * *",
    rate_per_minute=10.0,
    burst=3,
    impersonate="chrome",
    max_pages=10,  # 25 offers a page, read to the end or the cap: the list is not sorted by date
    respect_robots=True,
    description="TradeKey buy offers from keyword buyer lists: title, buyer country, posting day and the request "
    "text (the list's cut; the whole text from the offer page).",
    page_size=25,
    evidence="served_page",
    fixtures=(
        f"{FIXTURES}/www.tradekey.com_tea-buyer_page1.excerpt.html",
        f"{FIXTURES}/www.tradekey.com_chili-buyer_page1.excerpt.html",
        f"{FIXTURES}/www.tradekey.com_matcha-buyer_page1.excerpt.html",
    ),
    known_gaps=(
        "no quantity or company field on the list; a buyer name only inside the site's 'Name: ... Email:' template",
        "the list's request text is cut at about 200 characters and masks digits and contacts with '*'",
        "lists run by offer id, not by date, so a crawl reads each list to its end or the page cap",
        "the buy-offer page is known only from other people's scrapers (no served offer page seen)",
        "no served last page or empty result page: their markup is inferred",
    ),
    date_sorted=False,
    detail_regex=DETAIL_REGEX,
    mail_domains=("tradekey.com",),
)
