"""The simulated EC21 buying-lead lists, in the markup ``importer.ec21.com`` serves (see the served-page fixtures).

Lists are per keyword (``/<keyword>.html``, page N at ``/<keyword>/page-N.html``) and per buyer country
(``/<ISO2>/<keyword>.html``), 20 leads a page, in an order that is **not** by date, as on the real site. Each lead is
an ``li.listLs`` with the same elements, classes, inline whitespace, date format ("25 Apr, 2026"), keyword
highlighting (``<strong>``), country flag class and premium/verified notes as the served pages; the head carries the
same JSON-LD ``ItemList`` and ``link rel=next``, the list the same counter ("(1-20 out of 267)") and paging block
(``div#pageingWrap`` with ``input#TPNum``).

The leads come from a hand-written seed (``corpus/ec21/buy_leads_seed.jsonl``): going back from ``today`` each day
gets 5-8 leads, the seed cycled in a fixed order so a request comes back under a new id every few weeks. A lead is on
a keyword's list when every word of the keyword starts a word of its title or text, as the site's search matches.
Everything derives from hashes of fixed keys: the same ``today`` always gives the same leads, ids, dates and order.
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

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, keyword_matches, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.ec21 import LISTINGS

SEED = Path(__file__).resolve().parent.parent.parent / "corpus" / "ec21" / "buy_leads_seed.jsonl"
HOST = "https://importer.ec21.com"
PAGE_SIZE = 20
DAYS = 45
MIN_PER_DAY, MAX_PER_DAY = 5, 8
FIRST_ID = 24_380_011
ID_STEP = 37  # other members' leads (not on these lists) take the ids in between
DESCRIPTION_CUT = 450  # the list shows the start of the request text, cut mid-word like the site
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Keywords the default crawl watches: expected() answers for what a crawl of the registered listings finds.
WATCHED_KEYWORDS = tuple(listing.strip("/").removesuffix(".html") for listing in LISTINGS)
_LIST_PATH = re.compile(r"^(?:(?P<cc>[A-Z]{2})/)?(?P<kw>[a-z0-9][a-z0-9-]*)(?:\.html|/page-(?P<page>\d+)\.html)$")
_LEAD_PATH = re.compile(r"^buy-lead/([A-Za-z0-9_]+)--(\d+)\.html$")
_CATEGORY_IDS = {"Health & Beauty": 22, "Food & Beverage": 15, "Chemicals": 6, "Machinery": 28}


@dataclass(frozen=True)
class Lead:
    """One buying lead of the simulated lists."""

    lead_id: str
    posted_at: datetime
    title: str
    country: str
    country_code: str
    category: str
    description: str
    premium_only: bool
    verified: bool

    def matches(self, keyword: str) -> bool:
        """Whether the site's search puts this lead on ``keyword``'s list."""
        return keyword_matches(keyword, f"{self.title} {self.description}")


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
    """Every lead, newest first (the lists show them in another order)."""
    rows = seed()
    slots: list[tuple[int, float, datetime]] = []  # (day index, order key, posted at)
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        for position in range(_per_day(day_index)):
            key = f"ec21-slot-{day_index}-{position}"
            slots.append((day_index, hash_fraction(key), time_on_day(day, key, now)))
    slots.sort(key=lambda slot: (slot[0], -slot[1]))
    leads = []
    for rank, (_, order, posted_at) in enumerate(slots):
        row = rows[rank % len(rows)]
        lead_id = FIRST_ID + (len(slots) - 1 - rank) * ID_STEP + int(order * (ID_STEP - 1))
        leads.append(
            Lead(
                lead_id=str(lead_id),
                posted_at=posted_at,
                title=f"We Buy {row['title']}",
                country=str(row["country"]),
                country_code=str(row["country_code"]),
                category=str(row["category"]),
                description=str(row["description"]),
                premium_only=hash_fraction(f"ec21-premium-{lead_id}") < 0.4,
                verified=hash_fraction(f"ec21-verified-{lead_id}") < 0.3,
            )
        )
    return leads


def day_text(day: date) -> str:
    """EC21's list date: "25 Apr, 2026" (day not zero-padded)."""
    return f"{day.day} {_MONTHS[day.month - 1]}, {day.year}"


def slug(title: str, keyword: str) -> str:
    """The site's lead slug: the title's first five words, with "strong" before the highlighted keyword word."""
    parts = keyword.lower().split("-")
    tokens: list[str] = []
    for word in re.findall(r"[A-Za-z0-9]+", title):
        if any(word.lower().startswith(part) for part in parts):
            tokens.append("strong")
        tokens.append(word)
    return "_".join(tokens[:5])


def _highlight(text: str, keyword: str) -> str:
    escaped = escape(text, quote=False)
    for part in keyword.split("-"):
        stem = part.removesuffix("s")  # the site highlights the stem's inflections too ("Chilies", "cosmetic")
        escaped = re.sub(rf"\b({re.escape(stem)}\w*)", r"<strong>\1</strong>", escaped, flags=re.I)
    return escaped


def lead_url(lead: Lead, keyword: str) -> str:
    """The lead's link on ``keyword``'s list."""
    return f"{HOST}/buy-lead/{slug(lead.title, keyword)}--{lead.lead_id}.html"


def _list_url(keyword: str, country: str | None, page: int) -> str:
    prefix = f"{HOST}/{country}/{keyword}" if country else f"{HOST}/{keyword}"
    return f"{prefix}.html" if page == 1 else f"{prefix}/page-{page}.html"


def _item(lead: Lead, keyword: str) -> str:
    code = f"OF00{int(lead.lead_id):08d}"
    description = lead.description[:DESCRIPTION_CUT]
    premium = (
        'This buyer would like to receive quotations from <a rel="nofollow" '
        "href=https://www.ec21.com/html/ec/AW/PS_Overview.html>Premium Members</a> only."
        if lead.premium_only
        else ""
    )
    verified = (
        '<img src="https://image.ec21.com/img/ec/ver_mark3.gif" alt="This company has been verified." '
        'title="This company has been verified."/>'
        if lead.verified
        else ""
    )
    inquiry = "sendBuyingLeadInqGoToPremiumLogin" if lead.premium_only else "sendBuyingLeadInq"
    category_id = _CATEGORY_IDS.get(lead.category, 40)
    category_slug = re.sub(r"[^A-Za-z0-9]+", "_", lead.category).strip("_")
    country = escape(lead.country)
    return (
        '<li class="listLs positionR">\t<div class="clearfix">\t\t<div class="listLs_L buyerL">\t\t\t'
        '<div class="listLs_Lcon">\t\t\t\t<h2 class="inlineTitle">'
        f'<a onClick="makeRecentHistory(\'{code}\', 6 , 1)" href="{lead_url(lead, keyword)}" target="_blank" '
        f'title="{escape(lead.title)}" >{_highlight(lead.title, keyword)}</a></h2>\t\t\t\t'
        f"<span>{day_text(lead.posted_at.date())}</span>\t\t\t"
        f'<p class="item_txt">{_highlight(description, keyword)}</p>\t\t\t\t'
        f'<p class="item_txt">{premium}<br>  {verified}  \t\t\t\t</p>'
        f'<p class="rk_txt"><span>Related Keywords : <a href="{HOST}/{keyword}.html">{keyword.replace("-", " ")}</a>'
        f'</span><span>Categories : <a href="{HOST}/{category_slug}--{category_id}.html">{escape(lead.category)}</a>'
        "</span></p>\t\t\t</div>\t\t</div>\t\t"
        '<div class="listLs_R buyerR clearfix">\t\t\t'
        f'<div class="buyerCoun"><p><span class="cfImg11 cfImg11_{lead.country_code.lower()}" alt="{country}" '
        f'title="{country}"></span></p>{country}</div>\t\t\t'
        f'<div class="btn">  <a rel="nofollow" href="javascript:{inquiry}(\'SearchTrade|{code}\')"; '
        'class="contactBtn">Contact Now</a>\t\t\t</div>\t\t</div>\t</div></li>'
    )


def _paging(keyword: str, country: str | None, page: int, total_pages: int) -> str:
    parts = [f"<span>Page {page} of {total_pages}</span>"]
    if page > 1:
        parts.append(f'<a rel="nofollow" class="bt_pv" href="{_list_url(keyword, country, page - 1)}">'
                     '<i class="fa fa-angle-left" aria-hidden="true"></i></a>')  # fmt: skip
    first = max(1, min(page - 3, total_pages - 6))
    for number in range(first, min(total_pages, first + 6) + 1):
        if number == page:
            parts.append(f"<strong>{number}</strong>")
        else:
            nofollow = 'rel="nofollow" ' if number > 5 else ""
            parts.append(f'<a {nofollow}href="{_list_url(keyword, country, number)}">{number}</a>')
    if page < total_pages:
        next_href, last_href = _list_url(keyword, country, page + 1), _list_url(keyword, country, total_pages)
        parts.append(
            f'<a rel="nofollow" class="bt_nx" href="{next_href}"><i class="fa fa-angle-right" aria-hidden="true">'
            f'</i></a> &nbsp;<a rel="nofollow" class="bt_last" href="{last_href}">Last</a>'
        )
    return (
        '<div id="pageingWrap">\n\t\t\t\t\t\t\n\t\t\t\t\t\t<div class="pageing clearfix">\t<div class="pageL clearfix">'
        f'\t\t{"".join(parts)}</div>                    <div class="pageR"> \n'
        "                        <span>Go to Page</span>                        "
        '<input name="pageMove" id="pageMove" type="text"/> \n'
        f'                        <input type="hidden" id="TPNum" value="{total_pages}" /> \n'
        '                        <a href="javascript:movePage()">Go</a>\n                    </div> \n</div>\n'
        "\t\t\t\t\t\t\n\t\t\t\t\t</div>"
    )


def render_list(leads: list[Lead], keyword: str, country: str | None, page: int) -> str:
    """Page ``page`` of the list of ``keyword`` (in ``country`` if given) as the site serves it."""
    total = len(leads)
    total_pages = max(1, -(-total // PAGE_SIZE))
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    label = keyword.replace("-", " ")
    title = f"{label.title()} Buyers, Buying Leads, {label.title()} Importers - EC21"
    where = f" from {escape(country)}" if country else ""
    jsonld = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "name": title,
        "url": _list_url(keyword, country, page),
        "numberOfItems": len(chunk),
        "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "url": lead_url(lead, keyword), "name": lead.title}
            for i, lead in enumerate(chunk)
        ],
    }
    next_link = f'<link rel="next" href="{_list_url(keyword, country, page + 1)}">\n' if page < total_pages else ""
    prev_link = f'<link rel="prev" href="{_list_url(keyword, country, page - 1)}">\n' if page > 1 else ""
    first_shown = (page - 1) * PAGE_SIZE + 1 if chunk else 0
    counter = f"({first_shown}-{(page - 1) * PAGE_SIZE + len(chunk)} out of {total:,})"
    viewtxt = f'<span class="viewTxt">{counter}</span>' if chunk else ""
    items = "".join(_item(lead, keyword) for lead in chunk)
    # "</" would end the script element early; JSON allows the escaped slash.
    ld_json = json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/")
    ld_script = f'<script type="application/ld+json">{ld_json}</script>' if chunk else ""
    if chunk:
        results = (
            f'\t\t\t\t\t<div class="conProduct_list">\t\t<ul>{items}\t</ul></div>\n'
            f"\t\t\t\t\t{_paging(keyword, country, page, total_pages)}"
        )
    else:  # the served zero-results block: no list, no counter, no paging
        results = (
            '\t\t\t\t\t<!--results zero start-->\n\t\t\t\t\t<div class="search_err_msg">\n\t\t\t\t\t\t'
            '<div class="search_err_msg">\n\t\t\t\t\t\t\t<p class="key_msg_view">Results for '
            f'<span class="sch_key">{escape(label)}</span> : 0 Buying Lead.</p>\n\t\t\t\t\t\t\t'
            '<p class="key_w_msg">Sorry, there were no matching results.\n\t\t\t\t\t\t\t\n\t\t\t\t\t\t\t</p>\n'
            "\t\t\t\t\t\t</div>\n\t\t\t\t\t</div>"
        )
    description = f"{escape(label.title())} Buyers &#9734; Find {total} {escape(label)} buying leads{where} at EC21"
    rss = f"{HOST}/{keyword}.rss"
    breadcrumb = (
        '<ol class="clearfix"><li><a href="https://www.ec21.com/"><strong>Home</strong></a> &gt;</li>'
        f'<li><a href="{HOST}/"><strong>Buying Leads</strong></a> &gt;</li><li><strong> {escape(label)}</strong> : '
        f"<strong>{total}</strong> Buying Leads from Buyers</li></ol>"
    )
    return f"""



<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en">
<head>
<base href="{HOST}"/>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title>{escape(title)}</title>
<meta name="description" content="{description}"/>
{ld_script}
<link rel="alternate" type="application/rss+xml" title="EC21 New Buying Leads - {escape(label)}" href="{rss}" />
{prev_link}{next_link}</head>
<body>
\t\t\t<article class="conCenter_sch">
\t\t\t\t<div class="schMap clearfix">
\t\t\t\t\t{breadcrumb}
\t\t\t\t</div>
\t\t\t\t<div class="conCenter_wrap">
\t\t\t\t\t<div class="clearfix navSch positionR">
\t\t\t\t\t\t<div class="viewBtn">
\t\t\t\t\t\t\t{viewtxt}
\t\t\t\t\t\t</div>
\t\t\t\t\t</div>
{results}
\t\t\t\t</div>
\t\t\t</article>
</body>
</html>
"""


def render_sign_in(path: str) -> str:
    """What a lead page shows without a premium account: the sign-in form."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign In | EC21</title></head>
<body><div class="login_wrap"><h2>Sign In</h2>
<p class="txt">Buyer contact details are available to Premium members. Please sign in to continue.</p>
<form name="loginForm" method="post" action="https://www.ec21.com/global-login/login.jsp">
<input type="hidden" name="returnUrl" value="{escape(path)}">
<input id="user_id" type="text" name="user_id"><input id="user_pw" type="password" name="user_pw">
<button type="submit" class="btn_login">Sign In</button></form></div></body></html>
"""


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page Not Found - EC21</title></head>
<body><div class="error_wrap"><h2>Page Not Found</h2>
<p>The page you requested ({escape(path)}) does not exist or has been removed.</p></div></body></html>
"""


class Ec21Site:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of EC21."""

    name = "ec21"
    server_header = "Apache"
    robots_txt = """User-agent: *
Disallow: /{p}/global-login/
Disallow: /{p}/mybiz/
Disallow: /{p}/admin/
Disallow: /{p}/inquiry/

Sitemap: https://importer.ec21.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._leads: list[Lead] = []
        self._ids: set[str] = set()

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today``."""
        self._leads = build_leads(today, now)
        self._ids = {lead.lead_id for lead in self._leads}

    def listing(self, keyword: str, country: str | None = None) -> list[Lead]:
        """The leads of one keyword (and country) list, in the list's order (not by date)."""
        found = [
            lead
            for lead in self._leads
            if lead.matches(keyword) and (country is None or lead.country_code.upper() == country.upper())
        ]
        return sorted(found, key=lambda lead: hash_fraction(f"ec21-rank-{keyword}-{lead.lead_id}"))

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A list page, the sign-in page of a known lead, or the 404 page."""
        del query, now
        listing = _LIST_PATH.match(rest)
        if listing and listing.group("kw") not in ("buy-lead", "robots"):
            page = int(listing.group("page") or 1)
            keyword, country = listing.group("kw"), listing.group("cc")
            leads = self.listing(keyword, country)
            html = render_list(leads, keyword, country, page)
            return Reply(200, (redesigned(html) if style == "drift" else html).encode())
        lead = _LEAD_PATH.match(rest)
        if lead and lead.group(2) in self._ids:
            return Reply(200, render_sign_in("/" + rest).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the watched keyword lists finds posted on ``day``, newest first."""
        watched = {lead.lead_id for keyword in WATCHED_KEYWORDS for lead in self.listing(keyword)}
        return [lead.lead_id for lead in self._leads if lead.posted_at.date() == day and lead.lead_id in watched]

    def expected_total(self) -> int:
        """Every lead on a watched list."""
        return len({lead.lead_id for keyword in WATCHED_KEYWORDS for lead in self.listing(keyword)})

    def leads(self) -> list[Lead]:
        """Every lead, newest first (for tests)."""
        return list(self._leads)


SITE = Ec21Site()
