"""Parser for EC21 buying leads, read from the keyword lists of ``importer.ec21.com`` as the site serves them.

A list is per keyword (``/<keyword>.html``), optionally per buyer country (``/<ISO2>/<keyword>.html``); page N is
``/<keyword>/page-N.html``, linked from the page as ``<link rel="next">``. Each lead is an ``li.listLs`` of
``div.conProduct_list > ul``: ``h2.inlineTitle > a`` holds the title (its ``title`` attribute is the plain title,
the link text wraps the keyword in ``<strong>``) and the link ``/buy-lead/<Slug>--<id>.html`` (the slug changes with the
list's keyword, so the id alone identifies a lead); the ``span`` right
after the heading is the posting day ("25 Apr, 2026"); the first ``p.item_txt`` is the site's cut of the request
text; ``div.buyerCoun`` gives the country, with the ISO code in the class ``cfImg11_<iso2>``. The list shows no
buyer name and no structured quantity (quantities appear only inside the text), and it is **not sorted by date**
(nor by id). A keyword without leads answers a page whose ``div.search_err_msg`` says "Results for <kw> : 0 Buying
Lead.", an empty result.
Lead pages keep the buyer behind a premium sign-in, so the list is all that is read.

Fixtures: served pages saved in August 2026 (``rfq_pipeline_tests/sources/fixtures/ec21``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.dates import find_day
from rfq_pipeline.sources.html import block_text, checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "ec21"
SITE_URL = "https://importer.ec21.com"
FIXTURES = "rfq_pipeline_tests/sources/fixtures/ec21"

DETAIL_REGEX = r"/buy-lead/(?P<slug>[^/?#\s]+?)--(?P<id>\d+)\.html"
_LEAD_PATH = re.compile(DETAIL_REGEX)
_FLAG = re.compile(r"^cfImg11_([a-z]{2})$", re.I)
_COUNTER = re.compile(r"\(\s*([\d,]+)\s*-\s*([\d,]+)\s+out\s+of\s+([\d,]+)\s*\)", re.I)
_PAGE_OF = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)", re.I)
_ZERO_RESULTS = re.compile(r":\s*0\s+Buying\s+Leads?\b|no\s+matching\s+results", re.I)
_PREMIUM = re.compile(r"quotations\s+from\s+premium\s+members\s+only", re.I)
_HIDDEN_CONTACT = re.compile(r"not\s+to\s+disclose\s+(?:his|her|their)?\s*contact", re.I)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one keyword (or country) list page into its leads in page order and the paging state.

    ``fetched_at`` is unused (the list prints absolute days) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a list page without leads whose counter
    or text says there are none is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="buying lead list")
    items = tree.css("div.conProduct_list li.listLs")
    total_entries = _total_entries(tree)
    if not items:
        # The site's "Results for <kw> : 0 Buying Lead." block stands where the list would be.
        empty = tree.css_first("div.search_err_msg")
        if total_entries == 0 or (empty is not None and _ZERO_RESULTS.search(empty.text() or "")):
            return ListPage(entries=[], has_next=False, total_pages=0, total_entries=0)
        raise PageParseError("layout_drift", "no div.conProduct_list li.listLs leads and no zero-results message")
    entries = [_item_to_rfq(item, index) for index, item in enumerate(items)]
    next_url = _next_url(tree)
    return ListPage(
        entries=entries,
        has_next=next_url is not None,
        total_pages=_total_pages(tree),
        next_url=next_url,
        total_entries=total_entries,
    )


def lead_url(slug: str, lead_id: str) -> str:
    """The public URL of a buy lead, as the lists link it."""
    return f"{SITE_URL}/buy-lead/{slug}--{lead_id}.html"


def _item_to_rfq(item: LexborNode, index: int) -> ParsedRfq:
    link = item.css_first("h2.inlineTitle a[href]")
    match = _LEAD_PATH.search((link.attributes.get("href") or "") if link is not None else "")
    if link is None or match is None:
        raise PageParseError("layout_drift", f"lead {index} has no h2.inlineTitle link to /buy-lead/<slug>--<id>.html")
    title = clean_text(link.attributes.get("title")) or clean_text(link.text(separator=" "))
    if not title:
        raise PageParseError("layout_drift", f"lead {match.group('id')} has an empty title")
    posted_text = _posted_text(link)
    found = find_day(posted_text)
    texts = item.css("p.item_txt")
    country_code, country = _country(item)
    attributes: dict[str, Any] = {}
    extra = " ".join(clean_text(p.text()) for p in texts[1:])
    if _PREMIUM.search(extra):
        attributes["quotes_from_premium_members_only"] = True
    if _HIDDEN_CONTACT.search(extra):
        attributes["contact_not_disclosed"] = True
    if any(
        "verified" in (img.attributes.get("alt") or "").lower() for item_text in texts for img in item_text.css("img")
    ):
        attributes["verified"] = True
    for span in item.css("p.rk_txt span"):
        label, _, _ = clean_text(span.text()).partition(":")
        values = [clean_text(a.text()) for a in span.css("a") if clean_text(a.text())]
        if values and label.strip():
            attributes[label.strip().lower().replace(" ", "_")] = values
    return ParsedRfq(
        source=SOURCE,
        external_id=match.group("id"),
        canonical_url=urljoin(SITE_URL + "/", (link.attributes.get("href") or "").strip()),
        title=title,
        posted_at=found[0] if found else None,
        posted_text=posted_text,
        description=block_text(texts[0]) if texts else "",
        country_raw=country,
        country_code=country_code,
        attributes=attributes,
    )


def _posted_text(link: LexborNode) -> str:
    """The text of the first ``span`` after the title's ``h2`` (the posting day)."""
    heading = link.parent
    while heading is not None and heading.tag != "h2":
        heading = heading.parent
    node = heading.next if heading is not None else None
    while node is not None:
        if node.tag == "span":
            return clean_text(node.text())
        if node.tag not in ("-text", "-comment"):
            break
        node = node.next
    return ""


def _country(item: LexborNode) -> tuple[str, str]:
    box = item.css_first("div.buyerCoun")
    if box is None:
        return "", ""
    name = clean_text(box.text())
    for flag in box.css("span[class]"):
        for token in (flag.attributes.get("class") or "").split():
            match = _FLAG.match(token)
            if match:
                return match.group(1).upper(), name or clean_text(flag.attributes.get("title"))
    return "", name


def _next_url(tree: LexborHTMLParser) -> str | None:
    for selector in ('link[rel="next"]', "#pageingWrap a.bt_nx"):
        node = tree.css_first(selector)
        href = (node.attributes.get("href") or "").strip() if node is not None else ""
        if href and not href.startswith("javascript:"):
            return href
    return None


def _total_entries(tree: LexborHTMLParser) -> int | None:
    counter = tree.css_first("span.viewTxt")
    match = _COUNTER.search(counter.text()) if counter is not None else None
    return int(match.group(3).replace(",", "")) if match else None


def _total_pages(tree: LexborHTMLParser) -> int | None:
    node = tree.css_first("input#TPNum")
    value = (node.attributes.get("value") or "").strip() if node is not None else ""
    if value.isdigit():
        return int(value)
    paging = tree.css_first("#pageingWrap")
    match = _PAGE_OF.search(paging.text()) if paging is not None else None
    return int(match.group(2)) if match else None


# The keyword lists a beauty-first exporter watches; more (or country lists, /<ISO2>/<keyword>.html) by setting
# RFQ_SOURCE_EC21_LISTINGS. Page 1 is the keyword's own URL; later pages are reached by the page's next link.
LISTINGS = tuple(
    f"/{keyword}.html"
    for keyword in ("cosmetics", "skin-care", "hair", "nail", "perfume", "makeup", "face-mask", "serum", "cream")
)

SPEC = SourceSpec(
    name="ec21",
    kind="marketplace",
    site_url=SITE_URL,
    listings=LISTINGS,
    detail_pattern="/buy-lead/<Slug>--<id>.html",
    parse_list=parse_list,
    parse_detail=None,  # lead pages add nothing to the list without a premium sign-in
    cadence="0 */12 * * *",
    rate_per_minute=8.0,
    burst=2,
    impersonate="chrome",
    max_pages=15,  # an unsorted list is read to its end: 15 pages of 20 is the depth of a busy keyword
    respect_robots=True,
    description="EC21 buying leads from keyword lists: title, request text, buyer country (ISO flag), posting day.",
    evidence="served_page",
    fixtures=tuple(
        f"{FIXTURES}/importer.ec21.com_{page}.excerpt.html"
        for page in (
            "tea_page1",
            "US_tea_page1",
            "GB_tea_page1",
            "JP_tea_page1",
            "chili_page1",
            "matcha_page1",
            "rosa-roxburghii_page1",
        )
    ),
    known_gaps=(
        "the list shows no buyer name or company (lead pages need a premium sign-in)",
        "no structured quantity: quantities and ports appear only inside the request text",
        "the request text is the site's cut (about 500 characters)",
        "keyword lists are not sorted by date, so a crawl reads each list to its end or the page cap",
    ),
    date_sorted=False,
    detail_regex=DETAIL_REGEX,
    mail_domains=("ec21.com",),
)
