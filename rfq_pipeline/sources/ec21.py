"""Parser for EC21 buying leads ("Offer to Buy"), read from the newest-first buy-lead list.

Each lead is an ``li.buylead_item`` of ``ul.buylead_list``: a subject link to ``/buy-lead/<Title_Words>--<id>.html``
and a ``table.bl_spec`` of labelled rows (Quantity with thousands separators, Buyer, Country with a flag image whose
``alt`` is the ISO code, Category, Posted and Valid until as "2025.07.13"), followed by a ``p.bl_desc`` summary.
The lead pages repeat those fields and keep the buyer's contact behind a premium sign-in, so the list is all that
is read (no detail parser). Posting dates have no time of day and are taken as the UTC day.

The selectors were designed for the simulator from the site's public URL scheme; they must be checked against the
live site before production use.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "ec21"
SITE_URL = "https://www.ec21.com"

_LEAD_PATH = re.compile(r"/buy-lead/([A-Za-z0-9_]+)--(\d+)\.html")
_DOT_DATE = re.compile(r"\b(\d{4})\.(\d{1,2})\.(\d{1,2})\b")
_EMPTY_STATE = re.compile(r"\bno\s+buying\s+leads\b", re.IGNORECASE)
_PAGE_PARAM = re.compile(r"[?&]page=(\d+)")
_ISO2 = re.compile(r"^[A-Z]{2}$")
_UNDISCLOSED = {"", "not disclosed", "-"}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of the buy-lead list into leads (newest first) and the paging state.

    ``fetched_at`` is unused (dates are absolute) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page with no leads and the site's
    "There are no buying leads" message is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buy lead list")
    items = tree.css("ul.buylead_list li.buylead_item")
    if not items:
        empty = tree.css_first(".no_data")
        if empty is not None and _EMPTY_STATE.search(empty.text()):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no ul.buylead_list li.buylead_item and no 'no buying leads' message")
    entries = [_item_to_rfq(item, index) for index, item in enumerate(items)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_dot_date(text: str) -> datetime | None:
    """EC21's "2025.07.13" date as midnight UTC; ``None`` when the text holds no valid date."""
    day = _dot_day(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def lead_url(slug: str, lead_id: str) -> str:
    """The public URL of a buy lead."""
    return f"{SITE_URL}/buy-lead/{slug}--{lead_id}.html"


def _dot_day(text: str) -> date | None:
    match = _DOT_DATE.search(text)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _spec_rows(item: LexborNode) -> dict[str, LexborNode]:
    rows: dict[str, LexborNode] = {}
    for row in item.css("table.bl_spec tr"):
        label, value = row.css_first("th"), row.css_first("td")
        if label is not None and value is not None:
            rows.setdefault(clean_text(label.text()).lower().rstrip(":"), value)
    return rows


def _item_to_rfq(item: LexborNode, index: int) -> ParsedRfq:
    link = next((a for a in item.css(".bl_subject a[href]") if _LEAD_PATH.search(a.attributes.get("href") or "")), None)
    if link is None:
        raise PageParseError("layout_drift", f"lead {index} has no .bl_subject link to /buy-lead/<title>--<id>.html")
    match = _LEAD_PATH.search(link.attributes.get("href") or "")
    assert match is not None  # the link was chosen by the same pattern
    slug, lead_id = match.group(1), match.group(2)
    title = clean_text(link.text())
    rows = _spec_rows(item)
    if not title or "posted" not in rows:
        raise PageParseError("layout_drift", f"lead {lead_id} lacks a title or a Posted row")

    def text(label: str) -> str:
        """The cleaned text of the row labelled ``label`` ("" when the lead has no such row)."""
        node = rows.get(label)
        return clean_text(node.text()) if node is not None else ""

    country_node = rows.get("country")
    flag = country_node.css_first("img[alt]") if country_node is not None else None
    flag_code = clean_text(flag.attributes.get("alt")).upper() if flag is not None else ""
    buyer = text("buyer")
    posted_text = text("posted")
    attributes: dict[str, Any] = {"category": text("category")}
    valid_until = _dot_day(text("valid until"))
    if valid_until is not None:
        attributes["valid_until"] = valid_until.isoformat()
    desc = item.css_first("p.bl_desc")
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=lead_url(slug, lead_id),
        title=title,
        posted_at=parse_dot_date(posted_text),
        posted_text=posted_text,
        description=clean_text(desc.text()) if desc is not None else "",
        quantity_text=text("quantity"),
        buyer_company="" if buyer.lower() in _UNDISCLOSED else buyer,
        country_raw=text("country"),
        country_code=flag_code if _ISO2.match(flag_code) else "",
        attributes=attributes,
    )


def _has_next(tree: LexborHTMLParser) -> bool:
    return any("next" in (a.attributes.get("class") or "").split() for a in tree.css("div.paging a[href]"))


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [
        int(m.group(1)) for a in tree.css("div.paging a[href]") if (m := _PAGE_PARAM.search(a.attributes["href"] or ""))
    ]
    current = tree.css_first("div.paging strong.on")
    if current is not None and clean_text(current.text()).isdigit():
        numbers.append(int(clean_text(current.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="ec21",
    kind="marketplace",
    site_url=SITE_URL,
    listings=("/buy-leads/list.html?sort=recent&page={page}",),
    detail_pattern="/buy-lead/<Title_Words>--<id>.html",
    parse_list=parse_list,
    parse_detail=None,  # lead pages add nothing to the list without a premium sign-in
    cadence="0 */12 * * *",
    rate_per_minute=8.0,
    burst=2,
    impersonate="chrome",
    max_pages=40,
    respect_robots=True,
    description="EC21 buying leads: title, quantity, buyer company and country (ISO flag), posting and expiry dates.",
    page_size=30,
)
