"""Parser for go4WorldBusiness buy leads: category listings (``/buyers/<Category>``) and lead detail pages.

Listing cards (``div.search-results``) give the title ("Wanted : X"), the buyer's country ("Buyer From X"), the
posting date ("Nov-15-21", day precision) and a description snippet; the detail page has the full request text,
which is usually the site's template (Product Name / Specifications / Quantity Required / Shipping Terms /
Destination Port / Payment Terms / Looking for suppliers from), parsed by :func:`parse_templated_description`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import block_text, checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "go4worldbusiness"
SITE_URL = "https://www.go4worldbusiness.com"

_DETAIL_PATH = re.compile(r"/buylead/view/(\d+)/([^?#\s\"']*?\.html)")
_WANTED = re.compile(r"^\s*Wanted\s*:\s*", re.IGNORECASE)
_BUYER_FROM = re.compile(r"^\s*Buyer\s+From\s*:?\s*", re.IGNORECASE)
_DATE = re.compile(r"\b([A-Za-z]{3})-(\d{1,2})-(\d{2}|\d{4})\b")
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_EMPTY_STATE = re.compile(r"\bno\s+(?:buyers|buy\s*leads|results|matching\s+buyers)\s+(?:were\s+)?found\b", re.I)
_PAGE_PARAM = re.compile(r"[?&]pg_buyers=(\d+)")

# Top-level labels of the site's buy-lead template, with the spelling variants seen in real leads
# ("Specificaitons", "Shipment Terms", "Quality Required", "Looking For Supplier From", "Product Name:" ...).
_TEMPLATE_LABELS: tuple[tuple[str, str], ...] = (
    ("product_name", r"product\s+name"),
    ("specifications", r"(?:product\s+)?specifi?ca(?:ti|it)ons?"),
    ("quantity_required", r"(?:quantity|quality)\s+required|required\s+quantity|quantity"),
    ("shipping_terms", r"(?:shipping|shipment)\s+terms?"),
    ("destination_port", r"destination\s+port"),
    ("payment_terms", r"payment\s+terms?"),
    ("looking_for_suppliers_from", r"looking\s+for\s+suppliers?\s+from"),
    ("contact_person", r"contact\s+person"),
    ("contact", r"contact"),
)
_LABEL_ALTERNATION = "|".join(f"(?P<{key}>{pattern})" for key, pattern in _TEMPLATE_LABELS)
# With line breaks a label must open a line (so "Packaging Terms :" inside Specifications stays there); leads whose
# line breaks were lost ("...FCLShipping Terms : FOB...") only have the label words themselves to go by.
_LABEL_AT_LINE_START = re.compile(rf"(?im)^[ \t]*(?:{_LABEL_ALTERNATION})[ \t]*:")
_LABEL_ANYWHERE = re.compile(rf"(?i)(?:{_LABEL_ALTERNATION})\s*:")
_RULE = re.compile(r"-{5,}")  # "-----...Admin note:" trailers end the last field
_MULTILINE_FIELDS = {"specifications"}
_DETAIL_ATTRIBUTES = (
    "product_name",
    "specifications",
    "shipping_terms",
    "destination_port",
    "payment_terms",
    "looking_for_suppliers_from",
)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one buyers listing page into entries (newest first) and the paging state.

    ``fetched_at`` is unused by this source (cards carry absolute dates) but kept for a uniform parser signature.
    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) for pages that cannot be trusted;
    a page with zero cards and the site's "no buyers found" message is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buyers list")
    cards = tree.css("div.search-results")
    if not cards:
        if _EMPTY_STATE.search(tree.body.text() if tree.body else ""):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.search-results cards and no 'no buyers found' message")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(cards)]
    return ListPage(entries=entries, has_next=_has_next(tree), total_pages=_total_pages(tree))


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a listing entry from its detail page: full description, quantity, buyer company and template fields.

    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) like :func:`parse_list`.
    """
    # The detail-page structure (h1.entity-title, div.buylead-description, span.buyer-company) is designed from the
    # scraped templated text and the listing selectors; it must be checked against the live site before relying on it.
    tree = checked_tree(html, what="buy lead detail")
    heading = tree.css_first("h1")
    body = tree.css_first("div.buylead-description")
    if heading is None or body is None:
        raise PageParseError("layout_drift", "detail page without h1 title or div.buylead-description")
    description = block_text(body, keep_blank_lines=True)
    fields = parse_templated_description(description)
    company_node = tree.css_first(".buyer-company")
    company = clean_text(company_node.text()) if company_node is not None else ""
    attributes = dict(entry.attributes)
    attributes.update({key: fields[key] for key in _DETAIL_ATTRIBUTES if fields.get(key)})
    categories = [clean_text(a.text()) for a in tree.css(".buylead-categories a")]
    if categories:
        attributes["categories"] = categories
    country_node = tree.css_first(".buylead-country")
    return replace(
        entry,
        title=entry.title or _WANTED.sub("", clean_text(heading.text())),
        description=description or entry.description,
        quantity_text=fields.get("quantity_required", entry.quantity_text),
        buyer_company=company or entry.buyer_company,
        country_raw=entry.country_raw or (clean_text(country_node.text()) if country_node is not None else ""),
        attributes=attributes,
    )


def parse_templated_description(text: str) -> dict[str, str]:
    """Split a go4WorldBusiness request written in the site's template into its fields.

    Returns the fields found among ``product_name``, ``specifications`` (multi-line), ``quantity_required``,
    ``shipping_terms``, ``destination_port``, ``payment_terms``, ``looking_for_suppliers_from``, ``contact_person``
    and ``contact``; free-text requests give an empty or partial dict. Handles CRLF and LF text, "Label :" and
    "Label:" spellings, and leads whose line breaks were stripped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pattern = _LABEL_AT_LINE_START if "\n" in text else _LABEL_ANYWHERE
    matches = list(pattern.finditer(text))
    fields: dict[str, str] = {}
    for position, match in enumerate(matches):
        key = match.lastgroup or ""
        end = matches[position + 1].start() if position + 1 < len(matches) else len(text)
        raw = text[match.end() : end]
        rule = _RULE.search(raw)
        if rule:
            raw = raw[: rule.start()]
        if key not in _MULTILINE_FIELDS:
            # A single-value field ends at the first blank line: what follows is prose ("Regards", a signature).
            raw = re.split(r"\n[ \t]*\n", raw.strip("\n"), maxsplit=1)[0]
        lines = [" ".join(line.split()) for line in raw.split("\n")]
        value = "\n".join(line for line in lines if line)
        if value and key not in fields:
            fields[key] = value
    return fields


def parse_card_date(text: str) -> datetime | None:
    """The listing's "Nov-15-21" style date as midnight UTC (month names are English whatever the locale)."""
    match = _DATE.search(text)
    if not match or match.group(1).lower() not in _MONTHS:
        return None
    year = int(match.group(3))
    year = year + 2000 if year < 100 else year
    try:
        return datetime(year, _MONTHS[match.group(1).lower()], int(match.group(2)), tzinfo=UTC)
    except ValueError:
        return None


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    title_node = card.css_first("h2.entity-row-title span")
    link = next((a for a in card.css("a[href]") if _DETAIL_PATH.search(a.attributes.get("href") or "")), None)
    if title_node is None or link is None:
        raise PageParseError("layout_drift", f"card {index} lacks h2.entity-row-title span or a /buylead/view/ link")
    href = link.attributes.get("href") or ""
    match = _DETAIL_PATH.search(urlsplit(href).path or href)
    if match is None:
        raise PageParseError("layout_drift", f"card {index} detail link {href!r} is not a buy lead")
    lead_id, slug = match.group(1), match.group(2)
    detail_path = f"/buylead/view/{lead_id}/{slug}"
    date_text = next((clean_text(s.text()) for s in card.css("small") if _DATE.search(s.text())), "")
    country_node = card.css_first("span.subtitle")
    snippet_node = card.css_first("div.entity-row-description-search p")
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=SITE_URL + detail_path,
        title=_WANTED.sub("", clean_text(title_node.text())),
        posted_at=parse_card_date(date_text),
        posted_text=date_text,
        description=clean_text(snippet_node.text()) if snippet_node is not None else "",
        country_raw=_BUYER_FROM.sub("", clean_text(country_node.text())) if country_node is not None else "",
        detail_path=detail_path,
    )


def _pagination_links(tree: LexborHTMLParser) -> list[LexborNode]:
    return tree.css("ul.pagination a[href]")


def _has_next(tree: LexborHTMLParser) -> bool:
    for link in _pagination_links(tree):
        rel = (link.attributes.get("rel") or "").split()
        parent = link.parent
        parent_classes = ((parent.attributes.get("class") or "") if parent is not None else "").split()
        if "next" in rel or "next" in parent_classes:
            return "disabled" not in parent_classes
    return False


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [
        int(m.group(1)) for a in _pagination_links(tree) if (m := _PAGE_PARAM.search(a.attributes["href"] or ""))
    ]
    active = tree.css_first("ul.pagination li.active")
    if active is not None and clean_text(active.text()).isdigit():
        numbers.append(int(clean_text(active.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="go4worldbusiness",
    kind="marketplace",
    site_url="https://www.go4worldbusiness.com",
    # Category listings are the stable way in; which categories to watch is a setting (RFQ_SOURCE_..._LISTINGS).
    listings=tuple(
        f"/buyers/{category}?region=worldwide&pg_buyers={{page}}"
        for category in (
            "Food-Flavors",
            "Float-Glass",
            "Frozen-Watermelon",
            "Peppermint",
            "Fresh-Clams",
            "Coconut-Milk",
        )
    ),
    detail_pattern="/buylead/view/<id>/wanted-:-<slug>.html",
    parse_list=parse_list,
    parse_detail=parse_detail,
    cadence="0 */3 * * *",
    rate_per_minute=20.0,
    burst=5,
    impersonate="chrome",
    max_pages=30,
    respect_robots=True,
    description="go4WorldBusiness buy leads: templated requests with quantity, shipping terms and destination port.",
    mail_domains=("go4worldbusiness.com",),
)
