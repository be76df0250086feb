"""The simulated ExportersIndia buy-lead board: the latest-leads listing (all leads or one category) and lead pages.

No saved page of the real site is available, so the page structure is a plausible design for an Indian B2B board
(see :mod:`rfq_pipeline.sources.exportersindia`). Leads are generated from the hand-written seed in
``corpus/exportersindia`` (products, buyer locations, fictional buyer companies). Each calendar day's leads depend
only on its date, so a day keeps the same leads (ids, titles, quantities) whatever day the simulator is started on;
only today's leads are squeezed into the part of the day that has passed by the frozen ``now``. Times are shown in
Indian Standard Time to the minute, so every lead is posted on a whole minute.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from html import escape
from typing import Any

from rfq_pipeline.devtools.simulator.catalog import CORPUS, hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply

NAME = "exportersindia"
SEED = CORPUS / NAME / "buy_leads_seed.json"
HISTORY_DAYS = 45  # today and the 44 days before it
MIN_PER_DAY, MAX_PER_DAY = 8, 20
PAGE_SIZE = 25
SNIPPET_CHARS = 140
NOT_DISCLOSED_SHARE = 0.4  # buyers who keep their company name to themselves
NO_QUANTITY_SHARE = 0.1  # leads whose quantity reads "Not Specified"
IST = timezone(timedelta(hours=5, minutes=30), "IST")
# Lead ids grow with time: 40 id slots per day (more than MAX_PER_DAY) counted from this date.
ID_BASE, ID_EPOCH, IDS_PER_DAY = 3_000_000, date(2024, 1, 1), 40
CONTACT_PATH = "/my-account/buy-leads/contact-buyer.htm?blid="  # behind the login, disallowed by robots.txt
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class EiLead:
    """One buy lead on the simulated ExportersIndia."""

    lead_id: str
    posted_at: datetime  # UTC, on a whole minute
    title: str
    product: str
    category: str  # URL slug of the category
    kind: str  # beauty / other / hard_negative, from the seed (for tests of the mix, never rendered)
    quantity: str  # "" when the buyer did not say
    location: str
    description: str
    company: str  # "" when not disclosed
    order_value: str
    purpose: str
    usage: str
    frequency: str
    supplier_location: str
    member_since: int

    @property
    def slug(self) -> str:
        """The lead's URL slug, from its product."""
        return re.sub(r"[^a-z0-9]+", "-", self.product.lower()).strip("-")

    @property
    def detail_path(self) -> str:
        """Site path of the lead's detail page."""
        return f"/buy-lead-details/{self.lead_id}/{self.slug}.htm"


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


def day_leads(day: date, today: date, now: datetime) -> list[EiLead]:
    """The leads posted on ``day`` (UTC), newest first."""
    seed = _seed()
    count = MIN_PER_DAY + int(hash_fraction(f"{NAME}/{day}/count") * (MAX_PER_DAY - MIN_PER_DAY + 1))
    midnight = datetime.combine(day, time(0), UTC)
    # Today's leads all fall before the frozen now; earlier days use the whole day.
    span = int((now - midnight).total_seconds()) if day == today else 86_400
    drafts: list[tuple[int, int]] = []
    for index in range(count):
        offset = int(hash_fraction(f"{NAME}/{day}/{index}/time") * span) // 60 * 60
        drafts.append((offset, index))
    drafts.sort()
    leads = []
    for rank, (offset, index) in enumerate(drafts):
        key = f"{NAME}/{day}/{index}"
        lead_id = ID_BASE + (day - ID_EPOCH).days * IDS_PER_DAY + rank
        leads.append(_make_lead(seed, key, str(lead_id), midnight + timedelta(seconds=offset)))
    leads.reverse()
    return leads


def _make_lead(seed: dict[str, Any], key: str, lead_id: str, posted_at: datetime) -> EiLead:
    product = _pick(seed["products"], key + "/product")
    location = _pick(seed["locations"], key + "/location")
    abroad = not location.endswith(", India")
    unit, low, high = _pick(product["units"], key + "/unit")
    amount = _round_amount(low + hash_fraction(key + "/amount") * (high - low))
    quantity = "" if hash_fraction(key + "/no-quantity") < NO_QUANTITY_SHARE else f"{amount} {unit}"
    disclosed = hash_fraction(key + "/disclosed") >= NOT_DISCLOSED_SHARE
    companies = seed["companies_abroad"] if abroad else seed["companies_india"]
    company = _pick(companies, key + "/company") if disclosed else ""
    purpose = _pick(seed["purposes"], key + "/purpose")
    frequency = _pick(seed["frequencies"], key + "/frequency")
    order_value = _pick(seed["order_values_abroad" if abroad else "order_values"], key + "/value")
    supplier_location = "Anywhere in India" if abroad else _pick(seed["supplier_locations"], key + "/from")
    title = _pick(seed["title_patterns"], key + "/title").format(product=product["name"])
    qty_part = f" ({quantity})" if quantity else ""
    openings = (
        f"I want to buy {product['name']}{qty_part}. Kindly send me price and other details.",
        f"We are interested in purchasing {product['name']}{qty_part} for {purpose.lower()}. "
        "Please share your best quotation with delivery time.",
        f"Looking for a reliable supplier of {product['name']}{qty_part} on a {frequency.lower()} basis. "
        "Send catalogue and price list.",
    )
    lines = [_pick(list(openings), key + "/opening")]
    lines += list(product["details"])
    lines.append(f"Usage/Application: {product['usage']}")
    return EiLead(
        lead_id=lead_id,
        posted_at=posted_at,
        title=title,
        product=product["name"],
        category=product["category"],
        kind=product["kind"],
        quantity=quantity,
        location=location,
        description="\n".join(lines),
        company=company,
        order_value=order_value,
        purpose=purpose,
        usage=product["usage"],
        frequency=frequency,
        supplier_location=supplier_location,
        member_since=2012 + int(hash_fraction(key + "/member") * 13),
    )


def ist_clock(moment: datetime) -> str:
    """A time of day as the site prints it: 12-hour IST, "02:45 PM"."""
    return moment.astimezone(IST).strftime("%I:%M %p")


def ist_date(moment: datetime) -> str:
    """A date as the site prints it: "10 Jul 2025" (IST)."""
    local = moment.astimezone(IST)
    return f"{local.day:02d} {_MONTHS[local.month - 1]} {local.year}"


def list_date(posted_at: datetime, now: datetime) -> str:
    """The listing's posting time: "Today, 02:45 PM", "Yesterday, 11:10 AM" or "10 Jul 2025, 09:05 PM" (IST)."""
    local_day = posted_at.astimezone(IST).date()
    today_ist = now.astimezone(IST).date()
    if local_day == today_ist:
        return f"Today, {ist_clock(posted_at)}"
    if local_day == today_ist - timedelta(days=1):
        return f"Yesterday, {ist_clock(posted_at)}"
    return f"{ist_date(posted_at)}, {ist_clock(posted_at)}"


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "..."


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="canonical" href="https://www.exportersindia.com{escape(canonical)}">
<link rel="stylesheet" href="https://static.exportersindia.com/css/ei-main.css">
</head>
<body>
<header class="ei-header">
 <div class="container">
  <a class="logo" href="/"><img src="https://static.exportersindia.com/images/logo.png" alt="ExportersIndia"></a>
  <form class="ei-search" action="/search.php" method="get">
   <input type="text" name="srch_catg" placeholder="Search products or buy leads">
   <button type="submit">Search</button>
  </form>
  <ul class="ei-nav">
   <li><a href="/buy-leads/">Buy Leads</a></li>
   <li><a href="/post-buy-requirement.htm">Post Requirement</a></li>
   <li><a href="/my-account/">My Account</a></li>
  </ul>
 </div>
</header>
{body}
<footer class="ei-footer">
 <div class="container"><p>&copy; ExportersIndia.com. All Rights Reserved.</p></div>
</footer>
<script src="https://static.exportersindia.com/js/ei-main.js"></script>
</body>
</html>
"""


def _list_item(lead: EiLead, now: datetime) -> str:
    quantity = escape(lead.quantity) if lead.quantity else "Not Specified"
    return f"""  <li class="bl-item" id="bl_{lead.lead_id}">
   <div class="bl-title">
    <a href="{escape(lead.detail_path)}" title="{escape(lead.title)}">{escape(lead.title)}</a>
   </div>
   <div class="bl-info">
    <span class="bl-qty"><b>Quantity :</b> {quantity}</span>
    <span class="bl-loc"><b>Location :</b> {escape(lead.location)}</span>
    <span class="bl-date"><b>Posted :</b> {list_date(lead.posted_at, now)}</span>
   </div>
   <p class="bl-desc">{escape(_snippet(lead.description))}</p>
   <div class="bl-act">
    <a class="btn-contact" rel="nofollow" href="{CONTACT_PATH}{lead.lead_id}">Contact Buyer Now</a>
    <a class="btn-view" href="{escape(lead.detail_path)}">View Details</a>
   </div>
  </li>"""


def _paging(base: str, page: int, total_pages: int) -> str:
    if total_pages <= 1 and page <= 1:
        return ""
    parts = []
    if page > 1:
        parts.append(f'<a class="prv" rel="prev" href="{base}?page={page - 1}">&laquo; Prev</a>')
    start = max(1, min(page - 2, total_pages - 4))
    for number in range(start, min(total_pages, start + 4) + 1):
        if number == page:
            parts.append(f'<span class="on">{number}</span>')
        else:
            parts.append(f'<a href="{base}?page={number}">{number}</a>')
    if page < total_pages:
        parts.append(f'<a class="nxt" rel="next" href="{base}?page={page + 1}">Next &raquo;</a>')
        parts.append(f'<a class="lst" href="{base}?page={total_pages}">Last</a>')
    else:
        parts.append('<span class="nxt dis">Next &raquo;</span>')
    return '<div class="paging">\n ' + "\n ".join(parts) + "\n</div>"


def render_list(leads: list[EiLead], category: str | None, page: int, now: datetime, *, known: bool = True) -> str:
    """Page ``page`` of the latest buy leads (``category`` None: all categories), newest first."""
    categories = _seed()["categories"]
    name = categories.get(category, "") if category else ""
    heading = f"{name} Buy Leads" if name else "Latest Buy Leads"
    base = f"/buy-leads/{category}/" if category else "/buy-leads/"
    total_pages = -(-len(leads) // PAGE_SIZE)
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        first = (page - 1) * PAGE_SIZE + 1
        summary = f"Showing {first} - {first + len(chunk) - 1} of {len(leads)} Buy Leads"
        items = '<ul class="bl-list">\n' + "\n".join(_list_item(lead, now) for lead in chunk) + "\n </ul>"
    else:
        summary = f"{len(leads)} Buy Leads" if known else "0 Buy Leads"
        items = (
            '<div class="no-record">\n  <h3>No Buy Leads Found</h3>\n'
            "  <p>There are no buy leads matching your selection right now. "
            '<a href="/post-buy-requirement.htm">Post your requirement</a> or '
            '<a href="/buy-leads/">browse all buy leads</a>.</p>\n </div>'
        )
    category_links = "\n".join(
        f'   <li><a href="/buy-leads/{slug}/">{escape(label)}</a></li>' for slug, label in categories.items()
    )
    body = f"""<div class="container bl-page">
 <ul class="breadcrumb"><li><a href="/">Home</a></li><li>Buy Leads</li></ul>
 <div class="bl-top">
  <h1>{escape(heading)}</h1>
  <p class="bl-count">{summary}</p>
 </div>
 <div class="bl-wrap">
 <aside class="bl-cats">
  <h4>Buy Leads by Category</h4>
  <ul>
{category_links}
  </ul>
 </aside>
 <div class="bl-main">
 {items}
 {_paging(base, page, total_pages)}
 </div>
 </div>
</div>"""
    return _document(f"{heading}, Buy Offers & Buying Requirements | ExportersIndia", body, base)


def render_list_drift(leads: list[EiLead], page: int, now: datetime) -> str:
    """The listing after a hypothetical redesign: the same leads as ``article.lead-card`` tiles with ISO times."""
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(
        f"""<article class="lead-card" data-id="{lead.lead_id}">
 <h3 class="lead-card__title"><a href="{escape(lead.detail_path)}">{escape(lead.title)}</a></h3>
 <div class="lead-card__meta">{escape(lead.quantity)} &middot; {escape(lead.location)} &middot;
  <time datetime="{lead.posted_at.astimezone(IST).isoformat()}">{list_date(lead.posted_at, now)}</time></div>
 <p class="lead-card__text">{escape(_snippet(lead.description))}</p>
</article>"""
        for lead in chunk
    )
    body = f"""<main class="leads-feed">
 <h1 class="leads-feed__heading">Fresh buyer requirements</h1>
 <section class="leads-feed__list">
{cards}
 </section>
 <button class="leads-feed__more" data-next="{page + 1}">Show more requirements</button>
</main>"""
    return _document("Buyer Requirements | ExportersIndia", body, "/buy-leads/")


def render_detail(lead: EiLead) -> str:
    """A lead's detail page: requirement table, full text, buyer block (company when disclosed), absolute time."""
    rows = [
        ("Quantity", lead.quantity or "Not Specified"),
        ("Approx. Order Value", lead.order_value),
        ("Purpose of Requirement", lead.purpose),
        ("Usage/Application", lead.usage),
        ("Requirement Frequency", lead.frequency),
        ("Preferred Suppliers From", lead.supplier_location),
    ]
    table = "\n".join(f"   <tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    text = "<br>\n".join(escape(line) for line in lead.description.split("\n"))
    body = f"""<div class="container bld">
 <ul class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/buy-leads/">Buy Leads</a></li>
  <li><a href="/buy-leads/{lead.category}/">{escape(_seed()["categories"][lead.category])}</a></li></ul>
 <div class="bld-main">
  <h1 class="bld-title">{escape(lead.title)}</h1>
  <div class="bld-meta">
   <span class="bld-id">Buy Lead ID : {lead.lead_id}</span>
   <span class="bld-date">Posted On : {ist_date(lead.posted_at)}, {ist_clock(lead.posted_at)}</span>
  </div>
  <table class="bld-spec">
{table}
  </table>
  <div class="bld-desc">
   <h2>Requirement Details</h2>
   <p>{text}</p>
  </div>
 </div>
 <div class="bld-buyer">
  <h2>Buyer Details</h2>
  <ul>
   <li><b>Company :</b> <span class="bld-company">{escape(lead.company) or "Not Disclosed"}</span></li>
   <li><b>Location :</b> <span class="bld-location">{escape(lead.location)}</span></li>
   <li><b>Member Since :</b> {lead.member_since}</li>
  </ul>
  <p class="bld-mask">Buyer contact details are shared with paid members only.</p>
  <a class="btn-contact" rel="nofollow" href="{CONTACT_PATH}{lead.lead_id}">Contact Buyer Now</a>
 </div>
</div>"""
    return _document(f"{lead.title} | Buy Lead from {lead.location} | ExportersIndia", body, lead.detail_path)


def render_detail_drift(lead: EiLead) -> str:
    """A detail page after a hypothetical redesign: no ``h1.bld-title``, no requirement table."""
    paragraphs = "\n".join(f"<p>{escape(line)}</p>" for line in lead.description.split("\n"))
    body = f"""<main class="lead-view">
 <h2 class="lead-view__title">{escape(lead.title)}</h2>
 <div class="lead-view__facts"><span>{escape(lead.quantity)}</span><span>{escape(lead.location)}</span></div>
 <section class="lead-view__body">
{paragraphs}
 </section>
</main>"""
    return _document(f"{lead.title} | ExportersIndia", body, lead.detail_path)


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="container error-page">
 <h1>Page Not Found</h1>
 <p>Sorry, the page {escape(path)} is not available. The buy lead may have expired.</p>
 <p><a href="/buy-leads/">See the latest buy leads</a></p>
</div>"""
    return _document("Page Not Found | ExportersIndia", body, path)


class ExportersIndiaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of ExportersIndia."""

    name = NAME
    server_header = "cloudflare"
    robots_txt = """User-agent: *
Disallow: /{p}/my-account/
Disallow: /{p}/search.php
Disallow: /{p}/cgi-bin/
Allow: /{p}/buy-leads/
Allow: /{p}/buy-lead-details/

Sitemap: https://www.exportersindia.com/sitemap.xml
"""

    def __init__(self) -> None:
        self.leads: list[EiLead] = []
        self._by_id: dict[str, EiLead] = {}

    def build(self, today: date, now: datetime) -> None:
        """Generate the leads of today and the ``HISTORY_DAYS - 1`` days before it, newest first."""
        self.leads = [
            lead for back in range(HISTORY_DAYS) for lead in day_leads(today - timedelta(days=back), today, now)
        ]
        self._by_id = {lead.lead_id: lead for lead in self.leads}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """Listing (``buy-leads/[<category>/]?page=N``), detail (``buy-lead-details/<id>/<slug>.htm``) or 404."""
        parts = [part for part in rest.split("/") if part]
        if parts and parts[0] == "buy-leads" and len(parts) <= 2:
            page = _page_number(query)
            category = parts[1] if len(parts) == 2 else None
            leads = self.leads if category is None else [lead for lead in self.leads if lead.category == category]
            if style == "drift":
                return Reply(200, render_list_drift(leads, page, now).encode())
            known = category is None or category in _seed()["categories"]
            return Reply(200, render_list(leads, category, page, now, known=known).encode())
        if len(parts) == 3 and parts[0] == "buy-lead-details" and parts[2].endswith(".htm"):
            lead = self._by_id.get(parts[1])
            if lead is not None:
                html = render_detail_drift(lead) if style == "drift" else render_detail(lead)
                return Reply(200, html.encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the leads posted on ``day`` (UTC), newest first."""
        return [lead.lead_id for lead in self.leads if lead.posted_at.date() == day]

    def expected_total(self) -> int:
        """How many leads the full listing shows."""
        return len(self.leads)


def _page_number(query: dict[str, list[str]]) -> int:
    try:
        return max(1, int(query.get("page", ["1"])[0]))
    except ValueError:
        return 1


SITE = ExportersIndiaSite()
