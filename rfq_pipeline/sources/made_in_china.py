"""Parser for Made-in-China.com sourcing requests (buyers' purchase requests): the list and each request's page.

List cards (``div.sr-list div.sr-item``) link to ``/sourcing-requests/<ID>/<Title-Words>.html`` (the id is a
12-letter code, not a number) and show the purchase quantity with plural units ("20,000 Pieces"), the destination
country and a posting time that is relative for the last week ("Just now", "5 hours ago", "3 days ago") and an ISO
date ("2025-07-01") before that. The request page (``div.sr-detail``) has the full text, trade and payment terms,
the validity date, the buyer's company when the buyer chose to show it, and the exact posting time in China time
("2025-07-13 17:24:05 (GMT+08:00)"), which replaces the list's approximate time.

The selectors were designed for the simulator; they must be checked against the live site before production use.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import block_text, checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "made_in_china"
SITE_URL = "https://www.made-in-china.com"

_REQUEST_PATH = re.compile(r"/sourcing-requests/([A-Za-z0-9]{8,16})/([A-Za-z0-9-]+)\.html")
_RELATIVE = re.compile(r"^(?:(?P<n>\d+)|an?|one)\s+(?P<unit>minute|min|hour|day|week)s?\s+ago$", re.IGNORECASE)
_UNITS = {
    "minute": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_ZONED_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*\(?\s*(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?\s*\)?"
)
_EMPTY_STATE = re.compile(r"\bno\s+sourcing\s+requests?\s+(?:were\s+)?found\b", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"/list-(\d+)\.html")
_LABEL_PREFIX = re.compile(r"^[^:]*:\s*")
_LABEL_KEY = re.compile(r"[^a-z0-9]+")


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one list page into requests (newest first) and the paging state.

    Relative posting times are measured back from ``fetched_at``. Raises :class:`PageParseError` (``truncated``,
    ``challenge``, ``layout_drift``); a page with no cards and the "No sourcing requests found" message is a valid
    empty result.
    """
    fetched_at = _as_utc(fetched_at)
    tree = checked_tree(html, what="sourcing request list")
    items = tree.css("div.sr-list div.sr-item")
    if not items:
        empty = tree.css_first(".sr-empty")
        if empty is not None and _EMPTY_STATE.search(empty.text()):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.sr-list div.sr-item cards and no 'No sourcing requests' message")
    entries = [_item_to_rfq(item, index, fetched_at) for index, item in enumerate(items)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a list entry from its request page: full text, exact posting time, terms, validity and buyer company.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    tree = checked_tree(html, what="sourcing request")
    box = tree.css_first("div.sr-detail")
    title = box.css_first("h1.sr-detail-title") if box is not None else None
    if box is None or title is None:
        raise PageParseError("layout_drift", "request page without div.sr-detail h1.sr-detail-title")
    info: dict[str, str] = {}
    for row in box.css("table.sr-detail-info tr"):
        label, value = row.css_first("th"), row.css_first("td")
        if label is not None and value is not None:
            info.setdefault(_LABEL_KEY.sub("_", clean_text(label.text()).lower()).strip("_"), clean_text(value.text()))
    text_node = box.css_first(".sr-detail-text")
    company_node = box.css_first(".buyer-company")

    attributes: dict[str, Any] = dict(entry.attributes)
    for key in ("trade_terms", "payment_terms", "category"):
        if info.get(key):
            attributes[key] = info[key]
    valid_to = _ISO_DATE.search(info.get("valid_to", ""))
    if valid_to:
        attributes["valid_to"] = valid_to.group(0)
    posted_local = info.get("posted_time", "")
    exact = parse_zoned_time(posted_local)
    if posted_local:
        attributes["posted_local"] = posted_local
    return replace(
        entry,
        title=clean_text(title.text()) or entry.title,
        posted_at=exact or entry.posted_at,
        description=block_text(text_node, paragraphs=True) if text_node is not None else entry.description,
        quantity_text=info.get("purchase_quantity") or entry.quantity_text,
        country_raw=info.get("destination_country") or entry.country_raw,
        buyer_company=clean_text(company_node.text()) if company_node is not None else entry.buyer_company,
        attributes=attributes,
    )


def parse_posted_time(text: str, fetched_at: datetime) -> datetime | None:
    """The list's posting time as UTC: relative texts are measured back from ``fetched_at``, ISO dates are midnight.

    Understands "Just now", "N minute(s)/hour(s)/day(s)/week(s) ago", "an hour ago", "yesterday" and "YYYY-MM-DD";
    returns ``None`` otherwise.
    """
    fetched_at = _as_utc(fetched_at)
    value = clean_text(text)
    lowered = value.lower()
    if lowered in ("just now", "now"):
        return fetched_at
    if lowered == "yesterday":
        return fetched_at - timedelta(days=1)
    relative = _RELATIVE.match(value)
    if relative:
        return fetched_at - int(relative.group("n") or 1) * _UNITS[relative.group("unit").lower()]
    iso = _ISO_DATE.fullmatch(value)
    if iso:
        try:
            day = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return None


def parse_zoned_time(text: str) -> datetime | None:
    """A "2025-07-13 17:24:05 (GMT+08:00)" time as UTC; ``None`` without an explicit offset or on a bad value."""
    match = _ZONED_TIME.search(text)
    if not match:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = timedelta(hours=int(match.group(8)), minutes=int(match.group(9) or 0))
    zone = timezone(offset if match.group(7) == "+" else -offset)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def request_url(request_id: str, slug: str) -> str:
    """The public URL of a sourcing request."""
    return f"{SITE_URL}/sourcing-requests/{request_id}/{slug}.html"


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _value(item: LexborNode, selector: str) -> str:
    """A card attribute without its "Label:" prefix."""
    node = item.css_first(selector)
    return _LABEL_PREFIX.sub("", clean_text(node.text()), count=1) if node is not None else ""


def _item_to_rfq(item: LexborNode, index: int, fetched_at: datetime) -> ParsedRfq:
    link = next(
        (a for a in item.css("h2.sr-item-title a[href]") if _REQUEST_PATH.search(a.attributes.get("href") or "")),
        None,
    )
    if link is None:
        raise PageParseError("layout_drift", f"card {index} has no h2.sr-item-title link to a sourcing request")
    match = _REQUEST_PATH.search(link.attributes.get("href") or "")
    assert match is not None  # the link was chosen by the same pattern
    request_id, slug = match.group(1), match.group(2)
    title = clean_text(link.text())
    time_node = item.css_first(".sr-time")
    if not title or time_node is None:
        raise PageParseError("layout_drift", f"card {request_id} lacks a title or a .sr-time")
    posted_text = clean_text(time_node.text())
    desc = item.css_first(".sr-item-desc")
    return ParsedRfq(
        source=SOURCE,
        external_id=request_id,
        canonical_url=request_url(request_id, slug),
        title=title,
        posted_at=parse_posted_time(posted_text, fetched_at),
        posted_text=posted_text,
        description=clean_text(desc.text()) if desc is not None else "",
        quantity_text=_value(item, ".sr-qty"),
        country_raw=_value(item, ".sr-dest"),
        detail_path=f"/sourcing-requests/{request_id}/{slug}.html",
    )


def _pager_links(tree: LexborHTMLParser) -> list[LexborNode]:
    return tree.css("div.sr-pager a[href]")


def _has_next(tree: LexborHTMLParser) -> bool:
    return any("next" in (a.attributes.get("class") or "").split() for a in _pager_links(tree))


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [int(m.group(1)) for a in _pager_links(tree) if (m := _PAGE_NUMBER.search(a.attributes["href"] or ""))]
    current = tree.css_first("div.sr-pager span.current")
    if current is not None and clean_text(current.text()).isdigit():
        numbers.append(int(clean_text(current.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="made_in_china",
    kind="marketplace",
    site_url=SITE_URL,
    listings=("/sourcing-requests/list-{page}.html",),
    detail_pattern="/sourcing-requests/<12-letter id>/<Title-Words>.html",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */6 * * *",
    rate_per_minute=12.0,
    burst=3,
    impersonate="chrome",
    max_pages=50,
    respect_robots=True,
    description="Made-in-China.com sourcing requests: quantity, destination, terms, validity and the exact post time.",
    page_size=20,
    mail_domains=("made-in-china.com",),
)
