"""The simulated Global Sources "Sourcing Requests" board: the request listing (all or one category) and request pages.

No saved page of the real site is available, so the structure is a plausible design for a Hong Kong-based sourcing
platform (see :mod:`rfq_pipeline.sources.globalsources`). Requests are generated from the hand-written seed in
``corpus/globalsources`` (products with specs and certifications, destinations, fictional buyer companies). A day's
requests depend only on its date, so a day keeps the same requests whatever day the simulator is started on; today's
are squeezed into the part of the day that has passed by the frozen ``now``. The site prints Hong Kong time
(UTC+08:00) to the minute, so every request is posted on a whole minute.
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

NAME = "globalsources"
SEED = CORPUS / NAME / "sourcing_requests_seed.json"
HISTORY_DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 14
PAGE_SIZE = 20
SNIPPET_CHARS = 160
VALID_DAYS = 30  # requests stay open for quotations this long
MAX_QUOTES = 10
COMPANY_SHOWN_SHARE = 0.65  # the rest are shown as "Verified buyer" without a name
HKT = timezone(timedelta(hours=8), "HKT")
ID_BASE, ID_EPOCH, IDS_PER_DAY = 1_200_000_000, date(2024, 1, 1), 40
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class GsRequest:
    """One sourcing request on the simulated Global Sources."""

    rfq_id: str
    posted_at: datetime  # UTC, on a whole minute
    title: str
    category: str  # URL slug
    subcategory: str
    kind: str  # beauty / other / hard_negative, from the seed (for tests of the mix, never rendered)
    quantity: str  # "5,000 Pieces"
    destination: str
    country_code: str
    buyer_type: str
    description: str
    company: str  # "" when the buyer is shown only as "Verified buyer"
    purchase_volume: str
    target_price: str
    certifications: str
    payment_terms: str
    shipping_terms: str
    quotes: int
    sample_required: bool

    @property
    def slug(self) -> str:
        """Title words joined by hyphens, capitalised like the site's product URLs."""
        words = re.findall(r"[A-Za-z0-9]+", self.title)
        return "-".join(word[:1].upper() + word[1:] for word in words[:8])

    @property
    def detail_path(self) -> str:
        """Site path of the request's page (id followed by the request type letter "r")."""
        return f"/rfq/{self.slug}-{self.rfq_id}r.htm"


@cache
def _seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))


def _pick(options: list[Any], key: str) -> Any:
    return options[int(hash_fraction(key) * len(options))]


def _singular(unit: str) -> str:
    if unit.endswith("xes"):
        return unit[:-2]
    return unit[:-1] if unit.endswith("s") else unit


def day_requests(day: date, today: date, now: datetime) -> list[GsRequest]:
    """The requests posted on ``day`` (UTC), newest first."""
    seed = _seed()
    count = MIN_PER_DAY + int(hash_fraction(f"{NAME}/{day}/count") * (MAX_PER_DAY - MIN_PER_DAY + 1))
    midnight = datetime.combine(day, time(0), UTC)
    span = int((now - midnight).total_seconds()) if day == today else 86_400
    drafts = sorted(
        (int(hash_fraction(f"{NAME}/{day}/{index}/time") * span) // 60 * 60, index) for index in range(count)
    )
    requests = []
    for rank, (offset, index) in enumerate(drafts):
        rfq_id = str(ID_BASE + (day - ID_EPOCH).days * IDS_PER_DAY + rank)
        posted_at = midnight + timedelta(seconds=offset)
        requests.append(_make_request(seed, f"{NAME}/{day}/{index}", rfq_id, posted_at, now))
    requests.reverse()
    return requests


def _make_request(seed: dict[str, Any], key: str, rfq_id: str, posted_at: datetime, now: datetime) -> GsRequest:
    product = _pick(seed["requests"], key + "/product")
    destination, code = _pick(seed["destinations"], key + "/destination")
    unit = _pick(product["units"], key + "/unit")
    low, high = product["quantity"]
    amount = low + hash_fraction(key + "/amount") * (high - low)
    magnitude = 10 ** max(0, len(str(int(amount))) - 2)
    amount = int(round(amount / magnitude) * magnitude)
    price_low, price_high = product["price"]
    floor = price_low + hash_fraction(key + "/price") * (price_high - price_low) * 0.5
    ceiling = floor + (price_high - price_low) * 0.3
    buyer_type = _pick(seed["buyer_types"], key + "/buyer-type")
    shipping = _pick(seed["shipping_terms"], key + "/shipping")
    sample = hash_fraction(key + "/sample") < 0.6
    specs = list(product["specs"])
    article = "an" if buyer_type[0].lower() in "aeiou" else "a"
    description_lines = [
        f"We are {article} {buyer_type.lower()} in {destination} looking for a reliable manufacturer.",
        *specs,
        f"Please quote {shipping} for {amount:,} {unit.lower()} and state your MOQ and lead time.",
    ]
    if sample:
        description_lines.append("Samples are required before the bulk order.")
    # Quotes arrive over the request's life; a fresh request has few.
    age_days = max(0.0, (now - posted_at).total_seconds() / 86_400)
    quotes = min(MAX_QUOTES, int(hash_fraction(key + "/quotes") * 3 + age_days * 0.6))
    return GsRequest(
        rfq_id=rfq_id,
        posted_at=posted_at,
        title=_pick(product["titles"], key + "/title"),
        category=product["category"],
        subcategory=product["subcategory"],
        kind=product["kind"],
        quantity=f"{amount:,} {unit}",
        destination=destination,
        country_code=code,
        buyer_type=buyer_type,
        description="\n".join(description_lines),
        company=_pick(seed["companies"], key + "/company")
        if hash_fraction(key + "/named") < COMPANY_SHOWN_SHARE
        else "",
        purchase_volume=_pick(seed["purchase_volumes"], key + "/volume"),
        target_price=f"US$ {floor:.2f} - {ceiling:.2f} / {_singular(unit)}",
        certifications=", ".join(product["certifications"]),
        payment_terms=_pick(seed["payment_terms"], key + "/payment"),
        shipping_terms=shipping,
        quotes=quotes,
        sample_required=sample,
    )


def hk_date(moment: datetime) -> str:
    """The listing's visible date: "13 Jul 2025" in Hong Kong time."""
    local = moment.astimezone(HKT)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def hk_timestamp(moment: datetime) -> str:
    """The detail page's posting time: "2025-07-13 14:35 HKT"."""
    return moment.astimezone(HKT).strftime("%Y-%m-%d %H:%M") + " HKT"


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _document(title: str, body: str, canonical: str, *, scripts: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="canonical" href="https://www.globalsources.com{escape(canonical)}">
<link rel="stylesheet" href="https://s.globalsources.com/static/css/gs-rfq.css">
</head>
<body class="gs-body">
<header class="gs-header">
 <a class="gs-header__logo" href="/">Global Sources</a>
 <nav class="gs-header__nav">
  <a href="/sourcing-requests/">Sourcing Requests</a>
  <a href="/rfq/post">Post Sourcing Request</a>
  <a href="/account/signin">Sign in</a>
 </nav>
</header>
{body}
<footer class="gs-footer"><p>&copy; Global Sources. All rights reserved.</p></footer>
<script src="https://s.globalsources.com/static/js/gs-rfq.js" defer></script>{scripts}
</body>
</html>
"""


def _item(request: GsRequest) -> str:
    category = _seed()["categories"][request.category]
    flag = f'<span class="flag flag-{request.country_code.lower()}"></span>'
    posted = f'<time datetime="{request.posted_at.astimezone(HKT).isoformat()}">{hk_date(request.posted_at)}</time>'
    return f"""  <li class="rfq-item" data-rfq-id="{request.rfq_id}">
   <a class="rfq-item__title" href="{escape(request.detail_path)}">{escape(request.title)}</a>
   <div class="rfq-item__category">{escape(category)} &gt; {escape(request.subcategory)}</div>
   <dl class="rfq-item__facts">
    <dt>Order quantity</dt><dd>{escape(request.quantity)}</dd>
    <dt>Destination</dt><dd>{flag}{escape(request.destination)}</dd>
    <dt>Buyer type</dt><dd>{escape(request.buyer_type)}</dd>
    <dt>Posted</dt><dd>{posted}</dd>
   </dl>
   <p class="rfq-item__desc">{escape(_snippet(request.description))}</p>
   <div class="rfq-item__quotes">Quotations received: <b>{request.quotes}</b>/{MAX_QUOTES}</div>
   <a class="gs-btn gs-btn--primary" href="/rfq/quote?rfqId={request.rfq_id}" rel="nofollow">Quote Now</a>
  </li>"""


def _pagination(base: str, page: int, total_pages: int) -> str:
    if total_pages <= 1 and page <= 1:
        return ""
    links = []
    if page > 1:
        links.append(f'<a class="gs-pagination__prev" rel="prev" href="{base}?pageNum={page - 1}">Previous</a>')
    for number in range(max(1, page - 2), min(total_pages, page + 2) + 1):
        current = ' aria-current="page"' if number == page else ""
        links.append(f'<a class="gs-pagination__page" href="{base}?pageNum={number}"{current}>{number}</a>')
    if page < total_pages:
        links.append(f'<a class="gs-pagination__next" rel="next" href="{base}?pageNum={page + 1}">Next</a>')
    else:
        links.append('<span class="gs-pagination__next is-disabled" aria-disabled="true">Next</span>')
    return (
        f'<nav class="gs-pagination" aria-label="Pagination" data-page="{page}" data-total-pages="{total_pages}">\n  '
        + "\n  ".join(links)
        + "\n </nav>"
    )


def render_list(requests: list[GsRequest], category: str | None, page: int) -> str:
    """Page ``page`` of the sourcing requests (``category`` None: all categories), newest first."""
    categories = _seed()["categories"]
    name = categories.get(category or "", "")
    base = f"/sourcing-requests/{category}/" if category else "/sourcing-requests/"
    total_pages = -(-len(requests) // PAGE_SIZE)
    chunk = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        listing = '<ul class="rfq-list">\n' + "\n".join(_item(r) for r in chunk) + "\n </ul>"
    else:
        listing = (
            '<div class="gs-empty">\n  <p class="gs-empty__title">No sourcing requests found.</p>\n'
            '  <p>Try another category or <a href="/sourcing-requests/">view all sourcing requests</a>.</p>\n </div>'
        )
    active = ' class="is-active"'
    filters = "\n".join(
        f'   <li><a href="/sourcing-requests/{slug}/"{active if slug == category else ""}>{escape(label)}</a></li>'
        for slug, label in categories.items()
    )
    heading = f"{name} Sourcing Requests" if name else "Latest Sourcing Requests"
    body = f"""<main class="gs-rfq-list">
 <div class="gs-rfq-list__head">
  <h1>{escape(heading)}</h1>
  <p class="gs-rfq-list__summary">{len(requests):,} sourcing requests from verified buyers</p>
 </div>
 <aside class="gs-rfq-list__filters">
  <h2>Categories</h2>
  <ul>
{filters}
  </ul>
 </aside>
 <section class="gs-rfq-list__results">
 {listing}
 {_pagination(base, page, total_pages)}
 </section>
</main>"""
    return _document(f"{heading} | Global Sources", body, base)


def render_list_drift(requests: list[GsRequest], page: int) -> str:
    """The listing after a hypothetical move to a client-rendered app: an empty root and the data in a script."""
    chunk = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    state = {
        "rfqList": {
            "page": page,
            "items": [
                {
                    "id": r.rfq_id,
                    "subject": r.title,
                    "qty": r.quantity,
                    "country": r.destination,
                    "postTime": int(r.posted_at.timestamp() * 1000),
                }
                for r in chunk
            ],
        }
    }
    body = '<div id="gs-app-root"><div class="gs-skeleton" aria-busy="true"></div></div>'
    script = f"\n<script>window.__GS_STATE__ = {json.dumps(state)};</script>"
    return _document("Sourcing Requests | Global Sources", body, "/sourcing-requests/", scripts=script)


def render_detail(request: GsRequest, now: datetime) -> str:
    """A request's page: specification table, full text and the buyer panel (company when the buyer shows it)."""
    expires = request.posted_at + timedelta(days=VALID_DAYS)
    status = "Open" if now < expires else "Closed"
    rows = [
        ("Order quantity", request.quantity),
        ("Target price", request.target_price),
        ("Destination", request.destination),
        ("Shipping terms", request.shipping_terms),
        ("Payment terms", request.payment_terms),
        ("Certifications", request.certifications),
        ("Sample required", "Yes" if request.sample_required else "No"),
        ("Posted", hk_timestamp(request.posted_at)),
    ]
    table = "\n".join(f"    <tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    paragraphs = "\n".join(f"    <p>{escape(line)}</p>" for line in request.description.split("\n"))
    company = (
        f'<p class="gs-buyer__name">{escape(request.company)}</p>'
        if request.company
        else '<p class="gs-buyer__name gs-buyer__name--hidden">Verified buyer</p>'
    )
    category = _seed()["categories"][request.category]
    body = f"""<main class="gs-rfq-detail" data-rfq-id="{request.rfq_id}">
 <ol class="gs-breadcrumb"><li><a href="/sourcing-requests/">Sourcing Requests</a></li>
  <li><a href="/sourcing-requests/{request.category}/">{escape(category)}</a></li></ol>
 <h1 class="gs-rfq-detail__title">{escape(request.title)}</h1>
 <div class="gs-rfq-detail__status"><span class="gs-badge">{status}</span>
  <span class="gs-rfq-detail__expires">Valid until {hk_date(expires)}</span>
  <span class="gs-rfq-detail__quotes">{request.quotes} of {MAX_QUOTES} quotations received</span></div>
 <section class="gs-rfq-detail__specs">
  <table>
{table}
  </table>
 </section>
 <section class="gs-rfq-detail__desc">
  <h2>Request details</h2>
  <div class="gs-rfq-detail__content">
{paragraphs}
  </div>
 </section>
 <aside class="gs-buyer">
  <h2>About the buyer</h2>
  {company}
  <ul class="gs-buyer__facts">
   <li><span>Country/Region:</span> {escape(request.destination)}</li>
   <li><span>Business type:</span> {escape(request.buyer_type)}</li>
   <li><span>Annual purchasing volume:</span> {escape(request.purchase_volume)}</li>
  </ul>
 </aside>
</main>"""
    return _document(f"{request.title} - Sourcing Request | Global Sources", body, request.detail_path)


def render_detail_drift(request: GsRequest) -> str:
    """A request page after a hypothetical redesign: cards instead of the specification table, no h1."""
    body = f"""<div class="rfq-page">
 <div class="rfq-page__card"><h2>{escape(request.title)}</h2>
  <div class="rfq-page__kv"><span>Quantity</span><strong>{escape(request.quantity)}</strong></div>
  <div class="rfq-page__text">{escape(request.description)}</div></div>
</div>"""
    return _document(f"{request.title} | Global Sources", body, request.detail_path)


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<main class="gs-error">
 <h1>Sorry, the page you requested cannot be found</h1>
 <p>{escape(path)} may have been removed, or the sourcing request has closed.</p>
 <p><a href="/sourcing-requests/">Browse sourcing requests</a></p>
</main>"""
    return _document("Page not found | Global Sources", body, path)


class GlobalSourcesSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of Global Sources."""

    name = NAME
    server_header = "AkamaiGHost"
    robots_txt = """User-agent: *
Disallow: /{p}/account/
Disallow: /{p}/rfq/quote
Disallow: /{p}/rfq/post
Disallow: /{p}/search-results
Allow: /{p}/sourcing-requests/
Allow: /{p}/rfq/

Sitemap: https://www.globalsources.com/sitemap.xml
"""

    def __init__(self) -> None:
        self.requests: list[GsRequest] = []
        self._by_id: dict[str, GsRequest] = {}

    def build(self, today: date, now: datetime) -> None:
        """Generate the requests of today and the ``HISTORY_DAYS - 1`` days before it, newest first."""
        self.requests = [
            request
            for back in range(HISTORY_DAYS)
            for request in day_requests(today - timedelta(days=back), today, now)
        ]
        self._by_id = {request.rfq_id: request for request in self.requests}

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """Listing (``sourcing-requests/[<category>/]?pageNum=N``), request page (``rfq/<Slug>-<id>r.htm``) or 404."""
        parts = [part for part in rest.split("/") if part]
        if parts and parts[0] == "sourcing-requests" and len(parts) <= 2:
            page = _page_number(query)
            category = parts[1] if len(parts) == 2 else None
            chosen = self.requests if category is None else [r for r in self.requests if r.category == category]
            if style == "drift":
                return Reply(200, render_list_drift(chosen, page).encode())
            return Reply(200, render_list(chosen, category, page).encode())
        if len(parts) == 2 and parts[0] == "rfq":
            match = re.fullmatch(r"[A-Za-z0-9-]*?-?(\d+)r\.htm", parts[1])
            request = self._by_id.get(match.group(1)) if match else None
            if request is not None:
                html = render_detail_drift(request) if style == "drift" else render_detail(request, now)
                return Reply(200, html.encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids of the requests posted on ``day`` (UTC), newest first."""
        return [request.rfq_id for request in self.requests if request.posted_at.date() == day]

    def expected_total(self) -> int:
        """How many requests the full listing shows."""
        return len(self.requests)


def _page_number(query: dict[str, list[str]]) -> int:
    try:
        return max(1, int(query.get("pageNum", ["1"])[0]))
    except ValueError:
        return 1


SITE = GlobalSourcesSite()
