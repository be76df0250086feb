"""The simulated ExportersIndia buyer lists, in the markup other people's scrapers read from the live site.

No served page of these lists exists in any public source (``EVIDENCE_B.md`` section 2), so the pages follow what
``Abu1982/ABUMeta``, ``zany555666-blip/ayel-crawler-system`` and the Playwright suite ``Subhu4/LocalTestCasesHybrid``
read from them:

* the root list ``/buyers/`` (the registered listing) with the headings the QA suite checks ("Buy Leads & Trade
  Leads from Verified Buyers", "Explore Buy Leads by Industry", "Latest Buy Leads from Verified & Genuine Buyers"),
  industry links ``/buyers/<slug>.htm`` and the leads in ``ul#buyer_lead`` (ABUMeta's id);
* industry lists ``/buyers/<slug>.htm`` headed "Buyers for <industry>", with a "Buyers" breadcrumb, the leads in
  ``ul.buyer_lead`` (ayel's class) and page N at ``/buyers/<slug>-N.htm`` (ayel's page form); an unknown slug answers
  410 with "Page Removed" in its title (ayel checks the title for it).

Each lead is an ``li``: ``div.lead_det-title h3`` "Looking for <product>", ``div.lead-location``, ``div.lead-date``,
``ul._info_p`` with ``<b>Label</b><span>Value</span>`` rows (Buyer Name, Mobile No. masked "+91-98******21", Quantity,
Requirement, Frequency, Payment Mode, Usage/Application), ``div.other_info`` with the request, an ``img._verify``
badge on verified buyers and a "Contact Buyer" button. No page shows an unmasked number.

Placeholders, because the real thing is unknown: the date text ("29 Jul 2026", the UTC day of the simulated post;
the site's own format has never been seen), the paging (a "Show More Result" link to the next page: the control's
text is the site's, that it is a link is a guess; on the root list its target ``/buyers/?page=N`` is invented, on
industry lists it is ayel's ``<slug>-N.htm``), the page size (20), the order (newest first), the location format,
the industry slugs other than ``agriculture`` and ``textiles``, the values of Requirement, Frequency and Payment Mode,
the verified badge's image and the page around the lists. The ``.buys-info-list`` activity box is not simulated (its
labels and values are not known well enough).

The leads come from the hand-written seed ``corpus/exportersindia/buy_leads_seed.json``: each day of the 45 up to
``today`` gets 5-8 leads whose product, buyer, location, amount and wording depend only on the date and position, so
a day keeps its leads whatever day the simulator starts on; today's are all posted before ``now``. A lead's id is
the parser's hash of its card (:func:`rfq_pipeline.sources.exportersindia.lead_key`), kept unique by re-drawing the
masked mobile number's visible digits in the rare case of a clash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from html import escape
from typing import Any

from rfq_pipeline.devtools.simulator.catalog import CORPUS, hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.exportersindia import SPEC, lead_key

NAME = "exportersindia"
SEED = CORPUS / NAME / "buy_leads_seed.json"
HISTORY_DAYS = 45  # today and the 44 days before it
MIN_PER_DAY, MAX_PER_DAY = 5, 8
PAGE_SIZE = 20
NO_QUANTITY_SHARE = 0.1
VERIFIED_SHARE = 0.6
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_INDUSTRY_PATH = re.compile(r"^buyers/(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*?)(?:-(?P<page>\d+))?\.htm$")


@dataclass(frozen=True)
class EiLead:
    """One buy lead on the simulated ExportersIndia."""

    lead_id: str
    key: str  # the seed key the lead is drawn from (never rendered)
    posted_at: datetime  # UTC
    product: str
    industry: str  # the industry list's slug
    kind: str  # beauty / other / hard_negative, from the seed (for tests of the mix, never rendered)
    buyer_name: str
    mobile: str  # masked as the site shows it
    location: str
    quantity: str  # "" when the card has no Quantity row
    requirement: str
    frequency: str
    payment_mode: str
    usage: str
    description: str
    verified: bool

    @property
    def heading(self) -> str:
        """The card's heading."""
        return f"Looking for {self.product}"


@cache
def _seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))


def _pick(options: list[Any], key: str) -> Any:
    return options[int(hash_fraction(key) * len(options))]


def _round_amount(value: float) -> int:
    """Two significant figures, as buyers write amounts (500, 1200, 35000)."""
    if value < 100:
        return max(1, round(value))
    magnitude = 10 ** (len(str(int(value))) - 2)
    return int(round(value / magnitude) * magnitude)


def masked_mobile(country: str, key: str) -> str:
    """A mobile number as the site masks it: "+91-98******21" (two digits, six stars, two digits)."""
    dial = _seed()["dial_codes"][country]
    first = 70 + int(hash_fraction(key + "/first") * 30) if dial == "91" else 10 + int(hash_fraction(key) * 90)
    return f"+{dial}-{first}******{int(hash_fraction(key + '/last') * 100):02d}"


def day_leads(day: date, today: date, now: datetime) -> list[EiLead]:
    """The leads posted on ``day`` (UTC), newest first."""
    count = MIN_PER_DAY + int(hash_fraction(f"{NAME}/{day}/count") * (MAX_PER_DAY - MIN_PER_DAY + 1))
    midnight = datetime.combine(day, time(0), UTC)
    # Today's leads all fall before the frozen now; earlier days use the whole day.
    span = int((now - midnight).total_seconds()) if day == today else 86_400
    drafts = sorted((int(hash_fraction(f"{NAME}/{day}/{index}/time") * span), index) for index in range(count))
    leads = [_make_lead(f"{NAME}/{day}/{index}", midnight + timedelta(seconds=offset)) for offset, index in drafts]
    leads.reverse()
    return leads


def _make_lead(key: str, posted_at: datetime, salt: int = 0) -> EiLead:
    seed = _seed()
    product = _pick(seed["products"], key + "/product")
    location = _pick(seed["locations"], key + "/location")
    country = location.rsplit(",", 1)[-1].strip()
    names = seed["buyer_names_india"] if country == "India" else seed["buyer_names_abroad"][country]
    unit, low, high = _pick(product["units"], key + "/unit")
    amount = _round_amount(low + hash_fraction(key + "/amount") * (high - low))
    quantity = "" if hash_fraction(key + "/no-quantity") < NO_QUANTITY_SHARE else f"{amount} {unit}"
    purpose = _pick(seed["purposes"], key + "/purpose")
    frequency = _pick(seed["frequencies"], key + "/frequency")
    qty_part = f" ({quantity})" if quantity else ""
    openings = (
        f"I want to buy {product['name']}{qty_part}. Kindly send me price and other details.",
        f"We are interested in purchasing {product['name']}{qty_part} for {purpose.lower()}. "
        "Please share your best quotation with delivery time.",
        f"Looking for a reliable supplier of {product['name']}{qty_part} on a {frequency.lower()} basis. "
        "Send catalogue and price list.",
    )
    description = f"{_pick(list(openings), key + '/opening')} {'. '.join(product['details'])}."
    buyer_name = _pick(names, key + "/buyer")
    mobile_key = key + "/mobile" + (f"/{salt}" if salt else "")
    mobile = masked_mobile(country, mobile_key)
    return EiLead(
        lead_id=lead_key(product["name"], buyer_name, mobile, location, quantity),
        key=key,
        posted_at=posted_at,
        product=product["name"],
        industry=product["industry"],
        kind=product["kind"],
        buyer_name=buyer_name,
        mobile=mobile,
        location=location,
        quantity=quantity,
        requirement=_pick(seed["requirements"], key + "/requirement"),
        frequency=frequency,
        payment_mode=_pick(seed["payment_modes"], key + "/payment") if hash_fraction(key + "/pay") < 0.5 else "",
        usage=product["usage"],
        description=description,
        verified=hash_fraction(key + "/verified") < VERIFIED_SHARE,
    )


def day_text(moment: datetime) -> str:
    """The simulator's date text ("29 Jul 2026"): a placeholder, the site's own format is unknown."""
    return f"{moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year}"


def _row(label: str, value: str) -> str:
    return f"<li><b>{escape(label, quote=False)}</b><span>{escape(value, quote=False)}</span></li>"


def _card(lead: EiLead) -> str:
    rows = [("Buyer Name", lead.buyer_name), ("Mobile No.", lead.mobile)]
    if lead.quantity:
        rows.append(("Quantity", lead.quantity))
    rows += [("Requirement", lead.requirement), ("Frequency", lead.frequency)]
    if lead.payment_mode:
        rows.append(("Payment Mode", lead.payment_mode))
    rows.append(("Usage/Application", lead.usage))
    verified = '<img class="_verify" src="/images/verified.png" alt="Verified Buyer"> ' if lead.verified else ""
    return f"""<li>
 <div class="lead_det-title"><h3>{escape(lead.heading, quote=False)}</h3></div>
 <div class="lead-location">{escape(lead.location, quote=False)}</div>
 <div class="lead-date">{day_text(lead.posted_at)}</div>
 <ul class="_info_p">{"".join(_row(label, value) for label, value in rows)}</ul>
 <div class="other_info">{escape(lead.description, quote=False)}</div>
 {verified}<button type="button">Contact Buyer</button>
</li>"""


def _document(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
</head>
<body>
<header><a href="/">ExportersIndia</a> <span>Call us : 9700-318-318</span></header>
<main>
{body}
</main>
<footer><p>&copy; ExportersIndia.com. All Rights Reserved.</p></footer>
</body>
</html>
"""


def _leads_block(leads: list[EiLead], attribute: str, more_href: str | None) -> str:
    cards = "\n".join(_card(lead) for lead in leads)
    more = f'\n<a href="{more_href}">Show More Result</a>' if more_href else ""
    return f"<ul {attribute}>\n{cards}\n</ul>{more}"


def render_root(leads: list[EiLead], page: int) -> str:
    """Page ``page`` of the root list ``/buyers/`` (page 1 with the industry directory)."""
    total_pages = max(1, -(-len(leads) // PAGE_SIZE))
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    more = f"/buyers/?page={page + 1}" if page < total_pages else None
    industries = "\n".join(
        f'<li><a href="/buyers/{slug}.htm">{escape(name, quote=False)}</a></li>'
        for slug, name in _seed()["industries"].items()
    )
    directory = (
        "<h2>Explore Buy Leads by Industry</h2>\n<p>Find industry-specific buy leads from verified buyers.</p>\n"
        f"<ul>\n{industries}\n</ul>\n"
        if page == 1
        else ""
    )
    body = (
        "<h1>Buy Leads &amp; Trade Leads from Verified Buyers</h1>\n"
        "<p>Access verified buy leads and trade leads by industry to connect with serious global buyers and grow your "
        "business faster.</p>\n"
        f"{directory}<h2>Latest Buy Leads from Verified &amp; Genuine Buyers</h2>\n"
        + _leads_block(chunk, 'id="buyer_lead"', more)
    )
    return _document("Buy Leads, Trade Leads from Verified Buyers | ExportersIndia", body)


def render_industry(leads: list[EiLead], slug: str, page: int) -> str:
    """Page ``page`` of an industry list ``/buyers/<slug>.htm`` (page N: ``<slug>-N.htm``)."""
    name = _seed()["industries"][slug]
    total_pages = max(1, -(-len(leads) // PAGE_SIZE))
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    more = f"/buyers/{slug}-{page + 1}.htm" if page < total_pages else None
    body = (
        '<nav><a href="/">Home</a> &gt; <a href="/buyers/">Buyers</a></nav>\n'
        f"<h1>Buyers for {escape(name, quote=False)}</h1>\n" + _leads_block(chunk, 'class="buyer_lead"', more)
    )
    return _document(f"{name} Buyers, Buy Leads | ExportersIndia", body)


def render_gone(path: str) -> str:
    """What an unknown industry or product slug answers (410, "Page Removed" in the title, as ayel checks)."""
    return _document("Page Removed | ExportersIndia", f"<p>The page {escape(path)} has been removed.</p>")


def render_not_found(path: str) -> str:
    """The site's 404 page (placeholder wording)."""
    return _document("Page Not Found | ExportersIndia", f"<p>Sorry, the page {escape(path)} was not found.</p>")


class ExportersIndiaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of ExportersIndia."""

    name = NAME
    server_header = "cloudflare"
    # The rules of the public robots.txt copy (EVIDENCE_B.md): /buyers/ is not disallowed.
    robots_txt = """User-agent: *
Disallow: /{p}/search.php
Disallow: /{p}/products-search.php
Disallow: /{p}/enquiry.htm
Disallow: /{p}/inquiry_form_catg_page.php
Disallow: /{p}/dynamic/

Sitemap: https://www.exportersindia.com/sitemap_index.xml
"""

    def __init__(self) -> None:
        self._leads: list[EiLead] = []

    def build(self, today: date, now: datetime) -> None:
        """Generate the leads of today and the ``HISTORY_DAYS - 1`` days before it, newest first, ids unique."""
        leads: list[EiLead] = []
        seen: set[str] = set()
        for back in range(HISTORY_DAYS):
            day = today - timedelta(days=back)
            for drawn in day_leads(day, today, now):
                lead, salt = drawn, 0
                while lead.lead_id in seen:
                    salt += 1
                    lead = _make_lead(drawn.key, drawn.posted_at, salt)
                seen.add(lead.lead_id)
                leads.append(lead)
        self._leads = leads

    def industry(self, slug: str) -> list[EiLead]:
        """The leads of one industry list, newest first."""
        return [lead for lead in self._leads if lead.industry == slug]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """The root list (``buyers/?page=N``), an industry list (``buyers/<slug>[-N].htm``), 410 or 404."""
        del now
        html = None
        if rest == "buyers/":
            html = render_root(self._leads, _page(query.get("page", ["1"])[0]))
        elif match := _INDUSTRY_PATH.match(rest):
            slug = match.group("slug")
            if slug in _seed()["industries"]:
                html = render_industry(self.industry(slug), slug, _page(match.group("page") or "1"))
            else:
                return Reply(410, render_gone("/" + rest).encode())
        if html is None:
            return Reply(404, render_not_found("/" + rest).encode())
        return Reply(200, (redesigned(html) if style == "drift" else html).encode())

    def crawled(self) -> list[EiLead]:
        """The root-list leads a crawl of the registered listing reaches: its first ``SPEC.max_pages`` pages."""
        return self._leads[: SPEC.max_pages * PAGE_SIZE]

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the root list finds posted on ``day`` (UTC), newest first."""
        return [lead.lead_id for lead in self.crawled() if lead.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every lead a crawl of the root list reaches."""
        return len(self.crawled())

    def leads(self) -> list[EiLead]:
        """Every lead, newest first (for tests)."""
        return list(self._leads)


def _page(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        return 1


SITE = ExportersIndiaSite()
