"""Parser for Made-in-China.com sourcing requests (buyers' purchase requests), built on second-hand evidence only.

What it follows (``rfq_pipeline_tests/sources/fixtures/EVIDENCE_B.md``, section 3; no page served by the site seen):

- **List** (markup of 2014-2018 scrapers, probably stale): a Scrapy spider dated 13 Feb 2018 (index file 3159081468,
  repository not resolved) reads ``div.sc-list-buyer > ul.sc-list-bd > li`` with the title and the relative link in
  ``h6.title > a``, from ``/sourcingrequest?keyword=&excat=&region=&pdate=&sort=&page=N&way=inner&type=lastest`` on
  ``sourcing.made-in-china.com``; a PHP collector (``Shendou_Collect_MadeInChina_List``, index file 40509826811,
  undated) reads from each card, in this order, the link and title, ``span.country``, the quantity in ``div.price``
  after "Purchase Quantity", ``p.desc``, ``p.date`` (posted), ``div.qty`` (quotes left) and ``p.date2`` (valid to),
  from the keyword form ``/sourcingrequest?keyword=<kw>&sort=post_date_desc&page=N&type=keyword``.
- **Request page** (labels of the 2018 spider): each fact is a ``li`` whose first ``span`` is the label
  (``span.gray.info-title``: "Purchase Quantity:", "Date Posted:", "Valid to:", "Quote Left:"; "Request From:" inside a
  ``span.long-name``) and whose second ``span`` is the value; the request text is ``div.prod-info
  div.description-info`` and the category trail ``div.ellipsis-rfq-div``. Request pages were public in 2026 at
  ``https://sourcing.made-in-china.com/request/<12 letters>/<Title-Words>.html`` (ids ``inItVvTEJKoh``,
  ``umgfILojYvbt`` cited by a Turkish survey of 28 Aug 2026 and a Chinese test log), showing validity date, quantity,
  trade term and description. Labels are found by their text, not by class, so a restyled page still reads.
- **Access**: a source registry screened in Sept 2026 (Astronaut-Free/Buyer-Hunter ``b2b_source_registry_v4.json``)
  classes the request list as needing an authorised supplier account; the supplier entry is ``/suppliers.html``.
  A sign-in page served instead of the list surfaces as a ``challenge`` (:func:`checked_tree`).

Unknown, and therefore not assumed: the current list HTML; whether a 2018 list links to ``/request/<id>/<slug>.html``
(the 2026 form, taken here as the detail link); the **date formats** (any day :func:`dates.find_day` reads, or a
relative "N hours ago"/"Today"/"Yesterday", is accepted; the time zone of the shown day is unknown and the day is kept
as midnight UTC); the pager markup (pages are reached by the URL's ``page=N`` until a page without requests, the
window start or the page cap); the text of an empty result (an empty ``ul.sc-list-bd`` is taken as one); the label
of the trade term on request pages (labels other than the five above are kept under their own names).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.dates import as_utc, find_day, relative_time
from rfq_pipeline.sources.html import block_text, checked_tree, clean_text, label_key
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "made_in_china"
SITE_URL = "https://sourcing.made-in-china.com"

DETAIL_REGEX = r"/request/(?P<id>[A-Za-z]{12})/(?P<slug>[^/?#\s]+)\.html"
_REQUEST_PATH = re.compile(DETAIL_REGEX)
_QUANTITY_LABEL = re.compile(r"^\s*purchase\s+quantity\s*:?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,]*")
# The request-page labels the 2018 spider reads, by the field they fill.
_DETAIL_LABELS = {
    "purchase_quantity": "quantity",
    "date_posted": "posted",
    "valid_to": "valid_to",
    "quote_left": "quotes_left",
    "request_from": "country",
}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one sourcing-request list page into its requests in page order.

    Relative posting times ("5 hours ago") are measured back from ``fetched_at``. The pager's markup is not known, so
    ``has_next`` is True whenever the page holds requests and the next page is built from the listing's ``page=N``.
    Raises :class:`PageParseError` (``truncated``, ``challenge`` (also for a sign-in page), ``layout_drift``); an
    empty ``ul.sc-list-bd`` is a valid empty result.
    """
    fetched_at = as_utc(fetched_at)
    tree = checked_tree(html, what="sourcing request list")
    box = tree.css_first("div.sc-list-buyer ul.sc-list-bd")
    items = [item for item in box.iter() if item.tag == "li"] if box is not None else []
    if not items:
        if box is not None:
            return ListPage(entries=[], has_next=False)
        raise PageParseError("layout_drift", "no div.sc-list-buyer ul.sc-list-bd list of requests")
    entries = [_item_to_rfq(item, index, fetched_at) for index, item in enumerate(items)]
    return ListPage(entries=entries, has_next=True)


def parse_detail(html: str, entry: ParsedRfq) -> ParsedRfq:
    """Enrich a list entry from its request page: the full request text, the category trail and the labelled facts.

    The list's posting day is kept when it has one (the crawl placed the entry in its window by it). Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift`` when neither a known label nor the
    description is on the page).
    """
    tree = checked_tree(html, what="sourcing request")
    facts = _labelled_facts(tree)
    description_node = tree.css_first("div.prod-info div.description-info")
    known = {field: facts[label] for label, field in _DETAIL_LABELS.items() if label in facts}
    if not known and description_node is None:
        raise PageParseError(
            "layout_drift", "request page without the 2018 labels or div.prod-info div.description-info"
        )
    attributes: dict[str, Any] = dict(entry.attributes)
    for label, value in facts.items():
        if label not in _DETAIL_LABELS and value:
            attributes[label] = value
    if "quotes_left" in known:
        attributes.update(_quotes_left(known["quotes_left"]))
    if "valid_to" in known:
        attributes.update(_valid_to(known["valid_to"]))
    trail = tree.css_first("div.ellipsis-rfq-div")
    if trail is not None and clean_text(trail.text()):
        attributes["breadcrumb"] = clean_text(trail.text(separator=" "))
    posted_at = entry.posted_at
    if "posted" in known:
        attributes["date_posted_text"] = known["posted"]
        if posted_at is None and (day := find_day(known["posted"])) is not None:
            posted_at = day[0]
    description = block_text(description_node, paragraphs=True) if description_node is not None else ""
    return replace(
        entry,
        posted_at=posted_at,
        description=description or entry.description,
        quantity_text=known.get("quantity") or entry.quantity_text,
        country_raw=known.get("country") or entry.country_raw,
        attributes=attributes,
    )


def parse_posted(text: str, fetched_at: datetime) -> datetime | None:
    """A posting time as UTC from whatever the page prints (the format was never recorded).

    Any day :func:`rfq_pipeline.sources.dates.find_day` reads ("2026-08-27", "27 Aug 2026", "Aug 27, 2026") is that
    day at midnight UTC; "Just now", "N minutes/hours/days/weeks ago" are measured back from ``fetched_at``; "Today"
    and "Yesterday" are the UTC day of ``fetched_at`` and the day before. ``None`` otherwise.
    """
    found = find_day(text)
    if found is not None:
        return found[0]
    relative = relative_time(text, fetched_at)
    if relative is None:
        return None
    moment, exact = relative
    # "Today" and "Yesterday" name a day, not an instant.
    return moment if exact else moment.replace(hour=0, minute=0, second=0, microsecond=0)


def request_url(request_id: str, slug: str) -> str:
    """The public URL of a sourcing request, in the form cited for 2026."""
    return f"{SITE_URL}/request/{request_id}/{slug}.html"


def keyword_listing(keyword: str) -> str:
    """The listing of one keyword, newest first, in the form of the PHP collector (``sort=post_date_desc``)."""
    words = "+".join(re.findall(r"[A-Za-z0-9]+", keyword))
    return f"/sourcingrequest?keyword={words}&sort=post_date_desc&page={{page}}&type=keyword"


def _item_to_rfq(item: LexborNode, index: int, fetched_at: datetime) -> ParsedRfq:
    link = item.css_first("h6.title a[href]")
    href = (link.attributes.get("href") or "").strip() if link is not None else ""
    match = _REQUEST_PATH.search(href)
    if link is None or match is None:
        raise PageParseError("layout_drift", f"request {index} has no h6.title link to /request/<id>/<slug>.html")
    title = clean_text(link.text(separator=" "))
    if not title:
        raise PageParseError("layout_drift", f"request {match.group('id')} has an empty title")
    path = f"/request/{match.group('id')}/{match.group('slug')}.html"
    posted_text = _text(item, "p.date")
    attributes: dict[str, Any] = {}
    attributes.update(_quotes_left(_text(item, "div.qty")))
    attributes.update(_valid_to(_text(item, "p.date2")))
    return ParsedRfq(
        source=SOURCE,
        external_id=match.group("id"),
        canonical_url=SITE_URL + path,
        title=title,
        posted_at=parse_posted(posted_text, fetched_at),
        posted_text=posted_text,
        description=_text(item, "p.desc"),
        quantity_text=_QUANTITY_LABEL.sub("", _text(item, "div.price"), count=1),
        country_raw=_text(item, "span.country"),
        detail_path=path,
        attributes=attributes,
    )


def _text(item: LexborNode, selector: str) -> str:
    node = item.css_first(selector)
    return clean_text(node.text(separator=" ")) if node is not None else ""


def _quotes_left(text: str) -> dict[str, Any]:
    if not text:
        return {}
    number = _NUMBER.search(text)
    found: dict[str, Any] = {"quotes_left_text": text}
    if number is not None:
        found["quotes_left"] = int(number.group(0).replace(",", ""))
    return found


def _valid_to(text: str) -> dict[str, Any]:
    if not text:
        return {}
    found: dict[str, Any] = {"valid_to_text": text}
    day = find_day(text)
    if day is not None:
        found["valid_to"] = day[0].date().isoformat()
    return found


def _labelled_facts(tree: LexborHTMLParser) -> dict[str, str]:
    """Label -> value for every element whose first ``span`` holds "<Label>:" and whose second ``span`` the value."""
    facts: dict[str, str] = {}
    if tree.body is None:
        return facts
    for span in tree.body.css("span"):
        label = clean_text(span.text())
        if not label.endswith(":") or len(label) > 40 or _holds_span(span):
            continue
        value = _value_for(span)
        key = label_key(label)
        if value is not None and key and key not in facts:
            facts[key] = value
    return facts


def _holds_span(node: LexborNode) -> bool:
    # A selector on a node also matches the node itself, so nested spans are looked for among its descendants.
    return any(child.tag == "span" and child.mem_id != node.mem_id for child in node.traverse())


def _value_for(label: LexborNode) -> str | None:
    """The second ``span`` of the nearest ancestor (up to three levels) whose first ``span`` holds the label."""
    node = label
    for _ in range(3):
        parent = node.parent
        if parent is None:
            return None
        spans = [child for child in parent.iter() if child.tag == "span"]
        if len(spans) >= 2 and spans[0].mem_id == node.mem_id:
            return clean_text(spans[1].text(separator=" "))
        node = parent
    return None


# All requests, newest first, in the 2018 spider's form ("lastest" [sic] is the site's parameter value); keyword lists
# (keyword_listing) by setting RFQ_SOURCE_MADE_IN_CHINA_LISTINGS.
LISTINGS = ("/sourcingrequest?keyword=&excat=&region=&pdate=&sort=&page={page}&way=inner&type=lastest",)

SPEC = SourceSpec(
    name="made_in_china",
    kind="marketplace",
    site_url=SITE_URL,
    listings=LISTINGS,
    detail_pattern="/request/<12 letters>/<Title-Words>.html",
    parse_list=parse_list,
    parse_detail=parse_detail,  # request pages were public in 2026 and carry the full text
    cadence="0 */6 * * *",
    rate_per_minute=12.0,
    burst=3,
    impersonate="chrome",
    max_pages=20,
    respect_robots=True,
    description="Made-in-China.com sourcing requests: title, quantity, buyer country, posting day, quotes left, "
    "validity and the full request text from the request page.",
    page_size=20,
    evidence="second_hand",
    fixtures=(),
    known_gaps=(
        "list selectors come from scrapers of 2014-2018 and were not checked against a served page",
        "in 2026 the request list is reported to need an authorised supplier account; a sign-in page is recorded "
        "as a challenge",
        "date formats were never recorded: any readable day or relative time is accepted, kept as midnight UTC "
        "of the day shown (the site's time zone is unknown)",
        "the pager's markup is unknown: pages are requested by page=N until an empty page, the window start or the "
        "page cap",
        "newest-first order is assumed from the list parameters (type=lastest, sort=post_date_desc), not observed",
        "the list shows no buyer name or company; the trade term on request pages has no recorded label",
    ),
    date_sorted=True,
    detail_regex=DETAIL_REGEX,
    mail_domains=("made-in-china.com",),
)
