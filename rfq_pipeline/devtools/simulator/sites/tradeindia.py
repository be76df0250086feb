"""The simulated TradeIndia buy-requirement list, dealt out from a hand-written seed.

The seed (``corpus/tradeindia/buy_requirements_seed.jsonl``) was written for the simulator: 58 requirements, most
from Indian buyers and some from abroad, beauty and personal care first, with hard negatives (mustard oil next to
hair oil, a hair-oil filling machine, skinny jeans) and requests cross-posted on the other simulated sites. Going
back from ``today``, each day gets 7-12 requirements; the seed is cycled in a fixed order, so a requirement comes
back under a new id about once a week. Times of day are a stable fraction of the time elapsed at ``now`` (today's
requirements are all posted before ``now``), shown in Indian Standard Time like the real site. The list is paged by
offset (``?start=N``, 25 a page). The same ``today`` and ``now`` always give the same pages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from html import escape
from pathlib import Path

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "tradeindia" / "buy_requirements_seed.jsonl"
PAGE_SIZE = 25
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 7, 12
FIRST_ID = 53_104_207
ID_STEP = 113
IST = timezone(timedelta(hours=5, minutes=30))

_LIST_PATH = "buyerRequirements.html"
_LEAD_PATH = re.compile(r"^buy-leads/[a-z0-9-]+-(\d+)\.html$")


@dataclass(frozen=True)
class Requirement:
    """One buy requirement of the simulated list."""

    lead_id: str
    posted_at: datetime
    title: str
    quantity: str
    unit: str
    city: str
    state: str
    country: str
    buyer: str
    category: str
    description: str
    frequency: str
    usage: str

    @property
    def path(self) -> str:
        """Site path of the buy-lead page (lower-case title words, then the id)."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return f"/buy-leads/{slug}-{self.lead_id}.html"

    @property
    def location(self) -> str:
        """ "City, State, Country" (no state outside India)."""
        return ", ".join(part for part in (self.city, self.state, self.country) if part)


@cache
def seed() -> tuple[dict[str, str], ...]:
    """The hand-written requirements, in the fixed order they are posted in."""
    with SEED.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(sorted(rows, key=lambda row: hash_fraction(f"tradeindia-order-{row['key']}")))


def _per_day(day_index: int) -> int:
    span = MAX_PER_DAY - MIN_PER_DAY + 1
    return MIN_PER_DAY + int(hash_fraction(f"tradeindia-day-{day_index}") * span)


def build_requirements(today: date, now: datetime) -> list[Requirement]:
    """Every requirement of the list, newest first."""
    rows = seed()
    slots: list[tuple[int, float, datetime]] = []
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        for position in range(_per_day(day_index)):
            key = f"tradeindia-slot-{day_index}-{position}"
            slots.append((day_index, hash_fraction(key), time_on_day(day, key, now)))
    slots.sort(key=lambda slot: (slot[0], -slot[1]))
    requirements = []
    for rank, (_, order, posted_at) in enumerate(slots):
        row = rows[rank % len(rows)]
        lead_id = FIRST_ID + (len(slots) - 1 - rank) * ID_STEP + int(order * (ID_STEP - 1))
        requirements.append(
            Requirement(
                lead_id=str(lead_id),
                posted_at=posted_at,
                title=row["title"],
                quantity=row["quantity"],
                unit=row["unit"],
                city=row["city"],
                state=row["state"],
                country=row["country"],
                buyer=row["buyer"],
                category=row["category"],
                description=row["description"],
                frequency=row["frequency"],
                usage=row["usage"],
            )
        )
    return requirements


def posted_on(posted_at: datetime) -> str:
    """The site's posting time in IST: "13-07-2025 02:45 PM" (AM/PM whatever the server locale)."""
    local = posted_at.astimezone(IST)
    return f"{local:%d-%m-%Y} {local.hour % 12 or 12:02d}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="canonical" href="{escape(canonical)}">
<link rel="stylesheet" href="https://tiimg.tistatic.com/new_website1/general/css/main.css">
</head>
<body>
<header class="ti-header">
 <a class="ti-logo" href="/"><img src="https://tiimg.tistatic.com/general/images/logo.png" alt="TradeIndia"></a>
 <nav class="ti-nav"><a href="/login/login.html">Sign In</a> <a href="/join_now/">Join Free</a>
  <a href="/post-buy-requirement/">Post Buy Requirement</a></nav>
</header>
<main class="ti-main">
{body}
</main>
<footer class="ti-footer">
 <p>Copyright &copy; 1996-2025 Infocom Network Private Limited. All rights reserved.</p>
</footer>
</body>
</html>
"""


def _list_href(start: int) -> str:
    return f"/{_LIST_PATH}?start={start}"


def _pagination(start: int, total: int) -> str:
    page = start // PAGE_SIZE + 1
    total_pages = max(1, -(-total // PAGE_SIZE))
    shown = min(page, total_pages)
    items = []
    if page > 1:
        prev_start = (min(page - 1, total_pages) - 1) * PAGE_SIZE
        items.append(f'<li class="prev"><a href="{_list_href(prev_start)}" rel="prev">&laquo; Prev</a></li>')
    for number in sorted({1, total_pages, *range(max(1, shown - 2), min(total_pages, shown + 2) + 1)}):
        if number == page:
            items.append(f'<li class="active"><span>{number}</span></li>')
        else:
            items.append(f'<li><a href="{_list_href((number - 1) * PAGE_SIZE)}">{number}</a></li>')
    if page < total_pages:
        items.append(f'<li class="next"><a href="{_list_href(start + PAGE_SIZE)}" rel="next">Next &raquo;</a></li>')
    return '<ul class="pagination">\n ' + "\n ".join(items) + "\n</ul>"


def _card(req: Requirement) -> str:
    return f"""<div class="req-card" id="req_{req.lead_id}">
 <div class="req-card-head">
  <h2 class="req-title"><a href="{req.path}">{escape(req.title)}</a></h2>
  <span class="req-posted">Posted On : {posted_on(req.posted_at)}</span>
 </div>
 <ul class="req-details">
  <li><label>Quantity</label><span>{escape(req.quantity)} {escape(req.unit)}</span></li>
  <li><label>Buyer Location</label><span>{escape(req.location)}</span></li>
  <li><label>Requirement Frequency</label><span>{escape(req.frequency)}</span></li>
  <li><label>Usage</label><span>{escape(req.usage)}</span></li>
  <li><label>Category</label><span>{escape(req.category)}</span></li>
 </ul>
 <p class="req-desc">{escape(req.description)}</p>
 <div class="req-buyer">Buyer : <strong>{escape(req.buyer)}</strong></div>
 <a class="btn-contact" rel="nofollow" href="/my-tradeindia/contact-buyer/?rfq={req.lead_id}">Contact Buyer</a>
</div>"""


def render_list(requirements: list[Requirement], start: int) -> str:
    """The page of the newest-first list starting at offset ``start`` (past the end: "No Buy Requirements Found")."""
    chunk = requirements[start : start + PAGE_SIZE]
    if chunk:
        summary = f"Showing {start + 1} - {start + len(chunk)} of {len(requirements)} Buy Requirements"
        results = '<div class="buyer-req-list">\n' + "\n".join(_card(req) for req in chunk) + "\n</div>"
    else:
        summary = f"{len(requirements)} Buy Requirements"
        results = '<div class="no-result">No Buy Requirements Found. Please try again later.</div>'
    body = f"""<h1 class="page-title">Latest Buy Requirements</h1>
<p class="req-summary">{summary}</p>
{results}
{_pagination(start, len(requirements))}"""
    return _document(
        "Buy Requirements, Buy Leads from Buyers | TradeIndia", body, "https://www.tradeindia.com" + _list_href(start)
    )


def render_list_drift(requirements: list[Requirement], start: int) -> str:
    """The list after a redesign: utility-class cards, relative "posted" badges and infinite scroll."""
    chunk = requirements[start : start + PAGE_SIZE]
    cards = "\n".join(
        f"""<article class="rounded-xl border p-4 shadow-sm" data-id="{req.lead_id}">
 <a class="text-lg font-semibold" href="{req.path}">{escape(req.title)}</a>
 <p class="text-sm text-gray-600">{escape(req.quantity)} {escape(req.unit)} &middot; {escape(req.location)}</p>
 <span class="badge">{posted_on(req.posted_at)}</span>
</article>"""
        for req in chunk
    )
    body = f"""<section class="grid gap-4 md:grid-cols-2" data-next="{start + PAGE_SIZE}">
{cards}
</section>
<div class="infinite-loader" aria-busy="true"></div>"""
    return _document("Buy Requirements | TradeIndia", body, "https://www.tradeindia.com" + _list_href(start))


def render_sign_in(path: str) -> str:
    """What a buy-lead page shows to a visitor: the sign-in form."""
    body = f"""<div class="login-box">
 <h1>Login to TradeIndia</h1>
 <p>Please login to view complete buyer details.</p>
 <form method="post" action="/login/login.html">
  <input type="hidden" name="redirect" value="{escape(path)}">
  <label for="email">Email / Mobile</label><input id="email" type="text" name="username">
  <label for="password">Password</label><input id="password" type="password" name="password">
  <button type="submit">Login</button>
 </form>
</div>"""
    return _document("Login | TradeIndia", body, "https://www.tradeindia.com/login/login.html")


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="error-page"><h1>404 - Page Not Found</h1>
<p>Sorry, {escape(path)} is not available.</p><p><a href="{_list_href(0)}">View latest buy requirements</a></p></div>"""
    return _document("Page Not Found | TradeIndia", body, "https://www.tradeindia.com/")


class TradeIndiaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of TradeIndia."""

    name = "tradeindia"
    server_header = "cloudflare"
    robots_txt = """User-agent: *
Disallow: /{p}/my-tradeindia/
Disallow: /{p}/login/
Disallow: /{p}/join_now/
Disallow: /{p}/post-buy-requirement/
Disallow: /{p}/search.html

Sitemap: https://www.tradeindia.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._requirements: list[Requirement] = []
        self._ids: set[str] = set()

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``, all of today's before ``now``."""
        self._requirements = build_requirements(today, now)
        self._ids = {req.lead_id for req in self._requirements}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """The list at ``?start=N``, the sign-in page of a known buy lead, or the 404 page."""
        del now
        if rest == _LIST_PATH:
            try:
                start = max(0, int(query.get("start", ["0"])[0]))
            except ValueError:
                start = 0
            renderer = render_list_drift if style == "drift" else render_list
            return Reply(200, renderer(self._requirements, start).encode())
        lead = _LEAD_PATH.match(rest)
        if lead and lead.group(1) in self._ids:
            return Reply(200, render_sign_in("/" + rest).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the requirements posted on ``day`` (UTC), newest first."""
        return [req.lead_id for req in self._requirements if req.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every requirement of the list."""
        return len(self._requirements)

    def requirements(self) -> list[Requirement]:
        """The whole list, newest first (for tests)."""
        return list(self._requirements)


SITE = TradeIndiaSite()
