"""Parser for Global Sources "Sourcing Requests": the request listing (``/sourcing-requests/``) and request pages.

The selectors, URL patterns and labels below were designed for the simulator from the fields such sourcing boards
show; they must be checked against the live site before production use. Listing items (``li.rfq-item``) have a
title link ``/rfq/<Slug>-<id>r.htm`` (the id followed by the request type letter, like the site's ``...p.htm``
product URLs), a ``dl`` of facts read by label (order quantity, destination with a ``flag-<iso2>`` flag, buyer type,
posting time), a snippet and the quotation count. The request page adds the specification table (target price,
terms, certifications, samples), the full text and the buyer panel, where many buyers appear only as
"Verified buyer".

Times are Hong Kong time (UTC+08:00). The listing's ``<time datetime="2025-07-13T14:35:00+08:00">`` carries the exact
instant while its text shows only the Hong Kong date ("13 Jul 2025"); the request page prints "2025-07-13 14:35 HKT".
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from selectolax.lexbor import LexborNode

from rfq_pipeline.sources.html import checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "globalsources"
SITE_URL = "https://www.globalsources.com"
HKT = timezone(timedelta(hours=8), "HKT")

_DETAIL_PATH = re.compile(r"/rfq/([A-Za-z0-9][A-Za-z0-9-]*?)-(\d{6,})r\.htm")
_LIST_DATE = re.compile(r"\b(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})\b")
_HK_TIMESTAMP = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\s+(\d{1,2}):(\d{2})\s*(?:HKT|\(GMT\+8\)|GMT\+0?8(?::00)?)")
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_EMPTY_STATE = re.compile(r"\bno\s+sourcing\s+requests?\s+(?:were\s+)?found\b", re.IGNORECASE)
_QUOTES = re.compile(r"(\d+)\s*(?:/|of)\s*(\d+)")
_FLAG = re.compile(r"\bflag-([a-z]{2})\b")
_LABEL_KEY = re.compile(r"[^a-z0-9]+")


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of sourcing requests into its requests (newest first) and the paging state.

    ``fetched_at`` is unused (the listing carries absolute times) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page without requests that says
    "No sourcing requests found" is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="sourcing request list")
    items = tree.css("li.rfq-item")
    pagination = tree.css_first("nav.gs-pagination")
    total_pages = _int((pagination.attributes.get("data-total-pages") or "") if pagination is not None else "")
    if not items:
        if _EMPTY_STATE.search(tree.body.text() if tree.body else ""):
            return ListPage(entries=[], has_next=False, total_pages=total_pages)
        raise PageParseError("layout_drift", "no li.rfq-item requests and no 'No sourcing requests found' message")
    entries = [_item_to_rfq(item, index) for index, item in enumerate(items)]
    has_next = pagination is not None and pagination.css_first("a.gs-pagination__next[href]") is not None
    return ListPage(entries=entries, has_next=has_next, total_pages=total_pages)


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a listing entry from the request page: full text, buyer company and the specification table.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    tree = checked_tree(html, what="sourcing request")
    heading = tree.css_first("h1.gs-rfq-detail__title")
    table = tree.css_first("section.gs-rfq-detail__specs table")
    if heading is None or table is None:
        raise PageParseError("layout_drift", "request page without h1.gs-rfq-detail__title or its specification table")
    specs: dict[str, str] = {}
    for row in table.css("tr"):
        label, value = row.css_first("th"), row.css_first("td")
        if label is not None and value is not None:
            specs[_label_key(label.text())] = clean_text(value.text())
    paragraphs = [clean_text(p.text()) for p in tree.css("div.gs-rfq-detail__content p")]
    description = "\n".join(p for p in paragraphs if p)
    name_node = tree.css_first("p.gs-buyer__name")
    company = ""
    # Buyers who hide their name show as "Verified buyer", which is no company.
    if name_node is not None and "gs-buyer__name--hidden" not in (name_node.attributes.get("class") or "").split():
        company = clean_text(name_node.text())

    attributes: dict[str, Any] = dict(entry.attributes)
    for key in ("target_price", "shipping_terms", "payment_terms"):
        if specs.get(key):
            attributes[key] = specs[key]
    if specs.get("certifications"):
        attributes["certifications"] = [c.strip() for c in specs["certifications"].split(",") if c.strip()]
    if specs.get("sample_required"):
        attributes["sample_required"] = specs["sample_required"].lower() == "yes"
    for fact in tree.css("ul.gs-buyer__facts li"):
        label_node = fact.css_first("span")
        if label_node is None:
            continue
        label = clean_text(label_node.text())
        value = clean_text(fact.text())[len(label) :].strip()
        key = _label_key(label)
        if value and key not in ("country_region",):  # the country is already the entry's country_raw
            attributes[f"buyer_{key}" if not key.startswith("buyer") else key] = value
    status = tree.css_first("div.gs-rfq-detail__status .gs-badge")
    if status is not None:
        attributes["status"] = clean_text(status.text())
    expires = tree.css_first(".gs-rfq-detail__expires")
    if expires is not None and (valid := parse_list_date(expires.text())) is not None:
        attributes["valid_until"] = valid.date().isoformat()

    posted_at, posted_text = entry.posted_at, entry.posted_text
    if posted_at is None and specs.get("posted"):
        posted_text = specs["posted"]
        posted_at = parse_hk_timestamp(posted_text)
    return replace(
        entry,
        title=entry.title or clean_text(heading.text()),
        description=description or entry.description,
        quantity_text=entry.quantity_text or specs.get("order_quantity", ""),
        buyer_company=company or entry.buyer_company,
        country_raw=entry.country_raw or specs.get("destination", ""),
        posted_at=posted_at,
        posted_text=posted_text,
        attributes=attributes,
    )


def parse_hk_timestamp(text: str) -> datetime | None:
    """The request page's "2025-07-13 14:35 HKT" (also "(GMT+8)") as a UTC datetime; ``None`` if not found."""
    match = _HK_TIMESTAMP.search(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=HKT).astimezone(UTC)
    except ValueError:
        return None


def parse_list_date(text: str) -> datetime | None:
    """A visible "13 Jul 2025" date as that calendar day at midnight UTC (day precision); ``None`` if not found.

    Only a fallback for items without a machine-readable time: the date is Hong Kong's, so an item posted late in
    the UTC day can carry the next day's date.
    """
    match = _LIST_DATE.search(text)
    if match is None or match.group(2).lower() not in _MONTHS:
        return None
    try:
        return datetime(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)), tzinfo=UTC)
    except ValueError:
        return None


def _parse_time_element(node: LexborNode | None) -> tuple[datetime | None, str]:
    if node is None:
        return None, ""
    time_node = node.css_first("time")
    text = clean_text(node.text())
    stamp = (time_node.attributes.get("datetime") or "") if time_node is not None else ""
    if stamp:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            # A stamp without an offset is Hong Kong time, like everything else the site prints.
            moment = moment.replace(tzinfo=HKT) if moment.tzinfo is None else moment
            return moment.astimezone(UTC), text
    return parse_list_date(text), text


def _label_key(text: str) -> str:
    return _LABEL_KEY.sub("_", clean_text(text).lower()).strip("_")


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _facts(item: LexborNode) -> dict[str, LexborNode]:
    """The item's ``<dt>label</dt><dd>value</dd>`` pairs, keyed by label."""
    facts: dict[str, LexborNode] = {}
    label = ""
    for node in item.css("dl.rfq-item__facts > *"):
        if node.tag == "dt":
            label = _label_key(node.text())
        elif node.tag == "dd" and label:
            facts[label] = node
            label = ""
    return facts


def _item_to_rfq(item: LexborNode, index: int) -> ParsedRfq:
    link = item.css_first("a.rfq-item__title[href]")
    match = _DETAIL_PATH.search((link.attributes.get("href") or "") if link is not None else "")
    if link is None or match is None:
        raise PageParseError(
            "layout_drift", f"request {index} lacks an a.rfq-item__title link to /rfq/<slug>-<id>r.htm"
        )
    slug, rfq_id = match.group(1), match.group(2)
    detail_path = f"/rfq/{slug}-{rfq_id}r.htm"
    facts = _facts(item)
    posted_at, posted_text = _parse_time_element(facts.get("posted"))
    destination = facts.get("destination")
    flag = destination.css_first("span.flag") if destination is not None else None
    flag_match = _FLAG.search((flag.attributes.get("class") or "") if flag is not None else "")
    attributes: dict[str, Any] = {}
    category = item.css_first("div.rfq-item__category")
    if category is not None:
        attributes["category"] = clean_text(category.text())
    if facts.get("buyer_type") is not None:
        attributes["buyer_type"] = clean_text(facts["buyer_type"].text())
    quotes = item.css_first("div.rfq-item__quotes")
    quotes_match = _QUOTES.search(quotes.text()) if quotes is not None else None
    if quotes_match:
        attributes["quotes_received"] = int(quotes_match.group(1))
        attributes["quotes_max"] = int(quotes_match.group(2))
    snippet = item.css_first("p.rfq-item__desc")
    quantity = facts.get("order_quantity")
    return ParsedRfq(
        source=SOURCE,
        external_id=rfq_id,
        canonical_url=SITE_URL + detail_path,
        title=clean_text(link.text()),
        posted_at=posted_at,
        posted_text=posted_text,
        description=clean_text(snippet.text()).removesuffix("…").rstrip() if snippet is not None else "",
        quantity_text=clean_text(quantity.text()) if quantity is not None else "",
        country_raw=clean_text(destination.text()) if destination is not None else "",
        country_code=flag_match.group(1).upper() if flag_match else "",
        detail_path=detail_path,
        attributes=attributes,
    )


SPEC = SourceSpec(
    name="globalsources",
    kind="marketplace",
    site_url=SITE_URL,
    listings=("/sourcing-requests/?pageNum={page}",),
    detail_pattern="/rfq/<Slug>-<id>r.htm",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */12 * * *",
    rate_per_minute=10.0,
    burst=2,
    impersonate="chrome",
    max_pages=30,  # 20 requests a page: well over a month of requests
    respect_robots=True,
    description="Global Sources sourcing requests: overseas buyers' RFQs with quantity, destination, target price, "
    "certifications and terms; the buyer company when the buyer shows it.",
    page_size=20,
)
