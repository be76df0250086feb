"""The simulated Made-in-China.com sourcing requests, in the markup the evidence records (no served page was seen).

What is rendered as evidenced (``EVIDENCE_B.md`` section 3, see :mod:`rfq_pipeline.sources.made_in_china`):

- the list at ``/sourcingrequest?...&page=N...`` on ``sourcing.made-in-china.com``, in both recorded URL forms (all
  requests, ``type=lastest``; one keyword, ``type=keyword&sort=post_date_desc``), as ``div.sc-list-buyer >
  ul.sc-list-bd > li`` cards holding, in the order the 2014-2017 collector's regular expression reads them,
  ``h6.title > a`` (relative link to ``/request/<12 letters>/<Title-Words>.html``), ``span.country``, ``div.price``
  with a "Purchase Quantity:" ``span`` before the quantity, ``p.desc``, ``p.date``, ``div.qty`` and ``p.date2``;
- request pages with the 2018 spider's labelled facts (``li > span.gray.info-title`` + value ``span``; "Request
  From:" in a ``span.long-name``), ``div.prod-info > div.description-info`` and ``div.ellipsis-rfq-div``;
- the 2026 situation that the list needs a supplier account, as a sign-in page at the supplier entry
  ``/suppliers.html`` (its markup is invented: a title and a password form, what any sign-in page has).

Placeholders, because the evidence does not record them: the **date format** (ISO ``2026-08-27`` on the list and the
request page, the UTC day of the posting time), the quantity format ("20,000 Pieces"), "Quote Left" as a bare number,
the description cut (160 characters), 20 requests a page, the category trail's wording, the page ``<title>``s, the
404 page and robots.txt (none found; this one allows everything). No pager is rendered (its markup is unknown; the
parser pages by the URL), and past the last page the list is an empty ``ul.sc-list-bd``.

The requests come from a hand-written seed (``corpus/made_in_china/sourcing_requests_seed.jsonl``): going back from
``today`` each day gets 5-10 requests, the seed cycled in a fixed order so a request comes back under a new id about
once a week, as buyers re-post. Times of day are a stable fraction of the time elapsed at ``now`` (today's are all
before ``now``); ids are 12-letter codes derived from the posting order. The same ``today`` and ``now`` always give
the same pages.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.made_in_china import SPEC

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "made_in_china" / "sourcing_requests_seed.jsonl"
HOST = "https://sourcing.made-in-china.com"
PAGE_SIZE = 20
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 10
MAX_QUOTES = 10
DESCRIPTION_CUT = 160

_REQUEST_PATH = re.compile(r"^request/([A-Za-z]{12})/[^/]+\.html$")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Request:
    """One sourcing request of the simulated site."""

    request_id: str
    posted_at: datetime
    key: str  # the seed row it was dealt from
    title: str
    quantity: str
    unit: str
    country: str
    category: str
    description: str
    valid_days: int
    quotes_left: int

    @property
    def slug(self) -> str:
        """The title's words joined by hyphens, as in ``/request/umgfILojYvbt/Prefab-House.html``."""
        return re.sub(r"[^A-Za-z0-9]+", "-", self.title).strip("-")

    @property
    def path(self) -> str:
        """Site path of the request page."""
        return f"/request/{self.request_id}/{self.slug}.html"

    @property
    def quantity_text(self) -> str:
        """The quantity as rendered (a placeholder format): "20,000 Pieces"."""
        amount = f"{int(self.quantity):,}" if self.quantity.isdigit() else self.quantity
        return f"{amount} {self.unit}"

    @property
    def valid_to(self) -> date:
        """The last day the request takes quotes."""
        return self.posted_at.date() + timedelta(days=self.valid_days)

    def matches(self, keyword: str) -> bool:
        """Whether a keyword search finds the request: every word of ``keyword`` starts a word of its title or text."""
        words = re.findall(r"[a-z0-9]+", f"{self.title} {self.description}".lower())
        return all(any(word.startswith(part) for word in words) for part in re.findall(r"[a-z0-9]+", keyword.lower()))


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
        identifier = request_id(len(slots) - 1 - rank)
        requests.append(
            Request(
                request_id=identifier,
                posted_at=posted_at,
                key=str(row["key"]),
                title=str(row["title"]),
                quantity=str(row["quantity"]),
                unit=str(row["unit"]),
                country=str(row["country"]),
                category=str(row["category"]),
                description=str(row["description"]),
                valid_days=int(str(row["valid_days"])),
                quotes_left=int(hash_fraction(f"mic-quotes-{identifier}") * (MAX_QUOTES + 1)),
            )
        )
    if len({r.request_id for r in requests}) != len(requests):
        raise ValueError("two simulated Made-in-China requests got the same id")
    return requests


def day_text(day: date) -> str:
    """The placeholder day format of list and request pages (the real one was never recorded)."""
    return day.isoformat()


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DESCRIPTION_CUT else flat[:DESCRIPTION_CUT].rsplit(" ", 1)[0] + "..."


def _document(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{escape(title)}</title>
</head>
<body>
{body}
</body>
</html>
"""


def _item(request: Request) -> str:
    return f"""<li>
<h6 class="title"><a href="{request.path}" target="_blank">{escape(request.title)}</a></h6>
<span class="country">{escape(request.country)}</span>
<div class="price"><span>Purchase Quantity:</span> {escape(request.quantity_text)}</div>
<p class="desc">{escape(_snippet(request.description))}</p>
<p class="date">{day_text(request.posted_at.date())}</p>
<div class="qty">{request.quotes_left}</div>
<p class="date2">{day_text(request.valid_to)}</p>
</li>"""


def render_list(requests: list[Request], page: int) -> str:
    """Page ``page`` of a list (already filtered and newest first); past its end, an empty list."""
    chunk = requests[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    items = "\n".join(_item(request) for request in chunk)
    body = f"""<div class="sc-list-buyer">
<ul class="sc-list-bd">
{items}
</ul>
</div>"""
    return _document("Sourcing Requests - Made-in-China.com", body)


def render_request(request: Request) -> str:
    """A request page with the 2018 spider's labelled facts, description and category trail."""
    text = "\n".join(f"<p>{escape(line)}</p>" for line in request.description.split("\n"))
    facts = (
        ("Purchase Quantity:", request.quantity_text),
        ("Date Posted:", day_text(request.posted_at.date())),
        ("Valid to:", day_text(request.valid_to)),
        ("Quote Left:", str(request.quotes_left)),
    )
    rows = "\n".join(
        f'<li><span class="gray info-title">{label}</span><span>{escape(value)}</span></li>' for label, value in facts
    )
    body = f"""<div class="ellipsis-rfq-div">Sourcing Requests &gt; {escape(request.category)}</div>
<h1>{escape(request.title)}</h1>
<ul>
{rows}
<li><span class="gray"><span class="long-name">Request From:</span></span><span>{escape(request.country)}</span></li>
</ul>
<div class="prod-info"><div class="description-info">
{text}
</div></div>"""
    return _document(f"{request.title} - Made-in-China.com", body)


def render_sign_in(path: str) -> str:
    """The sign-in wall in front of the supplier's request search (invented markup: title and password form)."""
    body = f"""<h1>Sign In</h1>
<p>Please sign in with your supplier account to search sourcing requests.</p>
<form method="post" action="https://login.made-in-china.com/sign-in/">
<input type="hidden" name="next" value="{escape(path)}">
<input type="text" name="username" autocomplete="username">
<input type="password" name="password" autocomplete="current-password">
<button type="submit">Sign In</button>
</form>"""
    return _document("Sign In - Made-in-China.com", body)


def render_not_found(path: str) -> str:
    """A 404 page (placeholder markup)."""
    body = f"<h1>Page Not Found</h1>\n<p>{escape(path)} does not exist or has been removed.</p>"
    return _document("Page Not Found - Made-in-China.com", body)


def _keyword(query: dict[str, list[str]]) -> str:
    return query.get("keyword", [""])[0].strip() if query.get("type", [""])[0] == "keyword" else ""


def _page(query: dict[str, list[str]]) -> int:
    value = query.get("page", ["1"])[0]
    return max(1, int(value)) if value.isdigit() else 1


class MadeInChinaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of Made-in-China.com."""

    name = "made_in_china"
    server_header = "openresty"
    robots_txt = """# Made-in-China's robots.txt was not found in the evidence: this placeholder allows everything.
User-agent: *
Allow: /{p}/
"""

    def __init__(self) -> None:
        self._requests: list[Request] = []
        self._by_id: dict[str, Request] = {}

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``, all of today's before ``now``."""
        self._requests = build_requests(today, now)
        self._by_id = {request.request_id: request for request in self._requests}

    def listing(self, keyword: str = "") -> list[Request]:
        """The requests of the list (of one keyword if given), newest first."""
        return [request for request in self._requests if not keyword or request.matches(keyword)]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A list page, a request page, the sign-in wall of the supplier entry, or the 404 page."""
        del now
        if rest == "sourcingrequest":
            html = render_list(self.listing(_keyword(query)), _page(query))
        elif rest == "suppliers.html":
            html = render_sign_in("/" + rest)
        elif (detail := _REQUEST_PATH.match(rest)) and detail.group(1) in self._by_id:
            html = render_request(self._by_id[detail.group(1)])
        else:
            return Reply(404, render_not_found("/" + rest).encode())
        return Reply(200, (redesigned(html) if style == "drift" else html).encode())

    def watched(self) -> list[Request]:
        """The requests a crawl of the registered listings can reach (each listing up to the page cap)."""
        reach = SPEC.max_pages * PAGE_SIZE
        found: dict[str, Request] = {}
        for listing in SPEC.listings:
            query = parse_qs(urlsplit(listing.format(page=1)).query, keep_blank_values=True)
            for request in self.listing(_keyword(query))[:reach]:
                found.setdefault(request.request_id, request)
        return [request for request in self._requests if request.request_id in found]

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the registered listings finds posted on ``day`` (UTC), newest first."""
        return [request.request_id for request in self.watched() if request.posted_at.date() == day]

    def expected_total(self) -> int:
        """Every request the registered listings show."""
        return len(self.watched())

    def requests(self) -> list[Request]:
        """The whole list, newest first (for tests)."""
        return list(self._requests)


SITE = MadeInChinaSite()
