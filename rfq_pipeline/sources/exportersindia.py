"""Parser for ExportersIndia buy leads: the latest-leads listing (``/buy-leads/``) and lead detail pages.

The selectors, URL patterns and labels below were designed for the simulator from the fields such boards show; they
must be checked against the live site before production use. Listing items (``li.bl-item``) have a title link
``/buy-lead-details/<id>/<slug>.htm``, label/value spans ("Quantity :", "Location :", "Posted :") and a description
snippet; the detail page has the requirement table (``table.bld-spec``: order value, purpose, usage, frequency,
preferred supplier location), the full text and the buyer block, whose company reads "Not Disclosed" for buyers
who keep it to themselves.

Posting times are Indian Standard Time (UTC+05:30, no daylight saving) to the minute and in three forms:
"Today, 02:45 PM", "Yesterday, 11:10 AM" and "10 Jul 2025, 09:05 PM". "Today" and "Yesterday" are the IST day
of the moment the page was fetched, so the listing needs the fetch time to be dated.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import block_text, checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "exportersindia"
SITE_URL = "https://www.exportersindia.com"
IST = timezone(timedelta(hours=5, minutes=30), "IST")

_DETAIL_PATH = re.compile(r"/buy-lead-details/(\d+)/([a-z0-9-]+)\.htm")
_POSTED = re.compile(
    r"(?:(?P<relative>today|yesterday)|(?P<day>\d{1,2})[ \-](?P<month>[A-Za-z]{3})[a-z]*[ ,\-]+(?P<year>\d{4}))"
    r"\s*,?\s*(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[AP]\.?M\.?)",
    re.IGNORECASE,
)
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_EMPTY_STATE = re.compile(r"\bno\s+buy\s*leads?\s+(?:were\s+)?found\b", re.IGNORECASE)
_PAGE_PARAM = re.compile(r"[?&]page=(\d+)")
_NOT_SPECIFIED = {"", "not specified", "n/a", "na", "-"}
_NOT_DISCLOSED = {"", "not disclosed", "n/a", "-"}
_LABEL_KEY = re.compile(r"[^a-z0-9]+")


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one buy-leads listing page into its leads (newest first) and the paging state.

    ``fetched_at`` dates the "Today" / "Yesterday" entries. Raises :class:`PageParseError` (``truncated``,
    ``challenge``, ``layout_drift``); a page without leads that says "No Buy Leads Found" is a valid empty result.
    """
    tree = checked_tree(html, what="buy leads list")
    items = tree.css("li.bl-item")
    if not items:
        if _EMPTY_STATE.search(tree.body.text() if tree.body else ""):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no li.bl-item leads and no 'No Buy Leads Found' message")
    entries = [_item_to_rfq(item, index, fetched_at) for index, item in enumerate(items)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a listing entry from its detail page: full text, buyer company and the requirement table.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    tree = checked_tree(html, what="buy lead detail")
    heading = tree.css_first("h1.bld-title")
    table = tree.css_first("table.bld-spec")
    if heading is None or table is None:
        raise PageParseError("layout_drift", "detail page without h1.bld-title or table.bld-spec")
    spec: dict[str, str] = {}
    for row in table.css("tr"):
        label, value = row.css_first("th"), row.css_first("td")
        if label is not None and value is not None:
            spec[_label_key(label.text())] = clean_text(value.text())
    text_node = tree.css_first("div.bld-desc p")
    description = block_text(text_node) if text_node is not None else ""
    company_node = tree.css_first("span.bld-company")
    company = clean_text(company_node.text()) if company_node is not None else ""
    if company.lower() in _NOT_DISCLOSED:
        company = ""
    posted_at, posted_text = entry.posted_at, entry.posted_text
    date_node = tree.css_first("span.bld-date")
    if posted_at is None and date_node is not None:
        # The detail page prints an absolute time; a relative one cannot be dated without the fetch time.
        posted_text = clean_text(date_node.text()).split(":", 1)[-1].strip()
        posted_at = parse_posted(posted_text, None)
    quantity = spec.pop("quantity", "")
    attributes: dict[str, Any] = dict(entry.attributes)
    attributes.update({key: value for key, value in spec.items() if value})
    member_since = re.search(r"Member Since\s*:\s*(\d{4})", tree.body.text() if tree.body else "")
    if member_since:
        attributes["member_since"] = int(member_since.group(1))
    return replace(
        entry,
        title=entry.title or clean_text(heading.text()),
        description=description or entry.description,
        quantity_text=entry.quantity_text or ("" if quantity.lower() in _NOT_SPECIFIED else quantity),
        buyer_company=company or entry.buyer_company,
        posted_at=posted_at,
        posted_text=posted_text,
        attributes=attributes,
    )


def parse_posted(text: str, fetched_at: datetime | None) -> datetime | None:
    """The board's posting time as UTC: "Today, 02:45 PM", "Yesterday, 11:10 AM" or "10 Jul 2025, 09:05 PM" (IST).

    "Today" and "Yesterday" count from the IST day of ``fetched_at`` (``None``: they cannot be dated); returns
    ``None`` for anything else.
    """
    match = _POSTED.search(text)
    if match is None:
        return None
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    if not (1 <= hour <= 12 and minute < 60):
        return None
    hour = hour % 12 + (12 if match.group("ampm").upper().startswith("P") else 0)
    relative = (match.group("relative") or "").lower()
    if relative:
        if fetched_at is None:
            return None
        fetched = fetched_at.replace(tzinfo=UTC) if fetched_at.tzinfo is None else fetched_at
        day = fetched.astimezone(IST).date() - timedelta(days=1 if relative == "yesterday" else 0)
        year, month, day_no = day.year, day.month, day.day
    else:
        month_no = _MONTHS.get(match.group("month").lower()[:3])
        if month_no is None:
            return None
        year, month, day_no = int(match.group("year")), month_no, int(match.group("day"))
    try:
        local = datetime(year, month, day_no, hour, minute, tzinfo=IST)
    except ValueError:
        return None
    return local.astimezone(UTC)


def _label_key(text: str) -> str:
    """ "Approx. Order Value" -> "approx_order_value"."""
    return _LABEL_KEY.sub("_", clean_text(text).lower()).strip("_")


def _labelled_values(item: LexborNode) -> dict[str, str]:
    """The item's "<b>Label :</b> value" spans as {label_key: value}."""
    values: dict[str, str] = {}
    for span in item.css("div.bl-info span"):
        label_node = span.css_first("b")
        if label_node is None:
            continue
        label = clean_text(label_node.text())
        value = clean_text(span.text())
        if value.startswith(label):
            value = value[len(label) :].strip()
        values[_label_key(label.rstrip(" :"))] = value
    return values


def _item_to_rfq(item: LexborNode, index: int, fetched_at: datetime) -> ParsedRfq:
    link = item.css_first("div.bl-title a[href]")
    href = (link.attributes.get("href") or "") if link is not None else ""
    match = _DETAIL_PATH.search(href)
    if link is None or match is None:
        raise PageParseError("layout_drift", f"lead {index} lacks a div.bl-title link to /buy-lead-details/<id>/")
    lead_id, slug = match.group(1), match.group(2)
    detail_path = f"/buy-lead-details/{lead_id}/{slug}.htm"
    values = _labelled_values(item)
    posted_text = values.get("posted", "")
    quantity = values.get("quantity", "")
    snippet = item.css_first("p.bl-desc")
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=SITE_URL + detail_path,
        title=clean_text(link.text()),
        posted_at=parse_posted(posted_text, fetched_at) if posted_text else None,
        posted_text=posted_text,
        description=clean_text(snippet.text()) if snippet is not None else "",
        quantity_text="" if quantity.lower() in _NOT_SPECIFIED else quantity,
        country_raw=values.get("location") or values.get("buyer_location", ""),
        detail_path=detail_path,
    )


def _has_next(tree: LexborHTMLParser) -> bool:
    # The last page shows the "Next" control as a span (class "nxt dis"), never as a link.
    return any("nxt" in (a.attributes.get("class") or "").split() for a in tree.css("div.paging a[href]"))


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [
        int(m.group(1)) for a in tree.css("div.paging a[href]") if (m := _PAGE_PARAM.search(a.attributes["href"] or ""))
    ]
    current = tree.css_first("div.paging span.on")
    if current is not None and clean_text(current.text()).isdigit():
        numbers.append(int(clean_text(current.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="exportersindia",
    kind="marketplace",
    site_url=SITE_URL,
    # All categories: the exporter is multi-industry, and classification decides relevance, not the listing.
    listings=("/buy-leads/?page={page}",),
    detail_pattern="/buy-lead-details/<id>/<slug>.htm",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */6 * * *",
    rate_per_minute=12.0,
    burst=3,
    impersonate="chrome",
    max_pages=40,  # 25 leads a page: about two months of leads
    respect_robots=True,
    description="ExportersIndia buy leads: Indian and overseas buyers' requirements with quantity, location and "
    "order value; the buyer company when disclosed.",
    page_size=25,
    mail_domains=("exportersindia.com",),
)
