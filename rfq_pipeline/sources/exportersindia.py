"""Parser for ExportersIndia buy leads, read from the public buyer lists under ``/buyers/``.

Built on second-hand evidence (no served page was found; see ``rfq_pipeline_tests/sources/fixtures/EVIDENCE_B.md``,
section 2): ``Abu1982/ABUMeta`` (``config/site_templates.json``: list ``ul#buyer_lead > li`` on ``/buyers/``, title
``div.lead_det-title h3``, ``div.lead-date``, ``div.lead-location``, ``div.other_info``, ``ul._info_p > li``, the
``img._verify`` badge), ``zany555666-blip/ayel-crawler-system`` (``src/lib/crawler/customers.ts``: ``.buyer_lead > li``
on ``/buyers/<slug>.htm``, ``<b>Label</b><span>Value</span>`` pairs, the ``.buys-info-list`` box, page 2 at
``<slug>-2.htm``) and the Playwright suite ``Subhu4/LocalTestCasesHybrid`` run against the live ``/buyers/`` pages
(headings "Looking for ...", masked mobile numbers "+91-88******83", never an unmasked one, "Contact Buyer",
"Show More Result").

A lead is an ``li`` of ``#buyer_lead`` or ``.buyer_lead``: the heading "Looking for <product>" (the title is the
product), the buyer's location, the posting date, labelled values (Buyer Name, Mobile No. as the site masks it,
Quantity, Requirement, Frequency, Payment Mode, Usage/Application, ...) and the request text. The list has **no
per-lead link or id**: every scraper stores the list URL as the lead URL. The external id is therefore a hash of what
the card shows that does not change while it is listed (title, buyer name, masked mobile, location, quantity; not
the date, which may be relative), and the URL is the root list's with ``#lead-<id>``.

Unknown, and kept so: the text format of ``div.lead-date`` (no example exists anywhere; absolute days in any common
form and "today", "yesterday", "N minutes/hours/days ago" against the fetch time are all read, and the simulator's
format is a placeholder); how the lists page beyond the first page ("Show More Result" may load in place; a link it
carries, or a ``rel=next`` link, is followed, and ``<slug>-N.htm`` is the static page form of category lists); the
order of the list (so it is not treated as newest first); the empty-list page; the buyer's company (never shown).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.normalize.rfqs import country_code as lookup_country_code
from rfq_pipeline.sources.dates import find_day, relative_time, utc_day
from rfq_pipeline.sources.html import checked_tree, clean_text, label_key, unique_nodes
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "exportersindia"
SITE_URL = "https://www.exportersindia.com"
LIST_URL = f"{SITE_URL}/buyers/"

_LEADS = "#buyer_lead > li, .buyer_lead > li"
_TITLE = "div.lead_det-title h3"
_LOOKING_FOR = re.compile(r"^\s*looking\s+for\s+", re.I)
# The same value under the labels the scrapers met ("Payment Mode", "payment mode", "Mode Of Payment").
_LABEL_ALIASES = {"mode_of_payment": "payment_mode", "mobile_no": "mobile"}
# India writes numeric dates day first ("29-07-2026").
_DAY_FIRST = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\b")
_SHOW_MORE = re.compile(r"^show\s+more\s+results?$", re.I)
# Indian states and union territories: a location naming one of them is in India even when the country is left out.
INDIAN_STATES = frozenset(
    {
        "andaman and nicobar islands",
        "andaman & nicobar islands",
        "andhra pradesh",
        "arunachal pradesh",
        "assam",
        "bihar",
        "chandigarh",
        "chhattisgarh",
        "dadra and nagar haveli and daman and diu",
        "delhi",
        "new delhi",
        "goa",
        "gujarat",
        "haryana",
        "himachal pradesh",
        "jammu and kashmir",
        "jammu & kashmir",
        "jharkhand",
        "karnataka",
        "kerala",
        "ladakh",
        "lakshadweep",
        "madhya pradesh",
        "maharashtra",
        "manipur",
        "meghalaya",
        "mizoram",
        "nagaland",
        "odisha",
        "orissa",
        "puducherry",
        "punjab",
        "rajasthan",
        "sikkim",
        "tamil nadu",
        "telangana",
        "tripura",
        "uttar pradesh",
        "uttarakhand",
        "west bengal",
    }
)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one buyer-list page into its leads in page order and the paging state.

    ``fetched_at`` dates relative posting times ("today", "3 hours ago"). Raises :class:`PageParseError`
    (``truncated``, ``challenge``, ``layout_drift``); a list element without leads is a valid empty result.
    """
    tree = checked_tree(html, what="buyer list")
    items = unique_nodes(tree.css(_LEADS)) or unique_nodes(tree.css(f"li:has({_TITLE})"))
    # Items without the lead heading are not leads (a "Show More Result" row, say); only none at all is drift.
    leads = [item for item in items if item.css_first(_TITLE) is not None]
    if not leads:
        if not items and tree.css_first("#buyer_lead, .buyer_lead") is not None:
            return ListPage(entries=[], has_next=False)
        raise PageParseError("layout_drift", f"no lead with a {_TITLE} heading in #buyer_lead or .buyer_lead")
    entries = [_item_to_rfq(item, fetched_at) for item in leads]
    has_next, next_url = _paging(tree)
    return ListPage(entries=entries, has_next=has_next, next_url=next_url)


def lead_key(title: str, buyer_name: str, mobile: str, location: str, quantity: str) -> str:
    """The stable id of a lead that the site gives none: a hash of the card's lasting content (never its date)."""
    parts = (clean_text(value).casefold() for value in (title, buyer_name, mobile, location, quantity))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def lead_url(lead_id: str) -> str:
    """The URL stored for a lead: the root list's, with the lead's id as a fragment (cards link nowhere)."""
    return f"{LIST_URL}#lead-{lead_id}"


def parse_posted(text: str, fetched_at: datetime) -> datetime | None:
    """Midnight UTC of the day ``text`` names, absolute or relative to ``fetched_at``; ``None`` if it names none.

    Absolute: "29 Jul 2026", "July 29, 2026", "2026-07-29" and day-first "29-07-2026". Relative: "Today",
    "Yesterday", "5 minutes ago", "3 hours ago", "2 days ago".
    """
    found = find_day(text)
    if found is not None:
        return found[0]
    numeric = _DAY_FIRST.search(text)
    if numeric is not None:
        return utc_day(int(numeric.group(3)), int(numeric.group(2)), int(numeric.group(1)))
    relative = relative_time(text, fetched_at)
    if relative is None:
        return None
    moment = relative[0]
    return utc_day(moment.year, moment.month, moment.day)


def country_of(location: str) -> tuple[str, str]:
    """(ISO code, country) of a location: its last part if that is a country, India if a part is an Indian state."""
    parts = [part.strip() for part in location.split(",") if part.strip()]
    if parts and (code := lookup_country_code(parts[-1])):
        return code, parts[-1]
    if any(part.casefold() in INDIAN_STATES for part in parts):
        return "IN", "India"
    return "", ""


def _label_key(label: str) -> str:
    key = label_key(label)
    return _LABEL_ALIASES.get(key, key)


def _labelled(item: LexborNode) -> dict[str, str]:
    """``ul._info_p > li`` as {label_key: value}: ``<b>Buyer Name</b><span>...</span>``."""
    values: dict[str, str] = {}
    for row in item.css("ul._info_p > li"):
        label, value = row.css_first("b"), row.css_first("span")
        if label is None or value is None:
            continue
        key = _label_key(clean_text(label.text()).rstrip(":").strip())
        if key and clean_text(value.text()):
            values.setdefault(key, clean_text(value.text()))
    return values


def _activity(item: LexborNode) -> dict[str, str]:
    """The buyer's activity box (``.buys-info-list li`` with ``.lbl`` / ``.val``), as shown."""
    values = {}
    for row in item.css(".buys-info-list li"):
        label, value = row.css_first(".lbl"), row.css_first(".val")
        if label is not None and value is not None and clean_text(label.text()):
            values[clean_text(label.text()).rstrip(":").strip()] = clean_text(value.text())
    return values


def _text(item: LexborNode, selector: str) -> str:
    node = item.css_first(selector)
    return clean_text(node.text(separator=" ")) if node is not None else ""


def _item_to_rfq(item: LexborNode, fetched_at: datetime) -> ParsedRfq:
    heading = _text(item, _TITLE)
    title = _LOOKING_FOR.sub("", heading).strip() or heading
    values = _labelled(item)
    buyer_name = values.pop("buyer_name", "")
    quantity = values.pop("quantity", "")
    location = _text(item, "div.lead-location")
    posted_text = _text(item, "div.lead-date")
    attributes: dict[str, Any] = dict(values)  # "mobile" stays exactly as the site masks it
    if location:
        attributes["location"] = location
    if item.css_first("img._verify") is not None:
        attributes["verified"] = True
    activity = _activity(item)
    if activity:
        attributes["buyer_activity"] = activity
    lead_id = lead_key(title, buyer_name, values.get("mobile", ""), location, quantity)
    code, country = country_of(location)
    return ParsedRfq(
        source=SOURCE,
        external_id=lead_id,
        canonical_url=lead_url(lead_id),
        title=title,
        posted_at=parse_posted(posted_text, fetched_at) if posted_text else None,
        posted_text=posted_text,
        description=_text(item, "div.other_info"),
        quantity_text=quantity,
        buyer_name=buyer_name,
        country_raw=country,
        country_code=code,
        attributes=attributes,
    )


def _paging(tree: LexborHTMLParser) -> tuple[bool, str | None]:
    for selector in ('link[rel="next"]', 'a[rel~="next"]'):
        node = tree.css_first(selector)
        href = (node.attributes.get("href") or "").strip() if node is not None else ""
        if href and not href.startswith(("javascript:", "#")):
            return True, href
    for node in tree.css("a, button"):
        if _SHOW_MORE.match(clean_text(node.text())):
            href = (node.attributes.get("href") or "").strip()
            if href and not href.startswith(("javascript:", "#")):
                return True, href
            # A control without a page link loads more in place: the static page form is the listing's next page.
            return True, None
    return False, None


class HtmPagedSpec(SourceSpec):
    """ExportersIndia's static paging of category lists: page N of ``/buyers/<slug>.htm`` is ``<slug>-N.htm``.

    The root list ``/buyers/`` has no known page form: its later pages are only reached by a link the page gives.
    """

    def list_url(self, listing: str, page: int, start: datetime | None = None, end: datetime | None = None) -> str:
        """Absolute URL of page ``page`` of ``listing``."""
        url = super().list_url(listing, page, start, end)
        if page > 1 and url.endswith(".htm"):
            return f"{url[: -len('.htm')]}-{page}.htm"
        return url


# Only the root list is watched: the industry pages a beauty exporter would want (the live page lists "Cosmetics &
# Personal Care Products" and "Ayurveda & Herbal Product") have no known slug, and the known ones (agriculture,
# textiles, labels, fashion-apparel, a4-size-copy-paper) are not a beauty exporter's. Industry or product pages can be
# added with RFQ_SOURCE_EXPORTERSINDIA_LISTINGS ("/buyers/<slug>.htm").
LISTINGS = ("/buyers/",)

SPEC = HtmPagedSpec(
    name="exportersindia",
    kind="marketplace",
    site_url=SITE_URL,
    listings=LISTINGS,
    detail_pattern="(none: cards link to no lead page; the id is a hash of the card, the URL the list's #lead-<id>)",
    parse_list=parse_list,
    parse_detail=None,  # no lead page is known
    cadence="0 */6 * * *",
    rate_per_minute=10.0,
    burst=2,
    impersonate="chrome",
    # The order of the list is unknown, so every crawl reads it to this cap: 15 pages of 20 leads.
    max_pages=15,
    respect_robots=True,
    description="ExportersIndia buy leads from the public buyer list: product, buyer name, masked mobile, location, "
    "quantity, requirement, frequency and the request text.",
    page_size=20,
    evidence="second_hand",
    fixtures=(),
    known_gaps=(
        "no served page seen: selectors come from other people's scrapers (ABUMeta, ayel-crawler-system, a QA suite)",
        "no lead id or lead URL on the list: the id is a hash of the card's content, the URL the list's #lead-<id>",
        "a buyer re-posting the same request with the same details gets the same id",
        "the date format of div.lead-date is unknown (the simulator's is a placeholder)",
        "how the root list pages is unknown ('Show More Result' may load in place)",
        "the list order is unknown, so each crawl reads to the page cap",
        "mobile numbers are masked by the site (+91-88******83)",
        "the buyer's company is never shown, only the buyer's name",
        "the empty-list page is unknown",
        "beauty industry slugs are unknown, so only the root list is watched",
    ),
    date_sorted=False,
    detail_regex="",  # cards have no detail links for the fallback extractor to follow
    mail_domains=("exportersindia.com",),
)
