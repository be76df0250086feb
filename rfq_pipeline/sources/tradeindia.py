"""Parser for TradeIndia buy requirements (``/buyerRequirements.html``, paged by offset with ``?start=N``).

Each requirement is a ``div.req-card``: a title link to ``/buy-leads/<title-words>-<id>.html``, a "Posted On :"
time in Indian Standard Time written ``dd-mm-yyyy hh:mm AM/PM`` (converted to UTC here, so a requirement posted
early in the Indian morning belongs to the previous UTC day), and a ``ul.req-details`` list of labelled values
(Quantity, Buyer Location as "City, State, Country", Requirement Frequency, Usage, Category), then a description and
the buyer's name. The buy-lead pages only repeat this behind a sign-in, so the list is all that is read.

The selectors were designed for the simulator; they must be checked against the live site before production use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "tradeindia"
SITE_URL = "https://www.tradeindia.com"
IST = timezone(timedelta(hours=5, minutes=30), "IST")

_LEAD_PATH = re.compile(r"/buy-leads/([a-z0-9]+(?:-[a-z0-9]+)*)-(\d+)\.html")
_POSTED = re.compile(r"\b(\d{1,2})-(\d{1,2})-(\d{4})(?:\s+(\d{1,2}):(\d{2})\s*([AaPp])\.?[Mm]\.?)?")
_EMPTY_STATE = re.compile(r"\bno\s+buy\s+requirements?\s+(?:were\s+)?found\b", re.IGNORECASE)
_LABEL_KEY = re.compile(r"[^a-z0-9]+")
_BUYER_PREFIX = re.compile(r"^\s*buyer\s*:?\s*", re.IGNORECASE)
_POSTED_PREFIX = re.compile(r"^\s*posted\s+on\s*:?\s*", re.IGNORECASE)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of buy requirements into entries (newest first) and the paging state.

    ``fetched_at`` is unused (times are absolute) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page without cards and with the
    site's "No Buy Requirements Found" message is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buy requirement list")
    cards = tree.css("div.req-card")
    if not cards:
        empty = tree.css_first(".no-result")
        if empty is not None and _EMPTY_STATE.search(empty.text()):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.req-card cards and no 'No Buy Requirements Found' message")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(cards)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_posted_on(text: str) -> datetime | None:
    """A "13-07-2025 02:45 PM" Indian Standard Time (or a bare "13-07-2025" date, taken as IST midnight) as UTC."""
    match = _POSTED.search(text)
    if not match:
        return None
    day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    hour = minute = 0
    if match.group(4):
        hour, minute = int(match.group(4)), int(match.group(5))
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match.group(6).lower() == "p" else 0)
    try:
        return datetime(year, month, day, hour, minute, tzinfo=IST).astimezone(UTC)
    except ValueError:
        return None


def lead_url(slug: str, lead_id: str) -> str:
    """The public URL of a buy lead."""
    return f"{SITE_URL}/buy-leads/{slug}-{lead_id}.html"


def _details(card: LexborNode) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in card.css("ul.req-details li"):
        label, value = item.css_first("label"), item.css_first("span")
        if label is not None and value is not None:
            key = _LABEL_KEY.sub("_", clean_text(label.text()).lower()).strip("_")
            values.setdefault(key, clean_text(value.text()))
    return values


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    link = next(
        (a for a in card.css("h2.req-title a[href]") if _LEAD_PATH.search(a.attributes.get("href") or "")), None
    )
    if link is None:
        raise PageParseError("layout_drift", f"card {index} has no h2.req-title link to /buy-leads/<title>-<id>.html")
    match = _LEAD_PATH.search(link.attributes.get("href") or "")
    assert match is not None  # the link was chosen by the same pattern
    slug, lead_id = match.group(1), match.group(2)
    title = clean_text(link.text())
    posted_node = card.css_first(".req-posted")
    if not title or posted_node is None:
        raise PageParseError("layout_drift", f"card {lead_id} lacks a title or a .req-posted time")
    posted_text = _POSTED_PREFIX.sub("", clean_text(posted_node.text()))
    details = _details(card)
    location = details.pop("buyer_location", "")
    parts = [part.strip() for part in location.split(",") if part.strip()]
    attributes: dict[str, Any] = {"location": location} if location else {}
    if len(parts) >= 2:
        attributes["city"] = parts[0]
    if len(parts) >= 3:
        attributes["state"] = parts[1]
    quantity = details.pop("quantity", "")
    attributes.update({key: value for key, value in details.items() if value})
    desc = card.css_first("p.req-desc")
    buyer = card.css_first(".req-buyer")
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=lead_url(slug, lead_id),
        title=title,
        posted_at=parse_posted_on(posted_text),
        posted_text=posted_text,
        description=clean_text(desc.text()) if desc is not None else "",
        quantity_text=quantity,
        buyer_company=_BUYER_PREFIX.sub("", clean_text(buyer.text())) if buyer is not None else "",
        country_raw=parts[-1] if parts else "",
        attributes=attributes,
    )


def _has_next(tree: LexborHTMLParser) -> bool:
    return any("next" in (a.attributes.get("rel") or "").split() for a in tree.css("ul.pagination a[href]"))


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [int(text) for node in tree.css("ul.pagination li") if (text := clean_text(node.text())).isdigit()]
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="tradeindia",
    kind="marketplace",
    site_url=SITE_URL,
    listings=("/buyerRequirements.html?start={offset}",),
    detail_pattern="/buy-leads/<title-words>-<id>.html",
    parse_list=parse_list,
    parse_detail=None,  # buy-lead pages repeat the card behind a sign-in
    cadence="0 */6 * * *",
    rate_per_minute=15.0,
    burst=4,
    impersonate="chrome",
    max_pages=60,
    respect_robots=True,
    description="TradeIndia buy requirements: quantity, buyer location and name, frequency and usage, IST post times.",
    page_size=25,
    mail_domains=("tradeindia.com",),
)
