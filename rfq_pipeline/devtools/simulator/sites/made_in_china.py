"""The simulated Made-in-China.com sourcing-request list and request pages, dealt out from a hand-written seed.

The seed (``corpus/made_in_china/sourcing_requests_seed.jsonl``) was written for the simulator: 55 requests of
buyers sourcing from China, beauty and personal care first, with hard negatives and requests cross-posted on the
other simulated sites. Going back from ``today``, each day gets 5-10 requests; the seed is cycled in a fixed order,
so a request comes back under a new id every week or so, as buyers re-post. Times of day are a stable fraction of
the time elapsed at ``now`` (today's requests are all posted before ``now``); ids are 12-letter codes derived from
the posting order. The same ``today`` and ``now`` always give the same pages.

The list shows relative times for the last week ("5 hours ago", "3 days ago", measured from ``now`` and rounded
down) and ISO dates before that; a request page gives the exact time in China time (GMT+08:00).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from html import escape
from pathlib import Path

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "made_in_china" / "sourcing_requests_seed.jsonl"
PAGE_SIZE = 20
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 10
RELATIVE_DAYS = 7  # younger requests show "N days ago", older ones their date
CHINA_TIME = timezone(timedelta(hours=8))

_LIST_PATH = re.compile(r"^sourcing-requests/list-(\d+)\.html$")
_REQUEST_PATH = re.compile(r"^sourcing-requests/([A-Za-z]{12})/[A-Za-z0-9-]+\.html$")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Request:
    """One sourcing request of the simulated site."""

    request_id: str
    posted_at: datetime
    title: str
    quantity: str
    unit: str
    country: str
    company: str
    category: str
    description: str
    trade_terms: str
    payment: str
    valid_days: int

    @property
    def path(self) -> str:
        """Site path of the request page."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.title).strip("-")
        return f"/sourcing-requests/{self.request_id}/{slug}.html"

    @property
    def quantity_text(self) -> str:
        """The quantity as shown: thousands separators and the seed's plural unit ("20,000 Pieces")."""
        amount = f"{int(self.quantity):,}" if self.quantity.isdigit() else self.quantity
        return f"{amount} {self.unit}"


@cache
def seed() -> tuple[dict[str, object], ...]:
    """The hand-written requests, in the fixed order they are posted in."""
    with SEED.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(sorted(rows, key=lambda row: hash_fraction(f"mic-order-{row['key']}")))


def request_id(age_rank: int) -> str:
    """The 12-letter id of the ``age_rank``-th oldest request."""
    digest = hashlib.sha256(f"made_in_china-request-{age_rank}".encode()).digest()
    return "".join(_LETTERS[byte % len(_LETTERS)] for byte in digest[:12])


def _per_day(day_index: int) -> int:
    span = MAX_PER_DAY - MIN_PER_DAY + 1
    return MIN_PER_DAY + int(hash_fraction(f"mic-day-{day_index}") * span)


def build_requests(today: date, now: datetime) -> list[Request]:
    """Every request of the list, newest first."""
    rows = seed()
    slots: list[tuple[int, float, datetime]] = []
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        for position in range(_per_day(day_index)):
            key = f"mic-slot-{day_index}-{position}"
            slots.append((day_index, hash_fraction(key), time_on_day(day, key, now)))
    slots.sort(key=lambda slot: (slot[0], -slot[1]))
    requests = []
    for rank, (_, _, posted_at) in enumerate(slots):
        row = rows[rank % len(rows)]
        requests.append(
            Request(
                request_id=request_id(len(slots) - 1 - rank),
                posted_at=posted_at,
                title=str(row["title"]),
                quantity=str(row["quantity"]),
                unit=str(row["unit"]),
                country=str(row["country"]),
                company=str(row["company"]),
                category=str(row["category"]),
                description=str(row["description"]),
                trade_terms=str(row["trade_terms"]),
                payment=str(row["payment"]),
                valid_days=int(str(row["valid_days"])),
            )
        )
    if len({r.request_id for r in requests}) != len(requests):
        raise ValueError("two simulated Made-in-China requests got the same id")
    return requests


def posted_text(posted_at: datetime, now: datetime) -> str:
    """The list's posting time at ``now``: relative (rounded down) within a week, the UTC date after."""
    seconds = max(0, int((now - posted_at).total_seconds()))
    if seconds < 60:
        return "Just now"
    if seconds >= RELATIVE_DAYS * 86400:
        return posted_at.date().isoformat()
    count, unit = next(
        (seconds // size, unit) for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")) if seconds >= size
    )
    return f"{count} {unit}{'s' if count != 1 else ''} ago"


def china_time(posted_at: datetime) -> str:
    """The request page's exact posting time: "2025-07-13 17:24:05 (GMT+08:00)"."""
    return posted_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S") + " (GMT+08:00)"


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{escape(title)}</title>
<link rel="canonical" href="{escape(canonical)}">
<link rel="stylesheet" href="//www.micstatic.com/common/css/global.css">
</head>
<body>
<div id="top" class="site-top">
 <div class="site-nav"><a class="logo" href="/">Made-in-China.com</a>
  <ul class="user-nav"><li><a href="https://login.made-in-china.com/sign-in/">Sign In</a></li>
  <li><a href="https://membercenter.made-in-china.com/join/">Join Free</a></li>
  <li><a href="/sourcing-requests/post.html">Post Sourcing Request</a></li></ul>
 </div>
</div>
<div class="page-wrap">
{body}
</div>
<div class="site-footer"><p>Copyright &copy; 1998-2025 Focus Technology Co., Ltd. All Rights Reserved.</p></div>
</body>
</html>
"""


def _list_href(page: int) -> str:
    return f"/sourcing-requests/list-{page}.html"


def _pager(page: int, total_pages: int) -> str:
    parts = []
    if page > 1:
        parts.append(f'<a class="prev" href="{_list_href(min(page - 1, total_pages))}">&lt; Prev</a>')
    shown = min(page, total_pages)
    numbers = sorted({1, total_pages, *range(max(1, shown - 2), min(total_pages, shown + 2) + 1)})
    for number in numbers:
        if number == page:
            parts.append(f'<span class="current">{number}</span>')
        else:
            parts.append(f'<a href="{_list_href(number)}">{number}</a>')
    if page < total_pages:
        parts.append(f'<a class="next" href="{_list_href(page + 1)}">Next &gt;</a>')
    else:
        parts.append('<span class="next disabled">Next &gt;</span>')
    return '<div class="sr-pager">\n ' + "\n ".join(parts) + "\n</div>"


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "..."


def _item(request: Request, now: datetime) -> str:
    flag = re.sub(r"[^a-z]+", "-", request.country.lower())
    return f"""<div class="sr-item" data-rfq-id="{request.request_id}">
 <h2 class="sr-item-title"><a href="{request.path}" target="_blank">{escape(request.title)}</a></h2>
 <div class="sr-item-attrs">
  <span class="sr-qty"><i>Purchase Quantity:</i> {escape(request.quantity_text)}</span>
  <span class="sr-dest"><i>Destination:</i> <em class="flag flag-{flag}"></em>{escape(request.country)}</span>
  <span class="sr-time">{posted_text(request.posted_at, now)}</span>
 </div>
 <p class="sr-item-desc">{escape(_snippet(request.description))}</p>
 <a class="btn-quote" href="/sourcing-requests/quote/{request.request_id}">Quote Now</a>
</div>"""


def render_list(requests: list[Request], page: int, now: datetime) -> str:
    """Page ``page`` of the newest-first list (past the last page: the "No sourcing requests found" state)."""
    total_pages = max(1, -(-len(requests) // PAGE_SIZE))
    chunk = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        results = '<div class="sr-list">\n' + "\n".join(_item(request, now) for request in chunk) + "\n</div>"
    else:
        results = '<div class="sr-empty">No sourcing requests found. Try another page or category.</div>'
    body = f"""<div class="sr-head"><h1>Sourcing Requests</h1>
 <p class="sr-summary">{len(requests):,} buyers are looking for suppliers. Quote now to win new orders.</p></div>
{results}
{_pager(page, total_pages)}"""
    return _document(
        f"Sourcing Requests - Page {page} | Made-in-China.com", body, f"https://www.made-in-china.com{_list_href(page)}"
    )


def render_list_drift(requests: list[Request], page: int, now: datetime) -> str:
    """The list after a redesign: a card board with new class names and a "Load more" button."""
    chunk = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(
        f"""<div class="rfq-card"><a class="rfq-card__title" href="{request.path}">{escape(request.title)}</a>
 <div class="rfq-card__meta">{escape(request.quantity_text)} | {escape(request.country)}</div>
 <div class="rfq-card__time">{posted_text(request.posted_at, now)}</div></div>"""
        for request in chunk
    )
    body = f"""<div class="rfq-board" data-page="{page}">
{cards}
<button class="rfq-board__more" type="button">Load more</button>
</div>"""
    return _document("Sourcing Requests | Made-in-China.com", body, f"https://www.made-in-china.com{_list_href(page)}")


def render_request(request: Request) -> str:
    """A request page: facts table, buyer (when shown), full text and the exact posting time in China time."""
    valid_to = request.posted_at.astimezone(CHINA_TIME).date() + timedelta(days=request.valid_days)
    if request.company:
        buyer = f'<span class="buyer-company">{escape(request.company)}</span>'
    else:
        buyer = '<span class="buyer-hidden">Buyer information is shown to Audited Suppliers only.</span>'
    text = "\n".join(f"<p>{escape(p)}</p>" for p in request.description.split("\n"))
    body = f"""<div class="sr-detail">
 <div class="crumb"><a href="{_list_href(1)}">Sourcing Requests</a> &gt; <span>{escape(request.category)}</span></div>
 <h1 class="sr-detail-title">{escape(request.title)}</h1>
 <table class="sr-detail-info">
  <tr><th>Purchase Quantity</th><td>{escape(request.quantity_text)}</td></tr>
  <tr><th>Destination Country</th><td>{escape(request.country)}</td></tr>
  <tr><th>Trade Terms</th><td>{escape(request.trade_terms)}</td></tr>
  <tr><th>Payment Terms</th><td>{escape(request.payment)}</td></tr>
  <tr><th>Posted Time</th><td>{china_time(request.posted_at)}</td></tr>
  <tr><th>Valid To</th><td>{valid_to.isoformat()}</td></tr>
  <tr><th>Category</th><td>{escape(request.category)}</td></tr>
 </table>
 <div class="sr-detail-buyer"><span class="label">Buyer:</span> {buyer}</div>
 <div class="sr-detail-desc"><h3>Detailed Requirements</h3>
  <div class="sr-detail-text">{text}</div>
 </div>
 <a class="btn-quote" href="/sourcing-requests/quote/{request.request_id}">Quote Now</a>
</div>"""
    return _document(
        f"{request.title} - Sourcing Request | Made-in-China.com", body, f"https://www.made-in-china.com{request.path}"
    )


def render_request_drift(request: Request) -> str:
    """A request page after a redesign (no ``div.sr-detail``; facts as a definition list)."""
    body = f"""<div class="rfq-detail-v2">
 <h1 class="rfq-title">{escape(request.title)}</h1>
 <dl class="rfq-facts"><dt>Quantity</dt><dd>{escape(request.quantity_text)}</dd>
 <dt>Posted</dt><dd>{request.posted_at.isoformat()}</dd></dl>
 <section class="rfq-body">{escape(request.description)}</section>
</div>"""
    return _document(f"{request.title} | Made-in-China.com", body, f"https://www.made-in-china.com{request.path}")


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="error-404"><h1>Sorry, the page you visited does not exist.</h1>
<p>{escape(path)} may have expired or been removed.</p>
<p><a href="{_list_href(1)}">Browse Sourcing Requests</a></p></div>"""
    return _document("404 Not Found | Made-in-China.com", body, "https://www.made-in-china.com/")


class MadeInChinaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of Made-in-China.com."""

    name = "made_in_china"
    server_header = "openresty"
    robots_txt = """User-agent: *
Disallow: /{p}/sourcing-requests/quote/
Disallow: /{p}/sourcing-requests/post.html
Disallow: /{p}/membercenter/
Disallow: /{p}/inquiry/
Disallow: /{p}/cgi-bin/

Sitemap: https://www.made-in-china.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._requests: list[Request] = []
        self._by_id: dict[str, Request] = {}

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``, all of today's before ``now``."""
        self._requests = build_requests(today, now)
        self._by_id = {request.request_id: request for request in self._requests}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A list page, a request page, or the 404 page."""
        del query
        listing = _LIST_PATH.match(rest)
        if listing:
            page = max(1, int(listing.group(1)))
            renderer = render_list_drift if style == "drift" else render_list
            return Reply(200, renderer(self._requests, page, now).encode())
        detail = _REQUEST_PATH.match(rest)
        request = self._by_id.get(detail.group(1)) if detail else None
        if request is not None:
            html = render_request_drift(request) if style == "drift" else render_request(request)
            return Reply(200, html.encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the requests posted on ``day`` (UTC), newest first."""
        return [request.request_id for request in self._requests if request.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every request of the list."""
        return len(self._requests)

    def requests(self) -> list[Request]:
        """The whole list, newest first (for tests)."""
        return list(self._requests)


SITE = MadeInChinaSite()
