"""Parser for TradeIndia buy leads, read from the public lists under ``/TradeLeads/buy/``.

Built on second-hand evidence (no served page was found; see ``rfq_pipeline_tests/sources/fixtures/EVIDENCE_B.md``,
section 1): the scraper ``admirableparham-png/go4it`` (``scripts/harvest_tradeindia.py`` and the 58 cards it read
from the live category lists on 2026-07-30), ``nihao555-hub/kaifaxing`` (``server/b2bPublic.js``, which reads the
root list ``/TradeLeads/buy/``) and ``Abu1982/ABUMeta`` (Playwright profile of the root list, whose rendered DOM is an
ARIA listbox). The site serves two card layouts, and this parser accepts both, in this order of preference:

* ``div.blListCard`` (category lists ``/TradeLeads/buy/<Category>/<Sub>/``): ``a.title`` links
  ``/buyoffer/<id>/<slug>.html`` and reads "<name> is looking for suppliers of <product>" (the name is "Buyer" for
  anonymous buyers; the slug can disagree with the title, so the title is always the link text); ``div.blCity`` holds
  "City, State" (sometimes with a trailing comma, sometimes empty, foreign region names sometimes percent-encoded:
  "Paris, %C3%8Ele-de-France") and a flag image ``/countries-flags/<iso2>.jpg``, which some cards lack; ``span.blDate``
  is the day ("29 July 2026"); ``div.blCustomData`` is labelled text ("Quantity Required : 100 Tons Want to Buy :
  Immediate", free lower-case labels run together: "Purpose : Businesspreferred time : anytime during the day");
  ``div.blDiscription`` (sic) is the site's cut of the request, always ending in "...", with latin-1 mojibake such as
  "Â°C" in the served text.
* ``div.blBuyLeadsBox`` (the root list): ``a.blTitle`` (the product as title), ``div.blCountry`` with the country's
  *name* after an ``<svg>`` or ``<img alt="map">``, "Date posted : ``span.blDate``" and "Buyer is looking for
  ``span.blLookingName``". No buyer name, city or quantity is shown there.
* ``[role=option]`` blocks with a ``/buyoffer/`` link (the root list as a browser renders it), read from their text.

Pages are ``?page_no=N`` with page 1 the bare list URL (go4it builds them so). How the site marks the last page is
unknown: a ``rel=next`` link is followed when there is one; paging links (``page_no``, ``rel=prev``) without a next
link mean the last page; with no paging markup at all the crawl asks for the next ``page_no`` while pages have leads
(go4it stops at a page without cards). The lists show the day only, no time, and run newest first (go4it's 58 cards
are in date order). The message of an empty list, the HTML inside ``blCustomData``, whether the root list ever shows
``blListCard`` cards and whether its later pages need a sign-in (a kaifaxing note says the root shows about a dozen
leads without one) are unknown.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.normalize.rfqs import country_code as lookup_country_code
from rfq_pipeline.normalize.rfqs import country_name
from rfq_pipeline.sources.dates import find_day
from rfq_pipeline.sources.html import checked_tree, clean_text, label_key, unique_nodes
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "tradeindia"
SITE_URL = "https://www.tradeindia.com"

DETAIL_REGEX = r"/buyoffer/(?P<id>\d+)/(?P<slug>[^/?#\s\"']*)\.html"
_LEAD_PATH = re.compile(DETAIL_REGEX)
_FLAG = re.compile(r"/countries-flags/([a-z]{2})\.(?:jpe?g|png|gif|svg|webp)\b", re.I)
_LOOKING_FOR = re.compile(r"\s+is\s+looking\s+for\s+suppliers\s+of\s+", re.I)
# Names that are not a person: the anonymous "Buyer" and the site's placeholder for web-shop enquiries.
_ANONYMOUS = re.compile(r"^(?:buyer|shopping[_ -]inquiry[_ -]?\d*)$", re.I)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_POSTED_PREFIX = re.compile(r"^\s*date\s+posted\s*:?\s*", re.I)
# The labels seen in blCustomData text (go4it's cards) and on lead pages (ABUMeta); free labels are lower case and
# glued to the previous value ("Businesspreferred time : ..."), so labels are found without a word boundary before.
_LABELS = (
    "Quantity Required",
    "Want to Buy",
    "Purpose",
    "Preferred Time",
    "Quantity Unit",
    "Whatsapp Availability",
    "Product Details",
    "Requirement Type",
    "GST Available",
    "Delivery Place",
)
_LABEL = re.compile(r"(" + "|".join(re.escape(label) for label in _LABELS) + r")\s*:", re.I)
# Rendered-listbox text (ABUMeta): "<title> <location> Date posted : <day> Buyer is looking for <product> More".
_TEXT_POSTED = re.compile(r"Date posted\s*:?\s*([^\n]+?\d{4})", re.I)
_TEXT_LOOKING = re.compile(r"(Buyer is looking for.+?)(?:\s+More\s*$|$)", re.I | re.S)
# The empty-list message is unknown; these are the usual wordings (a guess), checked only on pages without cards.
_EMPTY = re.compile(r"\bno\s+(?:buy\s+|trade\s+)?(?:leads?|results?|records?)\s+(?:were\s+)?found\b", re.I)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one buy-lead list page into its leads in page order and the paging state.

    ``fetched_at`` is unused (the lists print absolute days) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page without cards that says it has
    no results is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buy lead list")
    cards = unique_nodes(tree.css("div.blListCard, div.blBuyLeadsBox"))
    if not cards:
        cards = unique_nodes(tree.css('[role="option"]:has(a[href*="/buyoffer/"])'))
    if not cards:
        if _says_empty(tree):
            return ListPage(entries=[], has_next=False)
        raise PageParseError("layout_drift", "no div.blListCard / div.blBuyLeadsBox cards and no empty-list message")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(cards)]
    has_next, next_url = _paging(tree, bool(entries))
    return ListPage(entries=entries, has_next=has_next, next_url=next_url)


def lead_url(lead_id: str, slug: str) -> str:
    """The public URL of a buy lead, as the lists link it."""
    return f"{SITE_URL}/buyoffer/{lead_id}/{slug}.html"


def repair_text(text: str) -> str:
    """Undo UTF-8 read as latin-1 ("Â°C" -> "°C") when the round trip decodes cleanly; otherwise keep the text."""
    if not any("\u00c2" <= char <= "\u00f4" for char in text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def split_labels(text: str) -> dict[str, str]:
    """``blCustomData`` text as {label: value}: "Quantity Required : 1 Kilogram Want to Buy : Immediate"."""
    found = list(_LABEL.finditer(text))
    values: dict[str, str] = {}
    for match, following in zip(found, [*found[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        label = _canonical_label(match.group(1))
        values.setdefault(label, clean_text(text[match.end() : end]))
    return values


def _canonical_label(label: str) -> str:
    return next(known for known in _LABELS if known.lower() == label.lower())


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    classes = (card.attributes.get("class") or "").split()
    if "blListCard" in classes:
        return _list_card(card, index)
    if "blBuyLeadsBox" in classes:
        return _box_card(card, index)
    return _option_card(card, index)


def _lead_link(card: LexborNode, preferred: str, index: int) -> tuple[LexborNode, re.Match[str]]:
    candidates = [card.css_first(preferred)] if preferred else []
    candidates += [a for a in card.css('a[href*="/buyoffer/"]') if clean_text(a.text()).lower() != "more"]
    for link in candidates:
        match = _LEAD_PATH.search(link.attributes.get("href") or "") if link is not None else None
        if link is not None and match is not None:
            return link, match
    raise PageParseError("layout_drift", f"card {index} has no link to /buyoffer/<id>/<slug>.html")


def _base(link: LexborNode, match: re.Match[str], index: int) -> tuple[str, str, str]:
    title = repair_text(clean_text(link.text(separator=" ")))
    if not title:
        raise PageParseError("layout_drift", f"card {index} (lead {match.group('id')}) has an empty title")
    return match.group("id"), urljoin(SITE_URL + "/", (link.attributes.get("href") or "").strip()), title


def _list_card(card: LexborNode, index: int) -> ParsedRfq:
    link, match = _lead_link(card, 'a.title[href*="/buyoffer/"]', index)
    lead_id, url, title = _base(link, match, index)
    attributes: dict[str, Any] = {}
    name, product = _buyer_and_product(title)
    if product:
        attributes["product"] = product
    city_node = card.css_first("div.blCity")
    location = _location(city_node.text(separator=" ")) if city_node is not None else ""
    if location:
        attributes["location"] = location
    code = _flag_code(card)
    country = (country_name(code) or "") if code else ""
    if not code:
        code, country = _country_of(location)
    custom = card.css_first("div.blCustomData")
    labelled = split_labels(repair_text(clean_text(custom.text(separator=" ")))) if custom is not None else {}
    quantity = labelled.pop("Quantity Required", "")
    attributes.update({label_key(label): value for label, value in labelled.items() if value})
    description = _description(card.css_first("div.blDiscription"), attributes)
    posted_text, posted_at = _posted(card)
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=url,
        title=title,
        posted_at=posted_at,
        posted_text=posted_text,
        description=description,
        quantity_text=quantity,
        buyer_name=name,
        country_raw=country,
        country_code=code,
        attributes=attributes,
    )


def _box_card(card: LexborNode, index: int) -> ParsedRfq:
    link, match = _lead_link(card, 'a.blTitle[href*="/buyoffer/"]', index)
    lead_id, url, title = _base(link, match, index)
    attributes: dict[str, Any] = {}
    looking_name = card.css_first("span.blLookingName")
    if looking_name is not None and clean_text(looking_name.text()):
        attributes["product"] = repair_text(clean_text(looking_name.text()))
    country_node = card.css_first("div.blCountry")
    country = repair_text(_text_without_svg(country_node)) if country_node is not None else ""
    looking = card.css_first("div.blBuyrLooking")
    posted_text, posted_at = _posted(card)
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=url,
        title=title,
        posted_at=posted_at,
        posted_text=posted_text,
        description=repair_text(clean_text(looking.text(separator=" "))) if looking is not None else "",
        country_raw=country,
        country_code=(lookup_country_code(country) or "") if country else "",
        attributes=attributes,
    )


def _option_card(card: LexborNode, index: int) -> ParsedRfq:
    """A listbox option read from its text, as a browser renders the root list (no class names to go by)."""
    link, match = _lead_link(card, "", index)
    lead_id, url, title = _base(link, match, index)
    text = "\n".join(line for line in (clean_text(t) for t in card.text(separator="\n").split("\n")) if line)
    posted = _TEXT_POSTED.search(text)
    posted_text = clean_text(posted.group(1)) if posted else ""
    found = find_day(posted_text) if posted_text else None
    flat = clean_text(text)
    # ABUMeta's reading: the location sits between the title and "Date posted".
    between = re.search(rf"{re.escape(title)}\s+(.+?)\s+Date posted", flat, re.I)
    location = _location(between.group(1)) if between else ""
    looking = _TEXT_LOOKING.search(flat)
    code, country = _country_of(location)
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=url,
        title=title,
        posted_at=found[0] if found else None,
        posted_text=posted_text,
        description=repair_text(clean_text(looking.group(1))) if looking else "",
        country_raw=country,
        country_code=code,
        attributes={"location": location} if location else {},
    )


def _buyer_and_product(title: str) -> tuple[str, str]:
    parts = _LOOKING_FOR.split(title, maxsplit=1)
    if len(parts) != 2:
        return "", ""
    name = parts[0].strip()
    return ("" if _ANONYMOUS.match(name) else name), parts[1].strip()


def _location(raw: str) -> str:
    text = repair_text(clean_text(raw))
    if _PERCENT.search(text):
        text = unquote(text)
    return text.strip(" ,")


def _flag_code(card: LexborNode) -> str:
    for image in card.css("img"):
        match = _FLAG.search(image.attributes.get("src") or image.attributes.get("data-src") or "")
        if match:
            return match.group(1).upper()
    return ""


def _country_of(location: str) -> tuple[str, str]:
    """The country named by the last part of "City, State[, Country]", if it is one; never a default."""
    last = location.rsplit(",", 1)[-1].strip()
    code = lookup_country_code(last) if last else None
    return (code, last) if code else ("", "")


def _description(node: LexborNode | None, attributes: dict[str, Any]) -> str:
    if node is None:
        return ""
    text = repair_text(clean_text(node.text(separator=" ")))
    # The list always shows the site's cut, marked by "..." (the whole request is on the lead page only).
    attributes["truncated"] = text.endswith("...")
    return text


def _posted(card: LexborNode) -> tuple[str, datetime | None]:
    node = card.css_first("span.blDate")
    text = _POSTED_PREFIX.sub("", clean_text(node.text())) if node is not None else ""
    found = find_day(text) if text else None
    return text, found[0] if found else None


def _text_without_svg(node: LexborNode) -> str:
    parts = []
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            parts.append(child.text_content or "")
        elif child.tag not in ("svg", "img", "script", "style"):
            parts.append(child.text(separator=" ") or "")
    return clean_text(" ".join(parts))


def _paging(tree: LexborHTMLParser, has_cards: bool) -> tuple[bool, str | None]:
    for selector in ('link[rel="next"]', 'a[rel~="next"]'):
        node = tree.css_first(selector)
        href = (node.attributes.get("href") or "").strip() if node is not None else ""
        if href and not href.startswith(("javascript:", "#")):
            return True, href
    if tree.css_first('link[rel="prev"], a[rel~="prev"], a[href*="page_no="]') is not None:
        return False, None  # paging shown without a next link: this is the last page
    return has_cards, None  # no paging markup known: ask for the next page_no until a page has no leads


def _says_empty(tree: LexborHTMLParser) -> bool:
    return tree.body is not None and bool(_EMPTY.search(tree.body.text() or ""))


class PageNoSpec(SourceSpec):
    """TradeIndia's paging: ``?page_no=N``, with page 1 the bare list URL (as go4it builds it)."""

    def list_url(self, listing: str, page: int, start: datetime | None = None, end: datetime | None = None) -> str:
        """Absolute URL of page ``page`` of ``listing``, without ``page_no`` on the first page."""
        url = super().list_url(listing, page, start, end)
        if page != 1:
            return url
        parts = urlsplit(url)
        query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "page_no"]
        return urlunsplit(parts._replace(query=urlencode(query)))


# The root list is the verified public entry (kaifaxing, ABUMeta, AMClub survey) and holds every category; the
# category paths known from public sources (Energy-Power/Bitumen, Chemicals/Rubber-Rubber-Products, ...) are not a
# beauty exporter's, and TradeIndia's beauty category paths are not known. Category lists can be added with
# RFQ_SOURCE_TRADEINDIA_LISTINGS ("/TradeLeads/buy/<Category>/<Sub>/?page_no={page}").
LISTINGS = ("/TradeLeads/buy/?page_no={page}",)

SPEC = PageNoSpec(
    name="tradeindia",
    kind="marketplace",
    site_url=SITE_URL,
    listings=LISTINGS,
    detail_pattern="/buyoffer/<id>/<Slug>.html",
    parse_list=parse_list,
    parse_detail=None,  # lead pages are known only as rendered text (ABUMeta), not as markup
    cadence="0 */6 * * *",
    rate_per_minute=10.0,
    burst=2,
    impersonate="chrome",
    max_pages=20,
    respect_robots=True,
    description="TradeIndia buy leads from the public root list: product, buyer country, posting day; category lists "
    "add the buyer's name, city, quantity and the site's cut of the request.",
    page_size=15,
    evidence="second_hand",
    fixtures=(),
    known_gaps=(
        "no served page seen: selectors come from other people's scrapers (go4it, kaifaxing, ABUMeta)",
        "paging markup and the last-page signal are unknown",
        "later pages of the root list may need a sign-in (about a dozen leads are public, per a kaifaxing note)",
        "root-list cards show no buyer name, city or quantity, only the product and the country's name",
        "whether the root list also uses blListCard cards is unknown",
        "list descriptions are the site's cut and end in '...'",
        "the day only, no time; probably India's calendar day",
        "some category cards have no flag: their country stays unknown unless the city names one",
        "the HTML inside blCustomData is unknown (labels are split from its text)",
        "the empty-list message is unknown",
        "lead pages are not read",
    ),
    date_sorted=True,
    detail_regex=DETAIL_REGEX,
    mail_domains=("tradeindia.com",),
)
