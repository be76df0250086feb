"""Parser for TradeKey buy offers: category listings on ``importer.tradekey.com`` and buy-offer detail pages.

Known from public scrapers of the site: listings are ``/<Category>_lid<N>.htm`` with further pages at
``/<Category>_lid<N>/page_no/<k>.htm``; buy offers are ``/buyoffer/<Slug>-<id>.html`` (the slug is the title with
punctuation turned into hyphens, so one request reposted keeps its slug under a new id); a detail page has its title
in ``div.bo-buyoffer-box h1``, an attribute list of ``<li><span>Label:</span> <strong>value</strong></li>`` items and
the request text in ``div.bo-desc``.

The listing rows (``div.bo-list-row`` with title link, ``span.bo-list-country``, ``span.bo-list-date`` in the
"Jul 13, 2025" form and ``p.bo-list-desc``), the pagination and the empty-category message (``.bo-list-empty``)
were designed for the simulator, as were the attribute labels; they must be checked against the live site before
production use.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import block_text, checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "tradekey"
SITE_URL = "https://importer.tradekey.com"
# Buy offers are reachable under both hosts with the same path; the www host is the one to cite and dedupe on.
CANONICAL_BASE = "https://www.tradekey.com"

_OFFER_PATH = re.compile(r"/buyoffer/([A-Za-z0-9][A-Za-z0-9-]*?)-(\d+)\.html")
_DATE = re.compile(r"\b([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})\b")
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_EMPTY_STATE = re.compile(r"\bno\s+buy\s*offers?\s+(?:were\s+)?found\b", re.IGNORECASE)
_PAGE_NO = re.compile(r"/page_no/(\d+)\.htm")
_LABEL_KEY = re.compile(r"[^a-z0-9]+")

# Detail-page labels that fill ParsedRfq fields; any other label is kept in ``attributes`` under its snake_case name.
_COUNTRY_LABELS = {"buyer_country", "country"}
_QUANTITY_LABELS = {"quantity_required", "quantity"}
_DATE_LABELS = {"posted_date", "date_posted"}
_COMPANY_LABELS = {"buyer_company", "company_name"}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one category listing page into its buy offers (newest first) and the paging state.

    ``fetched_at`` is unused (rows carry absolute dates) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page with no rows and the site's
    "No buy offers found" message is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buy offer list")
    rows = tree.css("div.bo-list-row")
    if not rows:
        empty = tree.css_first(".bo-list-empty")
        if empty is not None and _EMPTY_STATE.search(empty.text()):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.bo-list-row rows and no 'No buy offers found' message")
    entries = [_row_to_rfq(row, index) for index, row in enumerate(rows)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a listing entry from its buy-offer page: full request text, quantity, country and listed attributes.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    tree = checked_tree(html, what="buy offer detail")
    heading = tree.css_first("div.bo-buyoffer-box h1")
    if heading is None:
        raise PageParseError("layout_drift", "detail page without div.bo-buyoffer-box h1")
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
    posted_at = entry.posted_at
    if posted_at is None and posted_text:
        posted_at = parse_offer_date(posted_text)
    return replace(
        entry,
        title=clean_text(heading.text()) or entry.title,
        posted_at=posted_at,
        posted_text=entry.posted_text or posted_text,
        description=description or entry.description,
        quantity_text=quantity or entry.quantity_text,
        country_raw=country or entry.country_raw,
        buyer_company=company or entry.buyer_company,
        attributes=attributes,
    )


def parse_offer_date(text: str) -> datetime | None:
    """The site's "Jul 13, 2025" date (also "July 13 2025") as midnight UTC; ``None`` when there is none."""
    match = _DATE.search(text)
    if not match or match.group(1).lower() not in _MONTHS:
        return None
    try:
        return datetime(int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2)), tzinfo=UTC)
    except ValueError:
        return None


def parse_offer_url(url: str) -> tuple[str, str] | None:
    """``(slug, id)`` of a buy-offer URL or path (``/buyoffer/<Slug>-<id>.html``, any host); ``None`` otherwise."""
    match = _OFFER_PATH.search(url)
    return (match.group(1), match.group(2)) if match else None


def canonical_offer_url(slug: str, offer_id: str) -> str:
    """The public URL of a buy offer."""
    return f"{CANONICAL_BASE}/buyoffer/{slug}-{offer_id}.html"


def _attribute_list(box: LexborNode | None) -> dict[str, str]:
    """``ul li > span + strong`` pairs of the offer box as ``{snake_case_label: value}``."""
    fields: dict[str, str] = {}
    if box is None:
        return fields
    for item in box.css("ul li"):
        label, value = item.css_first("span"), item.css_first("strong")
        if label is None or value is None:
            continue
        key = _LABEL_KEY.sub("_", clean_text(label.text()).lower()).strip("_")
        if key and key not in fields:
            fields[key] = clean_text(value.text())
    return fields


def _row_to_rfq(row: LexborNode, index: int) -> ParsedRfq:
    link = next((a for a in row.css("a[href]") if _OFFER_PATH.search(a.attributes.get("href") or "")), None)
    if link is None:
        raise PageParseError("layout_drift", f"row {index} has no /buyoffer/<slug>-<id>.html link")
    parsed = parse_offer_url(link.attributes.get("href") or "")
    assert parsed is not None  # the link was chosen by the same pattern
    slug, offer_id = parsed
    title = clean_text(link.text()) or clean_text(link.attributes.get("title"))
    if not title:
        raise PageParseError("layout_drift", f"row {index} ({offer_id}) has an empty title")
    date_node = row.css_first(".bo-list-date")
    date_text = clean_text(date_node.text()) if date_node is not None else ""
    country_node = row.css_first(".bo-list-country")
    desc_node = row.css_first(".bo-list-desc")
    return ParsedRfq(
        source=SOURCE,
        external_id=offer_id,
        canonical_url=canonical_offer_url(slug, offer_id),
        title=title,
        posted_at=parse_offer_date(date_text),
        posted_text=date_text,
        description=clean_text(desc_node.text()) if desc_node is not None else "",
        country_raw=clean_text(country_node.text()) if country_node is not None else "",
        detail_path=f"/buyoffer/{slug}-{offer_id}.html",
        # Reposts keep the slug under a new id: the slug is the cheapest repost key for de-duplication.
        attributes={"slug": slug},
    )


def _paging_links(tree: LexborHTMLParser) -> list[LexborNode]:
    return tree.css("div.paging a[href]")


def _has_next(tree: LexborHTMLParser) -> bool:
    return any("next" in (a.attributes.get("class") or "").split() for a in _paging_links(tree))


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [int(m.group(1)) for a in _paging_links(tree) if (m := _PAGE_NO.search(a.attributes.get("href") or ""))]
    current = tree.css_first("div.paging span.current")
    if current is not None and clean_text(current.text()).isdigit():
        numbers.append(int(clean_text(current.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="tradekey",
    kind="marketplace",
    site_url=SITE_URL,
    # Category listings (real category ids); which categories to watch is a setting (RFQ_SOURCE_TRADEKEY_LISTINGS),
    # e.g. Skin-Care-Products_lid2375, Hair-Care-Products_lid2199, Makeups_lid2274, Fragrance-Deodorant_lid2188.
    listings=tuple(
        f"/{category}/page_no/{{page}}.htm"
        for category in (
            "Motorcycle-Bikes_lid6791",
            "Recycling_lid3493",
            "Printer-Supplies_lid5672",
            "Sportswear_lid1726",
            "Laptops-Notebooks_lid2882",
        )
    ),
    detail_pattern="/buyoffer/<Slug>-<id>.html",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */6 * * *",
    rate_per_minute=10.0,
    burst=3,
    impersonate="chrome",
    max_pages=30,
    respect_robots=True,
    description="TradeKey buy offers by category: title, buyer country and date; quantity and full text on the offer.",
    page_size=20,
    mail_domains=("tradekey.com",),
)
