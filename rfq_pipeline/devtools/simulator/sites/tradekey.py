"""The simulated TradeKey: keyword buyer lists in the markup ``www.tradekey.com`` serves (see the served-page fixtures).

Imitated from the two served pages kept as fixtures (``rfq_pipeline_tests/sources/fixtures/tradekey``: page 1 of
``/tea-buyer/`` and ``/chili-buyer/``, August 2026) and their survey (``SURVEY.md`` there). A list is per keyword,
``/<keyword>-buyer/``, page N at ``/<keyword>-buyer/page_no/N``, 25 offers a page **ordered by offer id, newest id
first, not by date**. The page has the served skeleton: the head (canonical link, the stray second ``<html>`` start
tag), the wrappers ``div#page > div#content > div.ls-wrap > div.ls-content`` down to ``div.grid > div.col-main >
div.main-wrap > div#J-items-content > div#first_div``, a header whose divs only ``</header>`` closes, the stray
``</body></html>`` pair after the exit-intent script, the breadcrumb and counter ("6,466&nbsp;Buy Offers</strong>
Page 1 of 239" in ``div.ls-filter div.item.right``), the ``div#banner_mob_7`` ad slot, and the paging block
(``div.mppagination_cont #paging``: the current page in ``<font class='normal ' dir='ltr'>``, numbered links and
``<span>Next ></span>``, absolute ``www.tradekey.com`` URLs). Each card is a ``div.listing_box`` (``list_1`` ...
``list_25``, class value with two trailing spaces; a ``top_offer`` card now and then, with the red "Instant Order
RFQ" note and a "Go Premium" button) with the served elements, classes and whitespace: the title link to
``importer.tradekey.com/buyoffer/<Slug>-<id>.html`` whose ``href`` ends in a TAB, the request text cut at 200
characters with "...", digits masked with ``*`` and the keyword in ``<b>``, the Tags span (sometimes empty), the
italic premium note on most cards, ``span.location.c_flag.f_<xx>`` (the site's names, "UAE", "USA", "UK" with
``f_uk``), the status span, "Posted on: DD Mon YYYY" and the contact link. The sidebar's "Buyers By Country" list
uses the same flag classes outside the cards, as served.

Served habits kept because a reader meets them: titles are stored HTML-escaped and escaped again on output (a reader
sees "Jars &amp; Lids", CHILI list_18); request texts are stored escaped, masked (``&#039;`` becomes ``&#**9;``,
BLUEBERRY list_8) and shown raw; the site's form template ("Name: ... Email: *******@****... Buying Products: ...
Country: ...") is the only place a buyer's name appears; the slug is the stored title with each word capitalised,
escaped again and every other run of characters made a hyphen ("...-Jars-amp-amp-Bamboo-Lids", a trailing hyphen
after a closing "%" or ")").

Inferred, since no served page shows them: pages after the first (the numbered links run over a window of five pages
around the current one, page 1 is linked by its bare URL), the last page (no Next link), a keyword without offers (a
counter of "0&nbsp;Buy Offers ... Page 1 of 1", an empty ``div#first_div`` and no paging block), a page past the
last (the 404 page), how words of a multi-word keyword are shown ("skin care") and highlighted (each word at the
start of a word of the text), the masking rule (in each run of two or more digits all but the last become ``*``,
which gives the served "**0 %" and "*0 metric tons" and keeps "1 kg"), the page count (the served counters show
fewer pages than offers / 25, for a reason unknown; here it is offers / 25). The header, the paging block's inline
style, the sidebars and the footer are short stand-ins for the ~300,000 characters of non-listing markup the served
page has. The buy-offer page at ``/buyoffer/<Slug>-<id>.html`` keeps the structure the parser reads from other
people's scrapers (``div.bo-buyoffer-box h1``, ``ul li > span + strong``, ``div.bo-desc`` with the whole request
text): no served offer page exists. Its text is escaped and masked as on the list (assumed), and its labels (Posted
Date, Buyer Country, Quantity Required, Category) are ones the parser maps.

The offers come from a seed written for the simulator (``corpus/tradekey/buy_offers_seed.jsonl``), beauty first with
hard negatives and other industries. Going back from ``today`` each day gets 5-8 offers the watched lists catch and
2-4 they do not, each pool cycled in a fixed order. Ids grow with time (anchored at the served TEA page: about
3,871,000 on 27 Aug 2026, 400 a day) and about one offer in seven is a refresh: it shows a "Posted on" day 1-4 days
after its id was given, which is why the lists are not in date order. A keyword's list holds the offers whose title
or text has every word of the keyword at the start of a word, singular or plural. Everything derives from hashes of
fixed keys: the same ``today`` gives the same offers, ids and pages.

The seed rows that the first watched list ("cosmetics") catches use only countries whose flag classes the served
cards show, so that the simulated page never carries a flag class the fixtures lack.

The 2019 URL file beside the seed (``tradekey_buyoffer_urls_2019.txt``, real ids and slugs) is no longer served;
:func:`corpus_urls` and :func:`title_from_slug` still read it for the duplicate-detection evaluation.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path

from rfq_pipeline.devtools.simulator.catalog import hash_fraction, keyword_matches, time_on_day
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.tradekey import SPEC

CORPUS = Path(__file__).resolve().parent.parent.parent / "corpus" / "tradekey"
SEED = CORPUS / "buy_offers_seed.jsonl"
URL_FILE = "tradekey_buyoffer_urls_2019.txt"
WWW = "https://www.tradekey.com"
OFFER_HOST = "https://importer.tradekey.com"
CDN = "https://int2.chinacdnb2b.com"
PAGE_SIZE = 25
DAYS = 45
MIN_WATCHED, MAX_WATCHED = 5, 8
MIN_OTHER, MAX_OTHER = 2, 4
# The served TEA page: list_1 is offer 3871699, posted 27 Aug 2026; list_6 is 3862889 of 05 Aug (about 400 ids a day).
ANCHOR_DAY, ANCHOR_ID, IDS_PER_DAY = date(2026, 8, 27), 3_871_000, 400
# The gap is small enough that today's refreshed offers stay on page 1 of their lists: a crawl after a redesign
# (read by the fallback extractor, which does not take "Next >" for a next link) reads only page 1.
REFRESH_SHARE, MAX_REFRESH_GAP = 0.15, 4
TOP_OFFER_SHARE = 0.05  # CHILI has one top_offer card in 25, TEA none
NO_PREMIUM_SHARE = 0.12  # TEA list_5 and list_6, MATCHA list_18 and list_25 lack the premium note
NO_TAGS_SHARE = 0.1
DESCRIPTION_CUT = 200  # the served cuts: 197 characters and "...", texts of up to 200 characters stay whole
TITLE_CUT = 70  # long served titles show about 67 characters and "..." (BLUEBERRY list_3, CHILI list_21)
PAGE_WINDOW = 5  # page 1 links pages 2-5
WATCHED_KEYWORDS = tuple(listing.strip("/").removesuffix("-buyer") for listing in SPEC.listings)
# Flag classes the served cards show (both fixtures); rows on the first watched list keep to these.
SERVED_FLAGS = frozenset({"ae", "af", "bj", "ch", "de", "fr", "id", "in", "ke", "kh", "my", "pt", "us", "uz"})

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LIST_PATH = re.compile(r"^(?P<kw>[a-z0-9]+(?:-[a-z0-9]+)*)-buyer/(?:page_no/(?P<page>\d+))?$")
_OFFER_PATH = re.compile(r"^buyoffer/(?P<slug>[A-Za-z0-9][A-Za-z0-9-]*?)-(?P<id>\d+)\.html$")
_URL = re.compile(r"/buyoffer/([A-Za-z0-9][A-Za-z0-9-]*?)-(\d+)\.html")
_QUANTITY_IN_SLUG = re.compile(r"-Quantity-(.+?)-?$")
_HTML_SPECIAL = {"&": "&amp;", '"': "&quot;", "'": "&#039;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True)
class Offer:
    """One buy offer of the simulated site."""

    offer_id: str
    posted_at: datetime  # the "Posted on" day (a refresh day for refreshed offers) at a time before ``now``
    title: str  # as the buyer wrote it
    product: str  # the tag words ("" for none)
    country: str  # the site's name ("UAE", "USA", "UK")
    flag: str  # the site's flag code, lower case ("uk" for the United Kingdom)
    category: str
    description: str  # as the buyer wrote it (form-template rows already masked, as the site stores them)
    quantity: str
    top_offer: bool
    premium_only: bool
    tagged: bool
    refreshed: bool

    @property
    def slug(self) -> str:
        """The site's slug: each word of the stored title capitalised, escaped again, non-alphanumerics to hyphens."""
        words = " ".join(word[:1].upper() + word[1:] for word in stored(self.title).split(" "))
        return re.sub(r"[^A-Za-z0-9]+", "-", stored(words)).lstrip("-")

    @property
    def path(self) -> str:
        """Site path of the buy-offer page."""
        return f"/buyoffer/{self.slug}-{self.offer_id}.html"

    @property
    def url(self) -> str:
        """The offer's link on the lists (on ``importer.tradekey.com``)."""
        return OFFER_HOST + self.path

    @property
    def tags(self) -> tuple[str, ...]:
        """The card's tags: the product, then "<product> Supplier", "... Manufacturer", "Bulk ..." (1-4 of them)."""
        if not self.tagged or not self.product:
            return ()
        count = 1 + int(hash_fraction(f"tradekey-tags-{self.offer_id}") * 4)
        names = (self.product, f"{self.product} Supplier", f"{self.product} Manufacturer", f"Bulk {self.product}")
        return names[:count]

    @property
    def buyer(self) -> str:
        """The name in the site's form template ("Name: ... Email:"), "" when the text is free or says "Member"."""
        match = re.match(r"Name:\s*(.+?)\s+Email:", self.description)
        name = match.group(1) if match else ""
        return "" if name.lower() == "member" else name

    def matches(self, keyword: str) -> bool:
        """Whether the site's search puts this offer on ``keyword``'s list."""
        return keyword_matches(keyword, f"{self.title} {self.description}")


def stored(text: str) -> str:
    """Text as the site stores it: HTML special characters escaped once (``'`` as ``&#039;``)."""
    return "".join(_HTML_SPECIAL.get(char, char) for char in text)


def mask_digits(text: str) -> str:
    """The site's masking of request texts: in every run of two or more digits all but the last become ``*``."""
    return re.sub(r"\d{2,}", lambda match: "*" * (len(match.group(0)) - 1) + match.group(0)[-1], text)


def list_title(offer: Offer) -> str:
    """The title as a reader of the list sees it: the stored (escaped) title, cut at 67 characters past 70."""
    title = stored(offer.title)
    return title[: TITLE_CUT - 3] + "..." if len(title) > TITLE_CUT else title


def list_description(offer: Offer) -> str:
    """The request text as the list shows it to a reader (stored, masked, cut at 197 characters plus "...")."""
    text = mask_digits(stored(offer.description))
    return text[: DESCRIPTION_CUT - 3] + "..." if len(text) > DESCRIPTION_CUT else text


def day_text(day: date) -> str:
    """TradeKey's card date: "05 Aug 2026"."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"


@cache
def seed() -> tuple[dict[str, str], ...]:
    """The requests written for the simulator, in file order."""
    with SEED.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def _watched(row: dict[str, str]) -> bool:
    probe = offer_from(row, "0", datetime.min, refreshed=False)
    return any(probe.matches(keyword) for keyword in WATCHED_KEYWORDS)


@cache
def _pools() -> tuple[tuple[dict[str, str], ...], tuple[dict[str, str], ...]]:
    """(rows the watched lists catch, other rows), each in the fixed order they are posted in."""
    ordered = sorted(seed(), key=lambda row: hash_fraction(f"tradekey-order-{row['key']}"))
    return tuple(row for row in ordered if _watched(row)), tuple(row for row in ordered if not _watched(row))


def offer_from(row: dict[str, str], offer_id: str, posted_at: datetime, *, refreshed: bool) -> Offer:
    """The offer a seed row becomes under ``offer_id`` (its card variants are picked by hashes of the id)."""
    top = hash_fraction(f"tradekey-top-{offer_id}") < TOP_OFFER_SHARE
    form = row["description"].startswith("Name:")
    return Offer(
        offer_id=offer_id,
        posted_at=posted_at,
        title=row["title"],
        product=row.get("product", ""),
        country=row["country"],
        flag=row["flag"],
        category=row.get("category", ""),
        description=row["description"],
        quantity=row.get("quantity", ""),
        top_offer=top,
        premium_only=not top and hash_fraction(f"tradekey-premium-{offer_id}") >= NO_PREMIUM_SHARE,
        # CHILI's and MATCHA's form-template cards mostly have an empty Tags span.
        tagged=not form and hash_fraction(f"tradekey-tagged-{offer_id}") >= NO_TAGS_SHARE,
        refreshed=refreshed,
    )


@dataclass(frozen=True)
class _Slot:
    key: str
    day: date
    fraction: float  # order within the day
    watched: bool
    id_day: date  # the day the offer got its id (earlier than ``day`` for a refresh)


def _slots(today: date) -> list[_Slot]:
    slots: list[_Slot] = []
    for day_index in range(DAYS):
        day = today - timedelta(days=day_index)
        counts = (
            (True, MIN_WATCHED + int(hash_fraction(f"tradekey-watched-{day}") * (MAX_WATCHED - MIN_WATCHED + 1))),
            (False, MIN_OTHER + int(hash_fraction(f"tradekey-other-{day}") * (MAX_OTHER - MIN_OTHER + 1))),
        )
        for watched, count in counts:
            for position in range(count):
                key = f"tradekey-slot-{day}-{'w' if watched else 'o'}{position}"
                gap = 0
                if hash_fraction(f"{key}-refresh") < REFRESH_SHARE:
                    gap = 1 + int(hash_fraction(f"{key}-gap") * MAX_REFRESH_GAP)
                slots.append(_Slot(key, day, hash_fraction(key), watched, day - timedelta(days=gap)))
    return slots


def build_offers(today: date, now: datetime) -> list[Offer]:
    """Every offer, newest id first (the lists' order)."""
    slots = _slots(today)
    ids: dict[str, int] = {}
    last = 0
    # Ids follow the moment each offer got its id; a collision takes the next free id, keeping the order.
    for slot in sorted(slots, key=lambda s: (s.id_day, s.fraction, s.key)):
        raw = ANCHOR_ID + (slot.id_day - ANCHOR_DAY).days * IDS_PER_DAY + int(slot.fraction * IDS_PER_DAY)
        last = ids[slot.key] = max(raw, last + 1)
    watched_rows, other_rows = _pools()
    offers: list[Offer] = []
    for watched, rows in ((True, watched_rows), (False, other_rows)):
        # Newest first through the pool, so today's offers are the first rows of the fixed order.
        mine = sorted((s for s in slots if s.watched is watched), key=lambda s: (-s.day.toordinal(), -s.fraction))
        for rank, slot in enumerate(mine):
            posted_at = time_on_day(slot.day, slot.key, now)
            offers.append(
                offer_from(rows[rank % len(rows)], str(ids[slot.key]), posted_at, refreshed=slot.id_day < slot.day)
            )
    return sorted(offers, key=lambda offer: -int(offer.offer_id))


def keyword_label(keyword: str) -> str:
    """The keyword as the page writes it ("skin-care" -> "skin care")."""
    return keyword.replace("-", " ")


def list_url(keyword: str, page: int) -> str:
    """The absolute URL of a list page as the site links it (page 1 is the bare list URL)."""
    return f"{WWW}/{keyword}-buyer/" if page == 1 else f"{WWW}/{keyword}-buyer/page_no/{page}"


def total_pages(count: int) -> int:
    """Pages of a list of ``count`` offers (an empty list is one page)."""
    return max(1, math.ceil(count / PAGE_SIZE))


def _highlight(text: str, keyword: str) -> str:
    for part in keyword.split("-"):
        text = re.sub(rf"(?<![A-Za-z0-9&#])({re.escape(part)})", r"<b>\1</b>", text, flags=re.I)
    return text


def _sp(count: int) -> str:
    return " " * count


def _tab(count: int) -> str:
    return "\t" * count


def _card(offer: Offer, number: int, keyword: str) -> str:
    """One ``div.listing_box`` with the served elements, classes and whitespace (TEA list_1, CHILI list_12/16)."""
    extra = "top_offer " if offer.top_offer else " "
    indent = 44 if number == 1 else 48
    href = f"{OFFER_HOST}/buyoffer/{offer.slug}-{offer.offer_id}.html"
    description = _highlight(list_description(offer), keyword)
    if offer.tags:
        links = " | ".join(
            f"<a href='{OFFER_HOST}/{re.sub(r'[^a-z0-9]+', '-', tag.lower()).strip('-')}-importer.html'>"
            f"{'' if i == 0 else ' '}{escape(tag, quote=False)}</a>"
            for i, tag in enumerate(offer.tags)
        )
        tags = (
            f'{_sp(104)}<span>\n{_tab(15)}{_sp(64)}<label style="width:40px;">Tags: </label>\n'
            f"{_sp(64)}{links}{_tab(14)}</span>\n"
        )
    else:
        tags = f"{_sp(104)}<span>\n{_tab(29)}</span>\n"
    if offer.top_offer:
        notes = (
            f"{_sp(52)}<strong style='color: #de3626;font-size:14px;'>Instant Order RFQ - Only for Premium Members"
            f"</strong>{_sp(48)}</div>\n"
        )
    elif offer.premium_only:
        notes = (
            f"{_sp(108)}<span></span>\n"
            f'{_sp(56)}<span style="font-style:italic;">This buyer wants to receive quotations only from  '
            '<a href="javascript:openPremiumMember()" rel=nofollow>Premium Members</a> .</span>\n'
            f"{_sp(100)}</div>\n"
        )
    else:
        notes = f"{_sp(100)}</div>\n"
    # The date block is indented with three or four tabs depending on the card (TEA list_1-6: 3, list_7+: 4).
    tabs = 3 + int(hash_fraction(f"tradekey-tabs-{offer.offer_id}") * 2)
    button = "Go Premium" if offer.top_offer else "Contact Buyer now"
    return (
        f'{_sp(indent)}<div class="ls-icon ls-item AD group listing_box {extra}" id="list_{number}">\n'
        f'{_sp(28)}<div class="item-main util-clearfix">\n'
        f'{_sp(32)}<div class="content group">\n'
        f'{_sp(36)}<div class="cwrap">\n'
        f'{_sp(40)}<div class="cleft">\n'
        f'{_sp(44)}<div class="ctop">\n'
        f'{_sp(48)}<div class="corp">\n'
        f'{_sp(52)}<h2 class="title search-title">\n'
        f'{_sp(116)}<a href="{href}\t"{_sp(74)}target="_blank"\n'
        f"{_sp(61)}>\n"
        f"{_sp(124)}{escape(list_title(offer), quote=False)}{_sp(60)}</a>\n"
        f"{_sp(112)}</h2>\n"
        f"{_sp(48)}</div>\n"
        f"{_sp(44)}</div>\n"
        f'{_sp(44)}<div class="lwrap">\n'
        f'{_sp(48)}<div class="vm vm2">\n'
        f"{_tab(14)}<span>\n"
        f"{_tab(14)}{description}{_tab(14)}</span>\n"
        f"{tags}{notes}"
        f"{_sp(44)}</div>\n"
        f"{_sp(40)}</div>\n"
        f'{_sp(40)}<div class="cright">\n'
        f'{_sp(44)}<div class="rwrap">\n'
        f'{_sp(48)}<div class="attrs" style="text-align:left;">\n'
        f'{_sp(52)}<div class="attr">\n'
        f'{_sp(56)}<span class="location c_flag f_{offer.flag} pl30" title="Made in {escape(offer.country)}">'
        f"{escape(offer.country)}</span>\n"
        f"{_sp(52)}</div>\n"
        f"{_sp(48)}</div>\n"
        f"{_sp(48)}<span>\n"
        f"{_sp(51)}{_tab(12)}{_sp(3)}</span>\n"
        f'{_sp(48)}<span class="status_span" online="0" id_online="0" onclick="javascript:void(Tawk_API.toggle())" '
        'style="cursor:pointer;height:33px;width:98px;display:inline-block;margin-right:2px;'
        f'background-repeat:no-repeat;background-image:url({CDN}/lang/images//chat/chat_status_oline1.png);" '
        'title="Online" alt="Online">&nbsp;</span>\n'
        f"{_sp(96)}{_tab(tabs)}<div>\n"
        f'{_tab(tabs + 1)}<span style="color:#000">\n'
        f"{_tab(tabs + 2)}Posted on: {day_text(offer.posted_at.date())}{_tab(tabs + 1)}</span>\n"
        f"{_tab(tabs)}</div>\t\n"
        f'{_tab(tabs - 1)}{_sp(100)}<div class="contact contact-margin">\n'
        f'{_sp(56)}<a   data-bid=""  onclick="bd_c(this)"   '
        f"href=\"javascript:contact_now('frmOffers','{offer.offer_id}');\"\n"
        f'{_sp(58)}class="button2-extra-css button2 csp dot-product button2-extra-css" rel=nofollow >\n'
        f'{_sp(50)}\t<span class="ico-csb">\n'
        f'{_tab(15)}<img src="{CDN}/domains/tradekey.com/lang/en/images/ks-page/w_con.png" width="20" height="13" '
        'alt="Contact Buyer Now!"/>\n'
        f"{_tab(14)}</span>{button}{_sp(56)}</a>\n"
        f"{_sp(52)}</div>\n\n{_sp(52)}\n\n"
        f"{_sp(44)}</div>\n"
        f"{_sp(40)}</div>\n"
        f"{_sp(36)}</div>\n"
        f"{_sp(32)}</div>\n"
        f"{_sp(28)}</div>\n"
        f"{_sp(24)}</div>\n"
    )


def _paging(keyword: str, page: int, pages: int) -> str:
    first = max(1, min(page - 2, pages - PAGE_WINDOW + 1))
    parts = []
    for number in range(first, min(pages, first + PAGE_WINDOW - 1) + 1):
        if number == page:
            parts.append(f"<font class='normal ' dir='ltr'><b>{number}</b></font>")
        else:
            parts.append(f'<a  href="{list_url(keyword, number)}"><u><b>{number}</b></u></a>')
    if page < pages:
        parts.append(f"<a  rel='nofollow' href=\"{list_url(keyword, page + 1)}\" dir='ltr'><span>Next ></span></a>")
    return (
        '            <div class="clearfix"></div>\n'
        "                            <!--pagination starts-->\n"
        '                <div class="mppagination_cont">\n'
        '                    <div id="container">\n'
        "                        <div id='paging' align='center'><div class='wrap'>\t<style>\n"
        "#paging .disabled {color: #999;}\n#paging font span.dot {padding: 0 4px;}\n</style>\t\n"
        f"\t{'&nbsp;&nbsp;'.join(parts)}</div></div>                    </div>\n"
        "                </div>\n"
        "                <!--pagination ends-->\n"
    )


def _head(keyword: str, canonical: str) -> str:
    label = keyword_label(keyword)
    words = (
        f"{label}, {label} Manufacture, {label} Manufactures, {label} Manufacturing,{label} Manufacturer, "
        f"{label} Exporters, {label} Exporter, {label} Factories,{label} Factory, {label} Suppliers,{label} Supplier, "
        f"{label} Producers, {label} Producer,{label}, China {label}, {label} Product, {label} Products"
    )
    return (
        '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">\n\t<head> \n'
        f'\t\t<link rel="canonical" href="{canonical}" />\n'
        '\t\t<html lang="en">\t\t<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />\n'
        '\t\t<meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, '
        'user-scalable=no" />\n'
        f'\t\t\t\t<meta content="{words}" name="keywords" />\n'
        f'\t\t<meta content="You can find {label} buyers on Tradekey.com & receive {label} quotes from the most '
        'suitable suppliers." name="description" />\n'
        f"\t\t<title>Global {label} Buyers | Tradekey</title> \n"
        f'\t\t<link href="{CDN}/domains/tradekey.com/tradekey.ico" rel="shortcut icon" type="image/x-icon">\n'
        f'\t\t\t\t\t\t<link href="{CDN}/domains/tradekey.com/lang/en/images/css/template_buyoffersearchv1.css'
        '?v=20141002" rel="stylesheet" type="text/css" media="all"/>\n'
        f'\t\t<script type="text/javascript" src="{CDN}/js/template_ks_page.js?v=20141112" '
        'language="JavaScript"></script>\t\n'
        "\t</head>\n"
    )


# What the served body holds before the listing grid, abbreviated: the header (its divs closed only by </header>),
# the exit-intent script with the stray "</body></html>" after it (TEA ~116,000), and the top_offer styles.
_BEFORE_GRID = """\t\t<body>
\t\t<div id="page">
\t\t<div id="content">
\t\t\t<div class="ls-wrap">
\t\t\t\t<div class="ls-content">
\t\t\t\t\t
<header>
<div class="ui-header-main">
  <div class="logo"><a href="https://www.tradekey.com/"><img src="CDN/domains/tradekey.com/lang/en/images/logo.png" \
alt="TradeKey.com"/></a></div>
  <div id="mod-searchbar">
    <form action="https://www.tradekey.com/index.html" method="get" name="frmSearch">
      <input type="hidden" name="action" value="ks_search"/>
      <input type="text" name="keyword" value="KEYWORD" autocomplete="off"/>
      <button type="submit">Search</button>
    </form>
</header>
<script type="text/javascript">
\tfunction exitIntentShown() { return get_cookie("c_exit_intent") == "1"; }
\tdocument.addEventListener("mouseout", function (e) { if (!e.toElement && !exitIntentShown()) {
\t\tset_cookie("c_exit_intent", "1"); jQuery("#exit_intent_modal").show(); } });
</script>

</body>
</html><style>
.tksw-bkn-form-box .col-12 {
    width: 100%;
}
</style>
    <style>
    .top_offer {
        box-shadow: 1px 1px 3px 2px rgba(0, 0, 0, 0.13);
        border: 1px solid red;
        margin-top: 5px;
        margin-bottom: 5px;
        background: antiquewhite;
    }


    h2.top_offer_sub_heading {
        margin-top: 10px;
        margin-bottom: 10px;
        color: #0a0a0a;
        font-size: 15px;
        font-weight: 700;
        text-transform: capitalize;
        text-align: left;
        padding-left: 2px;
    }

</style>
<script type="text/javascript">
\tvar agt=navigator.userAgent.toLowerCase();
\tif(get_cookie("c_userid")<=0 && get_cookie("c_login_required")=="" && agt.indexOf("mozilla")>=0 && \
document.referrer.indexOf("")<=0)
\t{
\t\tset_login_required_cookie("yes");
\t}
</script>
"""

# Sidebar "Buyers By Country" entries as served (TEA ~349,000): the same flag classes as the cards, outside them.
_SIDEBAR_COUNTRIES = (
    ("us", "USA"),
    ("in", "India"),
    ("uk", "UK"),
    ("ae", "UAE"),
    ("pk", "Pakistan"),
    ("ng", "Nigeria"),
    ("de", "Germany"),
    ("sa", "Saudi Arabia"),
    ("my", "Malaysia"),
    ("ke", "Kenya"),
)

_FOOTER_LINKS = (
    ("About Us", "about-us.html"),
    ("Contact Us", "contact-us.html"),
    ("Premium Services", "premium-services.html"),
    ("Buy Offers", "buyoffers.html"),
    ("Sell Offers", "selloffers.html"),
    ("Products", "products.html"),
    ("Importers", "importers.html"),
    ("Exporters", "exporters.html"),
    ("Suppliers", "suppliers.html"),
    ("Manufacturers", "manufacturers.html"),
    ("Privacy Policy", "privacy-policy.html"),
    ("Terms of Use", "terms-of-use.html"),
    ("Site Map", "sitemap.html"),
    ("Help", "help.html"),
)


def _after_grid(keyword: str) -> str:
    countries = "\n".join(
        f'\t\t\t\t\t\t<li><span class="num lf c_flag f_{code} pl30"><a href="{WWW}/{name.lower().replace(" ", "-")}/" '
        f'rev="{code.upper()}" title="{name} {escape(keyword_label(keyword))} Buyers">{name}  </a></span></li>'
        for code, name in _SIDEBAR_COUNTRIES
    )
    footer = "\n".join(
        f'\t\t\t<li><a href="{WWW}/{path}" title="{title}">{title}</a></li>' for title, path in _FOOTER_LINKS
    )
    signup = "\n".join(
        f'\t\t\t<option value="{code.upper()}">{name}</option>' for code, name in _SIDEBAR_COUNTRIES * 12
    )
    return f"""    <!--left panel start-->
{_sp(4)}
\t\t\t\t\t<div class="col-sub">
\t\t\t\t\t\t<div class="box"><h3>Buyers By Country</h3><ul>
{countries}
\t\t\t\t\t\t</ul></div>
\t\t\t\t\t</div>
\t\t\t\t\t<div class="col-extra">
\t\t\t\t\t\t<div class="box"><a href="{WWW}/premium-services.html"><img src="{CDN}/domains/tradekey.com/lang/en/\
images/premium_banner.jpg" width="160" height="600" alt="Premium Membership"/></a></div>
\t\t\t\t\t</div>
                     </div>    <!--right panel end-->
</div>
<p id="back-top"> <a href="#top"><span><img src="{CDN}/domains/tradekey.com/lang/en/images/ks-page/arrow-top.png" \
width="22" height="23" alt=""/></span></a></p>
</div>
</div>
<!--mobile nav start-->
<!--mobile nav end-->
</div>
<div class="tk13_footer_cont">
\t<div class="tk13_footer">
\t\t<ul class="links">
{footer}
\t\t</ul>
\t\t<p class="copyright">Copyright &copy; 1997-2026 TradeKey.com. All rights reserved.</p>
\t</div>
</div>
<script type="text/javascript">
var Tawk_API=Tawk_API||{{}}, Tawk_LoadStart=new Date();
</script>
\t</div>
\t</div>
\t</div>
\t</div>
<div id="cn_signupmodel" style="display:none;">
\t<form action="https://www.tradekey.com/index.html" method="post" name="frmSignup">
\t\t<input type="hidden" name="action" value="signup_newstep1"/>
\t\t<input type="text" name="email" placeholder="Email"/>
\t\t<select name="country">
{signup}
\t\t</select>
\t\t<button type="submit">Join Free</button>
\t</form>
</div>
\t\x20



    </body>
</html>"""


def render_list(offers: list[Offer], keyword: str, page: int) -> str | None:
    """Page ``page`` of ``keyword``'s list (``offers`` in the list's order), or ``None`` past the last page."""
    pages = total_pages(len(offers))
    if page < 1 or page > pages:
        return None
    chunk = offers[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    label = escape(keyword_label(keyword))
    count = f"{len(offers):,}"
    canonical = list_url(keyword, page)
    cards = "".join(_card(offer, number, keyword) for number, offer in enumerate(chunk, start=1))
    paging = _paging(keyword, page, pages) if chunk else ""
    before = _BEFORE_GRID.replace("CDN", CDN).replace("KEYWORD", label)
    return f"""{_head(keyword, canonical)}{before}<div class="grid grid-c3-s5e6">
    <div class="col-main">
        <div class="main-wrap">
{_sp(12)}
            \t\t\t\t<h1 style="font-size: 25px;">Latest RFQs: International <strong>{label.title()}</strong> \
Buyers</h1>
\t\t\t            <div id="J-items-content">
                <!--Bradcrum start-->
                <div class="clearfix"></div>
                <div class="br_crum title">
                    <a href="{WWW}/"><strong>Home</strong></a> &gt;
                    <a href="{OFFER_HOST}/"><strong>Buy Offers</strong></a>
                    <strong> > <b>{label}</b></strong>
                    ({count} Buy Offers Found )                </div>
                <div class="clearfix"></div>
                                    <form action="{WWW}/index.html" name="frmOffers" style="clear:both;">
                        <input type="hidden" name="action" value="inquiry_inquire">
                        <input type="hidden" name="select_offer[]" id="select_offer" />
                    </form>
                    <div class="ls-filter">
                        <div id="J-ls-filter">
                            <div class="ls-icon items util-clearfix">


                                <div class="item right" style="font-size: 14px">
                                    <strong>{count}&nbsp;Buy Offers</strong> Page {page} of {pages}\
                                </div>
                            </div>
                        </div>
                    </div>
                                    <div class="clearfix"></div>

                    <div id="banner_mob_7" class="tkads mob_enabled" style="text-align: center;"></div>

{_sp(20)}
                <!--first div-->
                                <div id="first_div" style="display:block;">

{cards}                                        </div>
            </div>
{paging}{_sp(12)}
            <div class="clearfix"></div>
\t\t\t        </div>
    </div>
{_after_grid(keyword)}"""


def render_offer(offer: Offer) -> str:
    """A buy-offer page in the structure other people's scrapers read (no served offer page was seen)."""
    paragraphs = "\n".join(
        f"  <p>{mask_digits(stored(part.strip()))}</p>" for part in offer.description.split("\n\n") if part.strip()
    )
    quantity = (
        f"\n   <li><span>Quantity Required:</span> <strong>{escape(offer.quantity)}</strong></li>"
        if offer.quantity
        else ""
    )
    title = escape(stored(offer.title), quote=False)
    return f"""<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{title} | Tradekey</title>
<link rel="canonical" href="{offer.url}" />
</head>
<body>
<div id="page">
<div id="content">
 <div class="bo-buyoffer-box">
  <h1>{title}</h1>
  <ul>
   <li><span>Posted Date:</span> <strong>{day_text(offer.posted_at.date())}</strong></li>
   <li><span>Buyer Country:</span> <strong>{escape(offer.country)}</strong></li>{quantity}
   <li><span>Category:</span> <strong>{escape(offer.category)}</strong></li>
  </ul>
  <div class="bo-desc">
{paragraphs}
  </div>
  <a class="contact" href="javascript:contact_now('frmOffers','{offer.offer_id}');" rel=nofollow>Contact Buyer now</a>
 </div>
</div>
</div>
</body>
</html>
"""


def render_not_found(path: str) -> str:
    """The site's 404 page (not served in any fixture: a plain page)."""
    return f"""<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>Page Not Found | Tradekey</title>
</head>
<body>
<div id="page"><div id="content">
<h1>404 - Page Not Found</h1>
<p>The page {escape(path)} could not be found.</p>
<p><a href="{WWW}/">Go to TradeKey.com</a></p>
</div></div>
</body>
</html>
"""


class TradeKeySite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of TradeKey."""

    name = "tradekey"
    server_header = "Apache"
    robots_txt = """User-agent: *
Disallow: /{p}/index.html?action=
Disallow: /{p}/members/
Disallow: /{p}/admin/
Disallow: /{p}/cgi-bin/

Sitemap: https://www.tradekey.com/sitemap.xml
"""

    def __init__(self) -> None:
        self._offers: list[Offer] = []
        self._by_id: dict[str, Offer] = {}

    def build(self, today: date, now: datetime) -> None:
        """Deal the seed out over the ``DAYS`` days up to ``today`` (today's offers before ``now``)."""
        self._offers = build_offers(today, now)
        self._by_id = {offer.offer_id: offer for offer in self._offers}

    def listing(self, keyword: str) -> list[Offer]:
        """The offers of one keyword list, in the list's order (offer id, newest first)."""
        return [offer for offer in self._offers if offer.matches(keyword)]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A keyword list page, a buy-offer page, or the 404 page."""
        del query, now
        listing = _LIST_PATH.match(rest)
        if listing:
            keyword = listing.group("kw")
            html = render_list(self.listing(keyword), keyword, int(listing.group("page") or 1))
            if html is not None:
                return Reply(200, (redesigned(html) if style == "drift" else html).encode())
        offer_path = _OFFER_PATH.match(rest)
        offer = self._by_id.get(offer_path.group("id")) if offer_path else None
        if offer is not None and offer_path is not None and offer_path.group("slug") == offer.slug:
            html = render_offer(offer)
            return Reply(200, (redesigned(html) if style == "drift" else html).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def watched(self) -> set[str]:
        """Ids on at least one watched list (what a crawl of the registered listings can find)."""
        return {offer.offer_id for keyword in WATCHED_KEYWORDS for offer in self.listing(keyword)}

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the watched keyword lists finds posted on ``day``, newest first."""
        watched = self.watched()
        found = [offer for offer in self._offers if offer.posted_at.date() == day and offer.offer_id in watched]
        return [offer.offer_id for offer in sorted(found, key=lambda offer: offer.posted_at, reverse=True)]

    def expected_total(self) -> int:
        """Every offer on a watched list."""
        return len(self.watched())

    def offers(self) -> list[Offer]:
        """Every offer, newest id first (for tests)."""
        return list(self._offers)


SITE = TradeKeySite()


# The real 2019 URL file: no longer served, read by the duplicate-detection evaluation (reposts are one slug under
# several ids).
@cache
def corpus_urls() -> tuple[tuple[int, str, str], ...]:
    """``(line number, slug, id)`` of every buy-offer URL in the 2019 URL file, in file order."""
    rows = []
    with (CORPUS / URL_FILE).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            match = _URL.search(line.strip())
            if match:
                rows.append((number, match.group(1), match.group(2)))
    return tuple(rows)


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
