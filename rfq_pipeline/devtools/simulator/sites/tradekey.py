"""The simulated TradeKey: the corpus's 1,200 real buy-offer URLs, listed by category and re-dated around today.

The URL file is a crawl of five category listings, page by page, written out in interleaved blocks; each block is
assigned back to its category (see :data:`BLOCKS` and the corpus README). Ids and slugs are real, titles are
rebuilt from the slugs, and the same slug under several ids stays several offers (reposts). Within a category the
file order is the listing order (newest first); each category gets 1-4 offers a day going back from ``today``.

Buyer countries and the request texts are not in the corpus: they are simulated (a stable pick per offer id, and the
real title followed by a generic line), as are the listing markup and the detail attributes other than the three
known structures (``div.bo-buyoffer-box h1``, ``ul li > span + strong``, ``div.bo-desc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path

from rfq_pipeline.devtools.simulator.catalog import hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply

CORPUS = Path(__file__).resolve().parent.parent.parent / "corpus" / "tradekey"
URL_FILE = "tradekey_buyoffer_urls_2019.txt"
PAGE_SIZE = 20
MAX_PER_DAY = 4  # per category; five categories give 5-20 offers a day

# (first line, last line, category) of the URL file's blocks; the categories are TradeKey's own listing paths.
BLOCKS: tuple[tuple[int, int, str], ...] = (
    (1, 105, "Motorcycle-Bikes_lid6791"),
    (106, 204, "Recycling_lid3493"),
    (205, 299, "Printer-Supplies_lid5672"),
    (300, 403, "Sportswear_lid1726"),
    (404, 506, "Laptops-Notebooks_lid2882"),
    (507, 647, "Recycling_lid3493"),
    (648, 746, "Printer-Supplies_lid5672"),
    (747, 881, "Motorcycle-Bikes_lid6791"),
    (882, 927, "Printer-Supplies_lid5672"),
    (928, 1063, "Sportswear_lid1726"),
    (1064, 1200, "Laptops-Notebooks_lid2882"),
)
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(category for _, _, category in BLOCKS))

_URL = re.compile(r"/buyoffer/([A-Za-z0-9][A-Za-z0-9-]*?)-(\d+)\.html")
_LIST_PATH = re.compile(r"^([A-Za-z0-9-]+_lid\d+)(?:\.htm|/page_no/(\d+)\.htm)$")
_DETAIL_PATH = re.compile(r"^buyoffer/([A-Za-z0-9-]+?)-(\d+)\.html$")
_QUANTITY_IN_SLUG = re.compile(r"-Quantity-(.+?)-?$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Where TradeKey's buyers typically write from; a simulated attribute (the URL file has no countries).
_COUNTRIES = (
    "Pakistan",
    "United States",
    "United Kingdom",
    "India",
    "Nigeria",
    "United Arab Emirates",
    "Saudi Arabia",
    "Canada",
    "Australia",
    "Malaysia",
    "Ghana",
    "Germany",
    "Turkey",
    "Egypt",
    "Kenya",
    "Philippines",
)
_REQUEST_LINES = (
    "Please send your best price, specifications and delivery time to our purchase department.",
    "Kindly quote FOB and CIF prices with your minimum order quantity. Samples are required before a bulk order.",
    "We are regular buyers of this item. Send your catalogue and price list with payment terms.",
    "Serious suppliers only: quote with product photos, packing details and lead time.",
)


@dataclass(frozen=True)
class Offer:
    """One buy offer of the simulated site."""

    offer_id: str
    slug: str
    title: str
    category: str
    posted_on: date
    country: str
    quantity: str
    description: str

    @property
    def path(self) -> str:
        """Site path of the offer page."""
        return f"/buyoffer/{self.slug}-{self.offer_id}.html"


def title_from_slug(slug: str) -> str:
    """The title a slug was made from, as far as it can be told: "Men-039-s-Casual-Shoes" -> "Men's Casual Shoes".

    The site turns ``&``, ``'``, ``"`` and ``>`` into their entity names (``amp``, ``039``, ``quot``, ``gt``) and
    every other run of punctuation into a hyphen; a trailing "-Quantity-<q>-" was "(Quantity: <q>)".
    """
    quantity = _QUANTITY_IN_SLUG.search(slug)
    text = slug[: quantity.start()] if quantity else slug
    words = [w for w in text.split("-") if w]
    out: list[str] = []
    for word in words:
        if word == "amp":
            if out and out[-1] == "&":
                continue  # "&amp;amp;": the entity was escaped twice
            out.append("&")
        elif word == "gt":
            if out and out[-1] == "&":
                out[-1] = ">"
            else:
                out.append(">")
        elif word == "039":
            out.append("'")
        else:
            out.append(word)
    title = " ".join(out).replace(" ' ", "'").replace(" '", "'")
    title = re.sub(r"\bquot (.+?) quot\b", r'"\1"', title)
    if quantity:
        title += f" (Quantity: {' '.join(quantity.group(1).split('-'))})"
    return title


def offer_date(day: date) -> str:
    """The listing's date format, "Jul 13, 2025" (English month names whatever the server locale)."""
    return f"{_MONTHS[day.month - 1]} {day.day:02d}, {day.year}"


@cache
def corpus_urls() -> tuple[tuple[int, str, str], ...]:
    """``(line number, slug, id)`` of every buy-offer URL in the corpus file, in file order."""
    rows = []
    with (CORPUS / URL_FILE).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            match = _URL.search(line.strip())
            if match:
                rows.append((number, match.group(1), match.group(2)))
    return tuple(rows)


def _category_of(line: int) -> str:
    for first, last, category in BLOCKS:
        if first <= line <= last:
            return category
    raise ValueError(f"line {line} of {URL_FILE} is in no block")


def category_name(category: str) -> str:
    """The category as displayed ("Motorcycle-Bikes_lid6791" -> "Motorcycle Bikes")."""
    return category.rsplit("_lid", 1)[0].replace("-", " ")


def _per_day(category: str, day_index: int) -> int:
    return 1 + int(hash_fraction(f"tradekey-{category}-day-{day_index}") * MAX_PER_DAY)


def build_offers(today: date) -> dict[str, list[Offer]]:
    """Every category's offers, newest first, dated back from ``today``."""
    by_category: dict[str, list[tuple[str, str]]] = {category: [] for category in CATEGORIES}
    for line, slug, offer_id in corpus_urls():
        by_category[_category_of(line)].append((slug, offer_id))
    offers: dict[str, list[Offer]] = {}
    for category, rows in by_category.items():
        dealt: list[Offer] = []
        day_index, left = 0, _per_day(category, 0)
        for slug, offer_id in rows:
            if left == 0:
                day_index += 1
                left = _per_day(category, day_index)
            left -= 1
            dealt.append(_offer(slug, offer_id, category, today - timedelta(days=day_index)))
        offers[category] = dealt
    return offers


def _offer(slug: str, offer_id: str, category: str, posted_on: date) -> Offer:
    title = title_from_slug(slug)
    quantity = _QUANTITY_IN_SLUG.search(slug)
    pick = hash_fraction(f"tradekey-offer-{offer_id}")
    line = _REQUEST_LINES[int(pick * len(_REQUEST_LINES))]
    quantity_text = " ".join(quantity.group(1).split("-")) if quantity else ""
    description = f"{title}\n{line}" + (f"\nQuantity required: {quantity_text}." if quantity_text else "")
    return Offer(
        offer_id=offer_id,
        slug=slug,
        title=title,
        category=category,
        posted_on=posted_on,
        country=_COUNTRIES[int(hash_fraction(f"tradekey-country-{offer_id}") * len(_COUNTRIES))],
        quantity=quantity_text,
        description=description,
    )


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="canonical" href="{escape(canonical)}">
<link rel="stylesheet" href="/css/importer.css">
</head>
<body>
<div id="header">
 <a class="logo" href="/"><img src="/images/tradekey-logo.png" alt="TradeKey.com"></a>
 <ul class="top-links">
  <li><a href="/members/login">Sign In</a></li>
  <li><a href="/members/register">Join Free</a></li>
  <li><a href="/post-buy-offer.htm">Post Buying Request</a></li>
 </ul>
</div>
<div id="content">
{body}
</div>
<div id="footer"><p>Copyright &copy; TradeKey.com - B2B Marketplace. All rights reserved.</p></div>
</body>
</html>
"""


def _snippet(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "..."


def _list_href(category: str, page: int) -> str:
    return f"/{category}/page_no/{page}.htm"


def _paging(category: str, page: int, total_pages: int) -> str:
    if total_pages <= 1:
        return ""
    parts = []
    if page > 1:
        parts.append(f'<a class="prev" href="{_list_href(category, min(page - 1, total_pages))}">&laquo; Previous</a>')
    shown = min(page, total_pages)
    for number in range(max(1, shown - 3), min(total_pages, shown + 3) + 1):
        if number == page:
            parts.append(f'<span class="current">{number}</span>')
        else:
            parts.append(f'<a href="{_list_href(category, number)}">{number}</a>')
    if page < total_pages:
        parts.append(f'<a class="next" href="{_list_href(category, page + 1)}">Next &raquo;</a>')
        parts.append(f'<a class="last" href="{_list_href(category, total_pages)}">Last</a>')
    return '<div class="paging">\n ' + "\n ".join(parts) + "\n</div>"


def _row(offer: Offer) -> str:
    flag = re.sub(r"[^a-z]+", "-", offer.country.lower())
    return f"""<div class="bo-list-row" id="bo_{offer.offer_id}">
 <div class="bo-list-title"><a href="{offer.path}" title="{escape(offer.title)}">{escape(offer.title)}</a></div>
 <div class="bo-list-info">
  <span class="bo-list-country"><img src="/images/flags/{flag}.gif" alt="" width="16" height="11">
   {escape(offer.country)}</span>
  <span class="bo-list-date">{offer_date(offer.posted_on)}</span>
 </div>
 <p class="bo-list-desc">{escape(_snippet(offer.description))}</p>
 <a class="bo-contact" href="/members/contact-buyer/{offer.offer_id}">Contact Buyer</a>
</div>"""


def render_list(offers: list[Offer], category: str, page: int) -> str:
    """Page ``page`` of a category listing (past the last page: the "No buy offers found" state)."""
    name = category_name(category)
    total_pages = max(1, -(-len(offers) // PAGE_SIZE))
    chunk = offers[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        first = (page - 1) * PAGE_SIZE + 1
        summary = f"Showing {first}-{first + len(chunk) - 1} of {len(offers)} {escape(name)} Buy Offers"
        rows = "\n".join(_row(offer) for offer in chunk)
    else:
        summary = f"{len(offers)} {escape(name)} Buy Offers"
        rows = f'<div class="bo-list-empty">No buy offers found in {escape(name)} on page {page}.</div>'
    body = f"""<div class="breadcrumb"><a href="/">Importers</a> &raquo; <span>{escape(name)}</span></div>
<h1 class="cat-title">{escape(name)} Buyers &amp; Importers</h1>
<div class="bo-count">{summary}</div>
<div id="bo-list">
{rows}
</div>
{_paging(category, page, total_pages)}"""
    canonical = f"https://importer.tradekey.com{_list_href(category, page)}"
    return _document(f"{name} Buyers & Importers | Buy Offers - Page {page} | TradeKey.com", body, canonical)


def render_list_drift(offers: list[Offer], category: str, page: int) -> str:
    """The same listing after a redesign: cards in an ordered list, ISO ``time`` elements, a "Load more" button."""
    chunk = offers[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(
        f"""<li class="offer-card" data-offer="{offer.offer_id}">
 <a class="offer-card__link" href="{offer.path}">{escape(offer.title)}</a>
 <div class="offer-card__meta"><span class="offer-card__origin">{escape(offer.country)}</span>
 <time datetime="{offer.posted_on.isoformat()}">{offer.posted_on.strftime("%d/%m/%Y")}</time></div>
</li>"""
        for offer in chunk
    )
    body = f"""<main class="offer-results">
 <h1>{escape(category_name(category))} buying requests</h1>
 <ol class="offer-list">
{cards}
 </ol>
 <nav class="pager"><button class="pager__more" data-page="{page + 1}">Load more</button></nav>
</main>"""
    canonical = f"https://importer.tradekey.com{_list_href(category, page)}"
    return _document(f"{category_name(category)} buying requests | TradeKey", body, canonical)


def render_detail(offer: Offer) -> str:
    """A buy-offer page with the known structure: the box's h1, its ``span + strong`` list and ``div.bo-desc``."""
    quantity = (
        f"\n  <li><span>Quantity Required:</span> <strong>{escape(offer.quantity)}</strong></li>"
        if offer.quantity
        else ""
    )
    text = "\n".join(f"  <p>{escape(line)}</p>" for line in offer.description.split("\n"))
    category = f'<a href="{_list_href(offer.category, 1)}">{escape(category_name(offer.category))}</a>'
    body = f"""<div class="breadcrumb"><a href="/">Importers</a> &raquo;
 {category} &raquo; <span>Buy Offer</span></div>
<div class="bo-buyoffer-box">
 <h1>{escape(offer.title)}</h1>
 <ul class="bo-attributes">
  <li><span>Posted Date:</span> <strong>{offer_date(offer.posted_on)}</strong></li>
  <li><span>Buyer Country:</span> <strong>{escape(offer.country)}</strong></li>{quantity}
  <li><span>Category:</span> <strong>{category}</strong></li>
 </ul>
 <h2>Buy Offer Details</h2>
 <div class="bo-desc">
{text}
 </div>
 <a class="btn-contact" href="/members/contact-buyer/{offer.offer_id}">Contact Buyer Now</a>
</div>"""
    return _document(f"{offer.title} | Buy Offer | TradeKey.com", body, f"https://www.tradekey.com{offer.path}")


def render_detail_drift(offer: Offer) -> str:
    """A buy-offer page after a redesign (no offer box, a definition list, the text in a section)."""
    body = f"""<main class="offer-detail">
 <h2 class="offer-detail__title">{escape(offer.title)}</h2>
 <dl class="offer-detail__facts"><dt>Country</dt><dd>{escape(offer.country)}</dd>
 <dt>Posted</dt><dd>{offer.posted_on.isoformat()}</dd></dl>
 <section class="offer-detail__text">{escape(offer.description)}</section>
</main>"""
    return _document(f"{offer.title} | TradeKey", body, f"https://www.tradekey.com{offer.path}")


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="error-page"><h1>404 - Page Not Found</h1>
<p>The page {escape(path)} could not be found. The buy offer may have expired.</p>
<p><a href="/">Browse importers by category</a></p></div>"""
    return _document("Page Not Found | TradeKey.com", body, "https://importer.tradekey.com/")


class TradeKeySite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of TradeKey."""

    name = "tradekey"
    server_header = "Apache"
    robots_txt = """User-agent: *
Disallow: /{p}/members/
Disallow: /{p}/admin/
Disallow: /{p}/cgi-bin/
Disallow: /{p}/search/
Disallow: /{p}/post-buy-offer.htm

Sitemap: https://importer.tradekey.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._offers: dict[str, list[Offer]] = {}
        self._by_id: dict[str, Offer] = {}

    def build(self, today: date, now: datetime) -> None:
        """Deal each category's offers out back from ``today`` (``now`` is not needed: the site shows dates only)."""
        del now
        self._offers = build_offers(today)
        self._by_id = {offer.offer_id: offer for offers in self._offers.values() for offer in offers}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A category listing page, a buy-offer page, or the 404 page."""
        del query, now
        listing = _LIST_PATH.match(rest)
        if listing and listing.group(1) in self._offers:
            category, page = listing.group(1), max(1, int(listing.group(2) or 1))
            renderer = render_list_drift if style == "drift" else render_list
            return Reply(200, renderer(self._offers[category], category, page).encode())
        detail = _DETAIL_PATH.match(rest)
        offer = self._by_id.get(detail.group(2)) if detail else None
        if offer is not None:
            renderer_detail = render_detail_drift if style == "drift" else render_detail
            return Reply(200, renderer_detail(offer).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the offers dated ``day``, category by category in listing order."""
        return [offer.offer_id for offers in self._offers.values() for offer in offers if offer.posted_on == day]

    def expected_total(self) -> int:
        """Every offer of every category."""
        return sum(len(offers) for offers in self._offers.values())

    def offers(self, category: str) -> list[Offer]:
        """One category's offers, newest first (for tests)."""
        return list(self._offers.get(category, []))


SITE = TradeKeySite()
