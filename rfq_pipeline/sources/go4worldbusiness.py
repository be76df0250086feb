"""Parser for go4WorldBusiness buy leads, read from the buyer lists as the site served them in 2026.

A list is ``/buyers/<keyword>.html`` (a category page, or the site search when the keyword is no category); the next
page is the head's ``<link rel="next">`` (``?pg_buyers=N``). Each card is its own ``div.search-results``; a lead links
``/buylead/view/<id>/wanted-:-<slug>.html`` around ``h2.entity-row-title`` ("Wanted : <title>", title-cased by the
site). The card shows the day (``<small> Aug-17-26 </small>`` in ``div.text-right``), a VERIFIED or ARCHIVED marker,
the buyer's flag (``i.famfamfam-flag-<iso2>``) and "Buyer From [<city>,] <country>" (``span.subtitle``), a facts block
of labelled spans (Quantity Required, Payment Terms, Destination, Looking for suppliers from; "Not specified" when the
buyer gave none) and the whole request in ``div.entity-row-description-search``, one ``<br />`` line per template field,
the last line "Contact : <name>" being the only place the buyer is named. Member (supplier) cards share the card
wrapper but link ``/member/view/``: they are not leads and are skipped. Lists run by relevance, **not by date**.
Because the list carries the whole request, lead pages are not fetched.

Fixtures: served pages saved in August 2026 (``rfq_pipeline_tests/sources/fixtures/go4worldbusiness``);
:func:`parse_templated_description` was built on the site's real templated texts (``go4w_buyers_2019.jsonl``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.dates import parse_day
from rfq_pipeline.sources.html import block_text, checked_tree, clean_text, label_key
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "go4worldbusiness"
SITE_URL = "https://www.go4worldbusiness.com"

_DETAIL_PATH = re.compile(r"/buylead/view/(\d+)/([^?#\s\"']*?\.html)")
_WANTED = re.compile(r"^\s*Wanted\s*:\s*", re.IGNORECASE)
_BUYER_FROM = re.compile(r"^\s*Buyer\s+From\s*:?\s*", re.IGNORECASE)
_DATE = re.compile(r"\b([A-Za-z]{3})-(\d{1,2})-(\d{2}|\d{4})\b")
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
# Template fields kept as attributes (quantity, contact and the facts block's values are read elsewhere).
_TEMPLATE_ATTRIBUTES = ("product_name", "specifications", "shipping_terms", "destination_port")
_FLAG = re.compile(r"^famfamfam-flag-([a-z]{2})$", re.I)
_NOT_SPECIFIED = {"", "not specified", "moq", "-"}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one buyer list page into its leads in page order and the paging state.

    ``fetched_at`` is unused by this source (cards carry absolute days) but kept for a uniform parser signature.
    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``) for pages that cannot be trusted;
    a page with no cards and the site's "no buyers found" message is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buyers list")
    cards = tree.css("div.search-results")
    leads = [card for card in cards if _lead_link(card) is not None]
    if not leads:
        if not cards and _EMPTY_STATE.search(tree.body.text() if tree.body else ""):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.search-results card links a /buylead/view/<id>/ lead")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(leads)]
    next_url = _next_url(tree)
    return ListPage(entries=entries, has_next=next_url is not None, total_pages=_total_pages(tree), next_url=next_url)


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
    """The card's "Nov-15-21" day as midnight UTC (month names are English whatever the locale)."""
    match = _DATE.search(text)
    return parse_day(match.group(0)) if match else None


def _lead_link(card: LexborNode) -> LexborNode | None:
    return next((a for a in card.css("a[href]") if _DETAIL_PATH.search(a.attributes.get("href") or "")), None)


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    link = _lead_link(card)
    title_node = card.css_first("h2.entity-row-title span") or card.css_first("h2.entity-row-title")
    if title_node is None or link is None:
        raise PageParseError("layout_drift", f"card {index} lacks h2.entity-row-title or a /buylead/view/ link")
    href = link.attributes.get("href") or ""
    match = _DETAIL_PATH.search(urlsplit(href).path or href)
    if match is None:
        raise PageParseError("layout_drift", f"card {index} detail link {href!r} is not a buy lead")
    lead_id, slug = match.group(1), match.group(2)
    detail_path = f"/buylead/view/{lead_id}/{slug}"
    date_node = card.css_first("div.text-right small")
    date_text = clean_text(date_node.text()) if date_node is not None else ""
    if not _DATE.search(date_text):
        date_text = next((clean_text(s.text()) for s in card.css("small") if _DATE.search(s.text())), "")
    facts = _facts(card)
    description_node = card.css_first("div.entity-row-description-search")
    description = block_text(description_node) if description_node is not None else ""
    fields = parse_templated_description(description)
    quantity = facts.get("quantity_required", "")
    attributes: dict[str, Any] = {
        key: value for key, value in facts.items() if key != "quantity_required" and value.lower() not in _NOT_SPECIFIED
    }
    attributes.update({key: fields[key] for key in _TEMPLATE_ATTRIBUTES if fields.get(key)})
    if card.css_first("div.archived-lead") is not None:
        attributes["status"] = "archived"
    elif card.css_first("div.item-verified-div") is not None:
        attributes["status"] = "verified"
    categories = [clean_text(a.text()).removeprefix("Buyer Of").strip() for a in card.css("div.showHideContent a")]
    if categories := [c for c in categories if c]:
        attributes["categories"] = categories
    city, country = _buyer_from(card)
    if city:
        attributes["city"] = city
    contact = fields.get("contact_person") or fields.get("contact", "")
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=SITE_URL + detail_path,
        title=_WANTED.sub("", clean_text(title_node.text())),
        posted_at=parse_card_date(date_text),
        posted_text=date_text,
        description=description,
        quantity_text="" if quantity.lower() in _NOT_SPECIFIED else quantity,
        buyer_name=contact.split("\n", 1)[0],
        country_raw=country,
        country_code=_flag(card),
        attributes=attributes,
    )


def _facts(card: LexborNode) -> dict[str, str]:
    """The card's "Label:" / value span pairs (Quantity Required, Payment Terms, Destination, ...)."""
    facts: dict[str, str] = {}
    for block in card.css("div.ellipsis"):
        spans = block.css("span")
        if len(spans) >= 2:
            label = label_key(spans[0].text())
            if label:
                facts.setdefault(label, clean_text(spans[1].text()))
    return facts


def _buyer_from(card: LexborNode) -> tuple[str, str]:
    """(city or region, country) of "Buyer From [<city>,] <country>"; the country is the last line."""
    node = card.css_first("span.subtitle")
    if node is None:
        return "", ""
    lines = [clean_text(line) for line in (node.text() or "").split("\n")]
    lines = [line for line in lines if line and line.lower() != "buyer from"]
    lines = [_BUYER_FROM.sub("", line) for line in lines]
    lines = [line for line in lines if line]
    if not lines:
        return "", ""
    return ", ".join(line.rstrip(",").strip() for line in lines[:-1]), lines[-1].rstrip(",").strip()


def _flag(card: LexborNode) -> str:
    for icon in card.css("i[class]"):
        for token in (icon.attributes.get("class") or "").split():
            match = _FLAG.match(token)
            if match:
                return match.group(1).upper()
    return ""


def _next_url(tree: LexborHTMLParser) -> str | None:
    link = tree.css_first('link[rel="next"]')
    href = (link.attributes.get("href") or "").strip() if link is not None else ""
    if href:
        return href
    # The paging block's first "Next" is the following page ("Last" carries the same aria-label).
    nxt = tree.css_first('ul.pagination a[aria-label="Next"]')
    return (nxt.attributes.get("href") or "").strip() or None if nxt is not None else None


def _total_pages(tree: LexborHTMLParser) -> int | None:
    links = tree.css("ul.pagination a[href]")
    numbers = [int(m.group(1)) for a in links if (m := _PAGE_PARAM.search(a.attributes.get("href") or ""))]
    if numbers:
        return max(numbers)
    # Page 1's links carry no pg_buyers, so a one-page list shows a pagination without numbers beyond 1.
    return 1 if tree.css_first("ul.pagination") is not None else None


FIXTURES = "rfq_pipeline_tests/sources/fixtures/go4worldbusiness"
# Buyer lists a beauty-first exporter watches: beauty keywords and the cosmetic raw materials the site's buyers ask
# for most (essential and peppermint oils); more by setting RFQ_SOURCE_GO4WORLDBUSINESS_LISTINGS.
KEYWORDS = ("cosmetics", "skin-care", "hair-care", "essential-oils", "peppermint-oil", "coconut-milk", "food-flavors")

SPEC = SourceSpec(
    name="go4worldbusiness",
    kind="marketplace",
    site_url=SITE_URL,
    listings=tuple(f"/buyers/{keyword}.html" for keyword in KEYWORDS),
    detail_pattern="/buylead/view/<id>/wanted-:-<slug>.html",
    parse_list=parse_list,
    parse_detail=None,  # the list card carries the whole request; lead pages add nothing
    cadence="0 */3 * * *",
    rate_per_minute=20.0,
    burst=5,
    impersonate="chrome",
    max_pages=10,  # 20 leads a page in relevance order: read to the end or the cap
    respect_robots=True,
    description="go4WorldBusiness buy leads from buyer lists: the whole templated request (quantity, shipping "
    "terms, destination port, payment terms), buyer country with flag, contact name, posting day.",
    evidence="served_page",
    fixtures=(
        f"{FIXTURES}/www.go4worldbusiness.com_buyers_tea_page1.excerpt.html",
        f"{FIXTURES}/www.go4worldbusiness.com_buyers_rosa-roxburghii_page1.excerpt.html",
        f"{FIXTURES}/www.go4worldbusiness.com_buyers_blueberries_page1.excerpt.html",
        f"{FIXTURES}/www.go4worldbusiness.com_buyers_chili_page1.excerpt.html",
    ),
    known_gaps=(
        "lists run by relevance, not by date, so a crawl reads each list to its end or the page cap",
        "the buyer is named only by the request's last line, 'Contact : <name>' (no company field)",
        "a keyword that is no category is answered by the site search, whose next links are /find?... URLs",
        "no served last page or empty result: their markup is inferred",
    ),
    date_sorted=False,
    detail_regex=r"/buylead/view/(?P<id>\d+)/[^?#\s\"']*?\.html",
    mail_domains=("go4worldbusiness.com",),
)
