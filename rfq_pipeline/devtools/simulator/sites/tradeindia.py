"""The simulated TradeIndia buy-lead lists, in the markup other people's scrapers read from the live site.

No served page of these lists exists in any public source (``EVIDENCE_B.md`` section 1), so the cards follow the
selectors and values of ``admirableparham-png/go4it`` (category lists: ``div.blListCard``), ``nihao555-hub/kaifaxing``
(root list: ``div.blBuyLeadsBox``) and ``Abu1982/ABUMeta`` ("Date posted :", "Buyer is looking for ... More"):

* the root list ``/TradeLeads/buy/`` (the registered listing) shows ``div.blBuyLeadsBox`` cards: ``a.blTitle`` with
  the product, ``div.blCountry`` with a map-pin ``<svg>`` and the country's name, "Date posted : ``span.blDate``" and
  "Buyer is looking for ``span.blLookingName``", then a "More" link to the lead (ABUMeta skips lead links reading
  "More");
* a category list ``/TradeLeads/buy/<Category>/`` shows ``div.blListCard`` cards: ``a.title`` "<name> is looking for
  suppliers of <product>" (name "Buyer" when anonymous, a ``Shopping_Inquiry_<n>`` placeholder for shop enquiries),
  ``div.blCity`` "City, State" with a flag ``/countries-flags/<iso2>.jpg`` (one card in ten has none, as in go4it's
  cards), non-ASCII region names percent-encoded ("Lyon, Auvergne-Rh%C3%B4ne-Alpes"), ``span.blDate``, labelled
  ``div.blCustomData`` ("Quantity Required : ..." on about a third of cards, "Purpose : ...", glued free labels, "Want
  to Buy : Immediate") and ``div.blDiscription``: "Buyer is looking for '<product>'. <request> Contact buyer with
  your best offer." cut at 180 characters, always followed by "...", its non-ASCII text served as latin-1 mojibake.

Days are printed "29 July 2026" (zero-padded, the UTC day of the simulated post), lead links are
``/buyoffer/<id>/<slug>.html`` with the slug forms go4it saw (named, anonymous "-is-looking-for-...-", short product).
Placeholders, because the real thing is unknown: the category paths are the seed's own categories (the real beauty
category paths are not known), the page sizes (15 on the root, "about a dozen" per kaifaxing; 25 on category lists),
the paging block (numbered ``?page_no=N`` links and a ``rel=next`` link), the empty-list message, the flag image's
directory and the page around the cards. Cards carry no ``role`` attributes: kaifaxing's static-HTML reading has none
(the ARIA listbox is ABUMeta's browser-rendered view).

The leads come from the hand-written seed ``corpus/tradeindia/buy_requirements_seed.jsonl``: going back from ``today``
each day gets 5-8 leads, the seed cycled in a fixed order so a request comes back under a new id about once a week;
ids grow with posting time. Everything derives from hashes of fixed keys, so the same ``today`` and ``now`` always
give the same pages; today's leads are all posted before ``now``. Lead pages are not simulated (404).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path
from urllib.parse import quote

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.tradeindia import SPEC, lead_url

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "tradeindia" / "buy_requirements_seed.jsonl"
ROOT_PATH = "TradeLeads/buy/"
ROOT_PAGE_SIZE = 15
CATEGORY_PAGE_SIZE = 25
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 8
FIRST_ID = 17_800_411
ID_STEP = 1_373  # other buyers' leads take the ids in between
DESCRIPTION_CUT = 180
QUANTITY_SHOWN = 0.35  # go4it: quantity on 12 of 58 cards
NO_FLAG = 0.1  # go4it: 6 of 58 cards without a flag image
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_CATEGORY_PATH = re.compile(r"^TradeLeads/buy/(?P<category>[A-Za-z0-9-]+)/$")
_PIN = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="12" height="12" viewBox="0 0 24 24">'
    '<path d="M12 2C8.1 2 5 5.1 5 9c0 5.2 7 13 7 13s7-7.8 7-13c0-3.9-3.1-7-7-7z"/></svg>'
)


@dataclass(frozen=True)
class Lead:
    """One buy lead of the simulated lists."""

    lead_id: str
    posted_at: datetime
    product: str
    contact: str  # the name before "is looking for suppliers of": a person, "Buyer" or "Shopping_Inquiry_<n>"
    city: str
    state: str  # "" where the buyer gave none (the card then reads "City,")
    country: str
    country_code: str
    category: str
    quantity: str  # "" when the card does not show "Quantity Required"
    purpose: str
    custom: str  # free-form answers the site glues to the purpose ("preferred time : ...")
    description: str  # the cut request as shown, before the site's mojibake
    flag: bool
    slug: str

    @property
    def title(self) -> str:
        """The category-list title: "<name> is looking for suppliers of <product>"."""
        return f"{self.contact} is looking for suppliers of {self.product}"

    @property
    def buyer_name(self) -> str:
        """The buyer's name a reader sees, or "" for anonymous buyers and shop enquiries."""
        return "" if self.contact == "Buyer" or self.contact.startswith("Shopping_Inquiry") else self.contact

    @property
    def location(self) -> str:
        """ "City, State" as the card shows it after decoding (no trailing comma)."""
        return ", ".join(part for part in (self.city, self.state) if part)

    @property
    def path(self) -> str:
        """Site path of the lead page."""
        return f"/buyoffer/{self.lead_id}/{self.slug}.html"

    @property
    def url(self) -> str:
        """The lead page's public URL."""
        return lead_url(self.lead_id, self.slug)


@cache
def seed() -> tuple[dict[str, str], ...]:
    """The hand-written requests, in the fixed order they are posted in."""
    with SEED.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(sorted(rows, key=lambda row: hash_fraction(f"tradeindia-order-{row['key']}")))


def category_slug(category: str) -> str:
    """A category's path segment ("Cosmetic Packaging" -> "Cosmetic-Packaging")."""
    return re.sub(r"[^A-Za-z0-9]+", "-", category).strip("-")


def _words(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def _slug(contact: str, product: str, key: str) -> str:
    """The slug forms go4it's cards show: named, anonymous ("-is-looking-..."), shop enquiry, or the product only."""
    pick = hash_fraction(f"tradeindia-slug-{key}")
    if pick < 0.25:
        return _words(product)
    tail = f"is-looking-for-suppliers-of-{_words(product).lower()}-"
    if contact == "Buyer":
        return "-" + tail
    if contact.startswith("Shopping_Inquiry"):
        # The slug carries another enquiry number than the title (go4it: 27935393 vs 30318667).
        return f"Shopping-inquiry-{20_000_000 + int(pick * 10_000_000)}-{tail}"
    return f"{_words(contact)}-{tail}"


def _description(row: dict[str, str]) -> str:
    text = f"Buyer is looking for '{row['title']}'. {row['description']} Contact buyer with your best offer."
    return text[:DESCRIPTION_CUT] + "..."


def _per_day(day_index: int) -> int:
    span = MAX_PER_DAY - MIN_PER_DAY + 1
    return MIN_PER_DAY + int(hash_fraction(f"tradeindia-day-{day_index}") * span)


def build_leads(today: date, now: datetime) -> list[Lead]:
    """Every lead, newest first (the lists' order)."""
    rows = seed()
    slots: list[tuple[int, float, datetime]] = []
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        for position in range(_per_day(day_index)):
            key = f"tradeindia-slot-{day_index}-{position}"
            slots.append((day_index, hash_fraction(key), time_on_day(day, key, now)))
    slots.sort(key=lambda slot: (slot[0], -slot[1]))
    leads = []
    for rank, (_, order, posted_at) in enumerate(slots):
        row = rows[rank % len(rows)]
        lead_id = str(FIRST_ID + (len(slots) - 1 - rank) * ID_STEP + int(order * (ID_STEP - 1)))
        quantity = f"{row['quantity']} {row['unit']}"
        leads.append(
            Lead(
                lead_id=lead_id,
                posted_at=posted_at,
                product=row["title"],
                contact=row["contact"],
                city=row["city"],
                state=row["state"],
                country=row["country"],
                country_code=row["iso2"],
                category=row["category"],
                quantity=quantity if hash_fraction(f"tradeindia-qty-{lead_id}") < QUANTITY_SHOWN else "",
                purpose=row["purpose"],
                custom=row.get("custom", ""),
                description=_description(row),
                flag=hash_fraction(f"tradeindia-flag-{lead_id}") >= NO_FLAG,
                slug=_slug(row["contact"], row["title"], lead_id),
            )
        )
    return leads


def day_text(day: date) -> str:
    """TradeIndia's list date: "09 July 2026" (zero-padded day, full month name)."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


def mojibake(text: str) -> str:
    """UTF-8 bytes read as latin-1, as the site serves "Â°C" for "°C"."""
    return text.encode("utf-8").decode("latin-1")


def city_text(lead: Lead) -> str:
    """The ``blCity`` text as served: "City, State" with non-ASCII region names percent-encoded, "City," without."""
    state = lead.state if lead.state.isascii() else quote(lead.state, safe="-' ")
    return f"{lead.city}, {state}" if lead.city else state


def _box(lead: Lead) -> str:
    """A root-list card (kaifaxing's ``blBuyLeadsBox``)."""
    product = escape(lead.product, quote=False)
    return (
        f'<div class="blBuyLeadsBox"><div> <a href="{lead.path}" class="blTitle"> {product} </a> </div>\n'
        f'<div class="blCountry">{_PIN} {escape(lead.country, quote=False)} </div>\n'
        f'<div class="blPostedDate">Date posted : <span class="blDate">{day_text(lead.posted_at.date())}</span></div>\n'
        f'<div class="blBuyrLooking">Buyer is looking for <span class="blLookingName">{product}</span></div>\n'
        f'<a href="{lead.path}">More</a></div>'
    )


def _custom(lead: Lead) -> str:
    parts = []
    if lead.quantity:
        parts.append(f"Quantity Required : {lead.quantity}")
    parts.append(f"Purpose : {lead.purpose}{lead.custom}")
    parts.append("Want to Buy : Immediate")
    return " ".join(f"<span>{escape(part, quote=False)}</span>" for part in parts)


def _list_card(lead: Lead) -> str:
    """A category-list card (go4it's ``blListCard``)."""
    flag = f'<img src="/countries-flags/{lead.country_code.lower()}.jpg" width="16" height="11"> ' if lead.flag else ""
    return (
        f'<div class="blListCard">\n <a href="{lead.path}" class="title">{escape(lead.title, quote=False)}</a>\n'
        f' <div class="blCity">{flag}{escape(city_text(lead), quote=False)}</div>\n'
        f' <span class="blDate">{day_text(lead.posted_at.date())}</span>\n'
        f' <div class="blCustomData">{_custom(lead)}</div>\n'
        f' <div class="blDiscription">{escape(mojibake(lead.description), quote=False)}</div>\n</div>'
    )


def _page_href(base: str, page: int) -> str:
    return base if page == 1 else f"{base}?page_no={page}"


def _paging(base: str, page: int, total_pages: int) -> tuple[str, str]:
    """The (placeholder) paging block and head links: numbered ``page_no`` links and a ``rel=next`` link."""
    if total_pages <= 1 or page > total_pages:
        return "", ""
    links = [
        f"<span>{number}</span>" if number == page else f'<a href="{_page_href(base, number)}">{number}</a>'
        for number in range(max(1, page - 2), min(total_pages, page + 2) + 1)
    ]
    head = ""
    if page > 1:
        head += f'<link rel="prev" href="{_page_href(base, page - 1)}">\n'
    if page < total_pages:
        links.append(f'<a rel="next" href="{_page_href(base, page + 1)}">Next</a>')
        head += f'<link rel="next" href="{_page_href(base, page + 1)}">\n'
    return '<div class="pagination">' + " ".join(links) + "</div>", head


def _document(title: str, heading: str, body: str, head: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
{head}</head>
<body>
<header><a href="/">TradeIndia</a> <a href="/my-tradeindia/">My TradeIndia</a></header>
<main>
<h1>{escape(heading)}</h1>
{body}
</main>
<footer><p>Copyright &copy; Infocom Network Private Limited. All rights reserved.</p></footer>
</body>
</html>
"""


def render_list(leads: list[Lead], page: int, *, category: str | None = None) -> str:
    """Page ``page`` of the root list (``category`` None) or of a category list, newest first."""
    size = CATEGORY_PAGE_SIZE if category else ROOT_PAGE_SIZE
    base = f"/TradeLeads/buy/{category_slug(category)}/" if category else "/" + ROOT_PATH
    total_pages = max(1, -(-len(leads) // size))
    chunk = leads[(page - 1) * size : page * size]
    card = _list_card if category else _box
    if chunk:
        cards = '<div class="lead-list">\n' + "\n".join(card(lead) for lead in chunk) + "\n</div>"
    else:
        cards = '<p class="no-result">No buy leads found.</p>'  # placeholder: the real message is unknown
    paging, head = _paging(base, page, total_pages)
    heading = f"{category} Buy Leads" if category else "Latest Buy Leads"
    return _document(f"{heading} | TradeIndia", heading, f"{cards}\n{paging}", head)


def render_not_found(path: str) -> str:
    """The site's 404 page (placeholder wording)."""
    body = f"<p>Sorry, the page {escape(path)} could not be found.</p>"
    return _document("Page Not Found | TradeIndia", "Page Not Found", body, "")


class TradeIndiaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of TradeIndia."""

    name = "tradeindia"
    server_header = "cloudflare"
    # The rules of the public robots.txt copy (EVIDENCE_B.md): the lists and lead pages are not disallowed.
    robots_txt = """User-agent: *
Disallow: /{p}/TradeLeads/send_inquiry.html
Disallow: /{p}/TradeLeads/rating_all.html
Disallow: /{p}/TradeLeads/buy/access_denied.html
Disallow: /{p}/search/
Disallow: /{p}/my-tradeindia/

Sitemap: https://www.tradeindia.com/tradeleads_sitemap.xml
"""

    def __init__(self) -> None:
        self._leads: list[Lead] = []

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``, all of today's before ``now``."""
        self._leads = build_leads(today, now)

    def category(self, slug: str) -> list[Lead]:
        """The leads of one category list (its path segment), newest first."""
        return [lead for lead in self._leads if category_slug(lead.category) == slug]

    def categories(self) -> dict[str, str]:
        """Path segment -> category name of every category with leads."""
        return {category_slug(lead.category): lead.category for lead in self._leads}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A page of the root or a category list (``?page_no=N``), or the 404 page."""
        del now
        page = _page_no(query)
        html = None
        if rest == ROOT_PATH:
            html = render_list(self._leads, page)
        elif match := _CATEGORY_PATH.match(rest):
            name = self.categories().get(match.group("category"))
            if name is not None:
                html = render_list(self.category(match.group("category")), page, category=name)
        if html is None:
            return Reply(404, render_not_found("/" + rest).encode())
        return Reply(200, (redesigned(html) if style == "drift" else html).encode())

    def crawled(self) -> list[Lead]:
        """The root-list leads a crawl of the registered listing can reach: its first ``SPEC.max_pages`` pages."""
        return self._leads[: SPEC.max_pages * ROOT_PAGE_SIZE]

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the root list finds posted on ``day``, newest first."""
        return [lead.lead_id for lead in self.crawled() if lead.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every lead a crawl of the root list can reach."""
        return len(self.crawled())

    def leads(self) -> list[Lead]:
        """Every lead, newest first (for tests)."""
        return list(self._leads)


def _page_no(query: dict[str, list[str]]) -> int:
    try:
        return max(1, int(query.get("page_no", ["1"])[0]))
    except ValueError:
        return 1


SITE = TradeIndiaSite()
