"""The simulated EC21 buying-lead list, dealt out from a hand-written seed of requests.

The seed (``corpus/ec21/buy_leads_seed.jsonl``) was written for the simulator: 56 requests across industries, beauty
and personal care first, with hard negatives and requests cross-posted on the other simulated sites. Going back
from ``today``, each day gets 5-8 leads; the seed is cycled in a fixed order, so a request comes back as a new lead
(new id) every few weeks, as buyers re-post on the real board. Lead ids grow with posting time; times of day are a
stable fraction of the time elapsed at ``now``, so today's leads are all posted before ``now``. Everything is
derived from hashes of fixed keys: the same ``today`` always gives the same leads, ids and dates.

Lead pages keep the buyer's contact behind a premium sign-in, which is what the simulator answers there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "ec21" / "buy_leads_seed.jsonl"
PAGE_SIZE = 30
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 8
FIRST_ID = 24_380_011
ID_STEP = 37  # other members' leads (not on this list) take the ids in between

_LIST_PATH = "buy-leads/list.html"
_LEAD_PATH = re.compile(r"^buy-lead/([A-Za-z0-9_]+)--(\d+)\.html$")


@dataclass(frozen=True)
class Lead:
    """One buying lead of the simulated list."""

    lead_id: str
    posted_at: datetime
    title: str
    quantity: str
    unit: str
    country: str
    country_code: str
    company: str
    category: str
    description: str
    valid_days: int

    @property
    def slug(self) -> str:
        """The title as the site writes it in URLs ("Women's Jeans" -> "Women_s_Jeans")."""
        return re.sub(r"[^A-Za-z0-9]+", "_", self.title).strip("_")

    @property
    def path(self) -> str:
        """Site path of the lead page."""
        return f"/buy-lead/{self.slug}--{self.lead_id}.html"


@cache
def seed() -> tuple[dict[str, object], ...]:
    """The hand-written requests, in the fixed order they are posted in."""
    with SEED.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(sorted(rows, key=lambda row: hash_fraction(f"ec21-order-{row['key']}")))


def _per_day(day_index: int) -> int:
    span = MAX_PER_DAY - MIN_PER_DAY + 1
    return MIN_PER_DAY + int(hash_fraction(f"ec21-day-{day_index}") * span)


def build_leads(today: date, now: datetime) -> list[Lead]:
    """Every lead of the list, newest first."""
    rows = seed()
    slots: list[tuple[int, float, datetime]] = []  # (day index, order key, posted at)
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        for position in range(_per_day(day_index)):
            key = f"ec21-slot-{day_index}-{position}"
            slots.append((day_index, hash_fraction(key), time_on_day(day, key, now)))
    # Newest first: by day, then by the hash fraction that places the time of day (independent of ``now``).
    slots.sort(key=lambda slot: (slot[0], -slot[1]))
    leads = []
    for rank, (_, order, posted_at) in enumerate(slots):
        row = rows[rank % len(rows)]
        age_rank = len(slots) - 1 - rank
        lead_id = FIRST_ID + age_rank * ID_STEP + int(order * (ID_STEP - 1))
        leads.append(
            Lead(
                lead_id=str(lead_id),
                posted_at=posted_at,
                title=str(row["title"]),
                quantity=str(row["quantity"]),
                unit=str(row["unit"]),
                country=str(row["country"]),
                country_code=str(row["country_code"]),
                company=str(row["company"]),
                category=str(row["category"]),
                description=str(row["description"]),
                valid_days=int(str(row["valid_days"])),
            )
        )
    return leads


def dot_date(day: date) -> str:
    """EC21's date format: "2025.07.13"."""
    return f"{day.year}.{day.month:02d}.{day.day:02d}"


def quantity_text(lead: Lead) -> str:
    """The quantity as the list shows it, with thousands separators: "20,000 Piece"."""
    amount = f"{int(lead.quantity):,}" if lead.quantity.isdigit() else lead.quantity
    return f"{amount} {lead.unit}"


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{escape(title)}</title>
<link rel="canonical" href="{escape(canonical)}">
<link rel="stylesheet" href="//img.ec21.com/css/common.css">
</head>
<body>
<div id="gnb">
 <h1 class="logo"><a href="/"><img src="//img.ec21.com/images/logo.png" alt="EC21 - Global B2B Marketplace"></a></h1>
 <ul class="util">
  <li><a href="/member/login.jsp">Sign In</a></li>
  <li><a href="/member/join.jsp">Join Free</a></li>
  <li><a href="/buy-leads/post.html">Post Buying Lead</a></li>
 </ul>
</div>
<div id="container">
{body}
</div>
<div id="footer"><p class="copy">Copyright &copy; EC21 Inc. All Rights Reserved.</p></div>
</body>
</html>
"""


def _list_href(page: int) -> str:
    return f"/{_LIST_PATH}?sort=recent&amp;page={page}"


def _paging(page: int, total_pages: int) -> str:
    parts = []
    if page > 1:
        parts.append(f'<a class="first" href="{_list_href(1)}">First</a>')
        parts.append(f'<a class="prev" href="{_list_href(min(page - 1, total_pages))}">Prev</a>')
    start = max(1, min(page - 4, total_pages - 9))
    for number in range(start, min(total_pages, start + 9) + 1):
        if number == page:
            parts.append(f'<strong class="on">{number}</strong>')
        else:
            parts.append(f'<a href="{_list_href(number)}">{number}</a>')
    if page < total_pages:
        parts.append(f'<a class="next" href="{_list_href(page + 1)}">Next</a>')
        parts.append(f'<a class="last" href="{_list_href(total_pages)}">Last</a>')
    else:
        parts.append('<span class="next off">Next</span>')
    return '<div class="paging">\n ' + "\n ".join(parts) + "\n</div>"


def _item(lead: Lead) -> str:
    posted = lead.posted_at.date()
    company = escape(lead.company) if lead.company else "Not disclosed"
    code = lead.country_code
    flag = f'<img src="//img.ec21.com/images/flag/{code}.gif" alt="{code}" width="18" height="12">'
    return f"""<li class="buylead_item">
 <div class="bl_subject"><span class="ico_buy">Buy</span> <a href="{lead.path}">{escape(lead.title)}</a></div>
 <table class="bl_spec">
  <tr><th>Quantity</th><td>{escape(quantity_text(lead))}</td></tr>
  <tr><th>Buyer</th><td>{company}</td></tr>
  <tr><th>Country</th><td>{flag} {escape(lead.country)}</td></tr>
  <tr><th>Category</th><td>{escape(lead.category)}</td></tr>
  <tr><th>Posted</th><td>{dot_date(posted)}</td></tr>
  <tr><th>Valid until</th><td>{dot_date(posted + timedelta(days=lead.valid_days))}</td></tr>
 </table>
 <p class="bl_desc">{escape(lead.description)}</p>
 <a class="btn_inquire" href="/member/login.jsp?returnUrl={escape(lead.path)}">Send Inquiry</a>
</li>"""


def render_list(leads: list[Lead], page: int) -> str:
    """Page ``page`` of the newest-first list (past the last page: the "no buying leads" state)."""
    total_pages = max(1, -(-len(leads) // PAGE_SIZE))
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        results = '<ul class="buylead_list">\n' + "\n".join(_item(lead) for lead in chunk) + "\n</ul>"
    else:
        results = '<p class="no_data">There are no buying leads matching your request.</p>'
    body = f"""<div class="buyleads_wrap">
 <h2 class="tit_page">Buying Leads</h2>
 <div class="list_top">
  <span class="total">Total <strong>{len(leads):,}</strong> Buying Leads</span>
  <span class="sort">Sort by <a class="on" href="{_list_href(1)}">Latest</a></span>
 </div>
{results}
{_paging(page, total_pages)}
</div>"""
    return _document("Buying Leads, Offers to Buy | EC21", body, f"https://www.ec21.com{_list_href(page)}")


def render_list_drift(leads: list[Lead], page: int) -> str:
    """The list after a move to a client-rendered app: hashed class names and the data in ``__NEXT_DATA__``."""
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(
        f"""<article class="LeadCard_card__Qx2f">
<a class="LeadCard_title__k81" href="{lead.path}">{escape(lead.title)}</a>
<span class="LeadCard_meta__9sd">{escape(lead.country)} &middot; {lead.posted_at.date().isoformat()}</span></article>"""
        for lead in chunk
    )
    leads_data = [{"id": lead.lead_id, "subject": lead.title} for lead in chunk]
    # "</" would end the script element early; JSON allows the escaped slash.
    data = json.dumps({"props": {"pageProps": {"page": page, "leads": leads_data}}}).replace("</", "<\\/")
    body = f"""<div id="__next"><main class="BuyLeads_main__3kd9"><section class="BuyLeads_list__a81">
{cards}
</section></main></div>
<script id="__NEXT_DATA__" type="application/json">{data}</script>"""
    return _document("Buying Leads | EC21", body, f"https://www.ec21.com{_list_href(page)}")


def render_sign_in(path: str) -> str:
    """What a lead page shows without a premium account: the sign-in form."""
    body = f"""<div class="login_wrap">
 <h2>Sign In</h2>
 <p class="txt">Buyer contact details are available to Premium members. Please sign in to continue.</p>
 <form name="loginForm" method="post" action="/member/login.jsp">
  <input type="hidden" name="returnUrl" value="{escape(path)}">
  <label for="user_id">EC21 ID</label><input id="user_id" type="text" name="user_id">
  <label for="user_pw">Password</label><input id="user_pw" type="password" name="user_pw">
  <button type="submit" class="btn_login">Sign In</button>
 </form>
</div>"""
    return _document("Sign In | EC21", body, "https://www.ec21.com/member/login.jsp")


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="error_wrap"><h2>Page Not Found</h2>
<p>The page you requested ({escape(path)}) does not exist or has been removed.</p>
<p><a href="{_list_href(1)}">Go to Buying Leads</a></p></div>"""
    return _document("Page Not Found | EC21", body, "https://www.ec21.com/")


class Ec21Site:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of EC21."""

    name = "ec21"
    server_header = "nginx"
    robots_txt = """User-agent: *
Disallow: /{p}/member/
Disallow: /{p}/mybiz/
Disallow: /{p}/admin/
Disallow: /{p}/inquiry/
Disallow: /{p}/buy-leads/post.html

Sitemap: https://www.ec21.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._leads: list[Lead] = []
        self._ids: set[str] = set()

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``."""
        self._leads = build_leads(today, now)
        self._ids = {lead.lead_id for lead in self._leads}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """The list page, the sign-in page of a known lead, or the 404 page."""
        del now
        if rest == _LIST_PATH:
            try:
                page = max(1, int(query.get("page", ["1"])[0]))
            except ValueError:
                page = 1
            html = render_list_drift(self._leads, page) if style == "drift" else render_list(self._leads, page)
            return Reply(200, html.encode())
        lead = _LEAD_PATH.match(rest)
        if lead and lead.group(2) in self._ids:
            return Reply(200, render_sign_in("/" + rest).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the leads posted on ``day``, newest first."""
        return [lead.lead_id for lead in self._leads if lead.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every lead of the list."""
        return len(self._leads)

    def leads(self) -> list[Lead]:
        """The whole list, newest first (for tests)."""
        return list(self._leads)


SITE = Ec21Site()
