"""Loader for biz-maps.com, a Japanese company directory (not an RFQ board): the companies of a prefecture list.

What it follows (``rfq_pipeline_tests/sources/fixtures/EVIDENCE_B.md``, section 4; no page served by the site seen):

- **Cards** (sfix-fybe/tasks ``extract_bizmap_data.py``, commit 97ef8bc, March 2025, with its 696-row output
  ``bizmap_companies.csv``): each company is an ``li.results__item``; the name ``.results__name``; the key-person count
  ``.results_keyman_number--num``; the business description ``.results__text p``; the first link goes to
  ``/item/<10 characters>`` (the external id); ``.results__table tr`` rows label ``.results__table--ttl`` and value
  ``.results__table--txt``. A value cell holding an image is blurred (members only) and is skipped, never read.
- **Rows and paging** (Hsiangpo/OldIron ``Japan/src/japan_crawler/sites/bizmaps/parser.py`` and
  ``Japan/test/test_bizmaps_pagination.py``, commit 8ceba73, March 2026): rows are ``th``/``td`` pairs 業種, 住所,
  設立年度, 代表者名, 資本金等, 電話番号, AIスコア, and a separate one-row table オリジナルタグ (not read here); when no
  ``li.results__item`` is found, each unique ``a[href*="/item/"]`` inside ``div.results``/``div.resultsWrapper`` is
  paired in order with the next table of at least five rows. Lists are ``/s/prefs/<01..47>`` (optionally
  ``/s/prefs/13/m-inds/<codes>``, an industry filter seen in the 2025 scraper), 20 companies a page. Page N+1 is only
  served with the signed ``ph`` token the previous page links (``?ph=%242y%2405%24…&page=N+1``); without it the server
  answers page 1. The current page is ``li.page-item.current``; the counter ``div.pagination__num`` reads
  "159801 ~ 159809件 / 159809件".

Values as the 2025 output shows them, normalised with NFKC (full-width digits): 住所 "〒 456-0051 東京都墨田区横川１丁目
１１番５号" (postcode split off), 設立年度 "2011/2/3", "1950/8" or without year "/4/1" (year kept missing), 資本金等
"10,000,000円" or "-" (none), 業種 comma-joined with repeats (split and deduplicated).

Unknown: any **posting or update date** (none is shown: entries are undated, ``posted_at`` is None, and every crawl
window holds them); the order of a list; whether ``li.results__item`` still exists in 2026; the markup of an empty
result (an empty results container is taken as one); the value formats of 電話番号 and AIスコア; 法人番号 on cards (not
seen); robots.txt and terms (not found). The 2025 output has postcodes that do not match the ward of the address.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import checked_tree, clean_text
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "bizmaps"
SITE_URL = "https://biz-maps.com"
COUNTRY, COUNTRY_CODE = "Japan", "JP"
PER_PAGE = 20

DETAIL_REGEX = r"/item/(?P<id>[A-Za-z0-9]{10})(?![A-Za-z0-9])"
_ITEM = re.compile(DETAIL_REGEX)
_POSTCODE = re.compile(r"〒\s*(\d{3})-?(\d{4})\s*")
_FOUNDED = re.compile(r"(\d{4})?/(\d{1,2})(?:/(\d{1,2}))?")
_YEN = re.compile(r"^(\d[\d,]*)円$")
_PREFECTURE = re.compile(r"^(東京都|北海道|(?:京都|大阪)府|[^\d\s]{2,3}?県)")
_TOTAL = re.compile(r"/\s*([\d,]+)\s*件")
_INDUSTRY_SPLIT = re.compile(r"\s*[,、，]\s*")
_KEYMAN_NOISE = re.compile(r"\s*キーマン.*$")
_NONE = {"", "-", "ー", "―", "－"}
_CURRENT_PAGE = ("li.page-item.current.active", "li.page-item.current", "li.current.active", "li.current", "li.active")
_FIELDS = {
    "業種": "industry",
    "住所": "address",
    "設立年度": "founded",
    "代表者名": "representative",
    "資本金等": "capital",
    "電話番号": "phone",
    "AIスコア": "ai_score",
}
_TAG_LABEL = "オリジナルタグ"  # the separate tag table: site-assigned marketing tags, not company facts


@dataclass(frozen=True)
class _Card:
    link: LexborNode
    name: str
    rows: list[LexborNode]
    description: str = ""
    keyman: str = ""


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of a prefecture (or filtered) list into undated company entries and the ph-signed next link.

    ``fetched_at`` is unused (nothing on the page is dated) but kept for a uniform parser signature. ``next_url`` is
    the page's own link to page N+1 carrying ``ph=``; without one paging stops (a ``?page=N`` is never made up).
    Raises :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift`` when these selectors find no
    company; the shared reader then tries the generic extractor, refined by :func:`refine_fallback`); a results
    container without companies is a valid empty result.
    """
    del fetched_at
    return _read(checked_tree(html, what="company list"))


def _read(tree: LexborHTMLParser) -> ListPage:
    cards = _cards(tree)
    current = _current_page(tree)
    total = _total_entries(tree)
    if not cards:
        if tree.css_first("div.results, div.resultsWrapper") is not None or total == 0:
            return ListPage(entries=[], has_next=False, total_entries=total, page_number=current)
        raise PageParseError("layout_drift", "no li.results__item, and no /item/ links in div.results to pair")
    entries = [_card_to_rfq(card) for card in cards]
    next_url = _next_url(tree, current)
    return ListPage(
        entries=entries,
        has_next=next_url is not None,
        next_url=next_url,
        total_pages=-(-total // PER_PAGE) if total else None,
        total_entries=total,
        page_number=current,
    )


def _cards(tree: LexborHTMLParser) -> list[_Card]:
    """Cards of the 2025 markup (``li.results__item``), else the 2026 crawler's pairing of links and tables."""
    cards = []
    for item in tree.css("li.results__item"):
        link = next((a for a in item.css("a[href]") if _ITEM.search(a.attributes.get("href") or "")), None)
        if link is None:
            raise PageParseError("layout_drift", "li.results__item without a link to /item/<id>")
        name_node = item.css_first(".results__name")
        text_node = item.css_first(".results__text p")
        keyman = item.css_first(".results_keyman_number--num")
        cards.append(
            _Card(
                link=link,
                name=clean_text(name_node.text()) if name_node is not None else _link_name(link),
                rows=item.css("tr"),
                description=clean_text(text_node.text()) if text_node is not None else "",
                keyman=_norm(keyman.text()) if keyman is not None else "",
            )
        )
    if cards:
        return cards
    wrapper = tree.css_first("div.results, div.resultsWrapper")
    if wrapper is None:
        return []
    links: dict[str, LexborNode] = {}
    for link in wrapper.css('a[href*="/item/"]'):
        match = _ITEM.search(link.attributes.get("href") or "")
        if match is not None:
            links.setdefault(match.group("id"), link)
    tables = [table for table in wrapper.css("table") if len(table.css("tr")) >= 5]
    # Paired in order, as the 2026 crawler does; a link without a table (or the reverse) is left out.
    pairs = zip(links.values(), tables, strict=False)
    return [_Card(link=link, name=_link_name(link), rows=table.css("tr")) for link, table in pairs]


def _card_to_rfq(card: _Card) -> ParsedRfq:
    href = card.link.attributes.get("href") or ""
    match = _ITEM.search(href)
    if match is None or not card.name:
        raise PageParseError("layout_drift", f"company card without an /item/<id> link or a name ({href!r})")
    values, blurred, others = _rows(card.rows)
    attributes: dict[str, Any] = {}
    if card.keyman.isdigit():
        attributes["keyman_count"] = int(card.keyman)
    if "industry" in values:
        attributes["industries"] = list(dict.fromkeys(p for p in _INDUSTRY_SPLIT.split(values["industry"]) if p))
    if "address" in values:
        attributes.update(_address(values["address"]))
    if "founded" in values:
        attributes.update(_founded(values["founded"]))
    if "capital" in values:
        attributes["capital_text"] = values["capital"]
        yen = _YEN.match(values["capital"].replace(" ", ""))
        attributes["capital_yen"] = int(yen.group(1).replace(",", "")) if yen else None
    for key in ("phone", "ai_score"):
        if key in values:
            attributes[key] = values[key]
    if others:
        attributes["other_rows"] = others
    if blurred:
        attributes["blurred"] = blurred
    return ParsedRfq(
        source=SOURCE,
        external_id=match.group("id"),
        canonical_url=f"{SITE_URL}/item/{match.group('id')}",
        title=card.name,
        posted_at=None,
        description=card.description,
        buyer_name=values.get("representative", ""),
        buyer_company=card.name,
        country_raw=COUNTRY,
        country_code=COUNTRY_CODE,
        attributes=attributes,
    )


def _rows(rows: list[LexborNode]) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Known values by field, the labels whose values are blurred images, and any other labelled value."""
    values: dict[str, str] = {}
    blurred: list[str] = []
    others: dict[str, str] = {}
    for row in rows:
        label_node = row.css_first(".results__table--ttl") or row.css_first("th")
        value_node = row.css_first(".results__table--txt") or row.css_first("td")
        if label_node is None or value_node is None:
            continue
        label = _norm(label_node.text()).replace(" ", "")
        if not label or label == _TAG_LABEL:
            continue
        if value_node.css_first("img") is not None:
            blurred.append(label)
            continue
        value = _norm(value_node.text())
        field = _FIELDS.get(label)
        if field is None:
            others[label] = value
        elif value not in _NONE or field == "capital":
            values[field] = value
    return values, blurred, others


def _address(value: str) -> dict[str, Any]:
    postcode = _POSTCODE.match(value)
    address = value[postcode.end() :].strip() if postcode else value
    prefecture = _PREFECTURE.match(address)
    found: dict[str, Any] = {"address": address}
    if postcode:
        found["postcode"] = f"{postcode.group(1)}-{postcode.group(2)}"
    if prefecture:
        found["prefecture"] = prefecture.group(1)
    return found


def _founded(value: str) -> dict[str, Any]:
    found: dict[str, Any] = {"founded_text": value}
    match = _FOUNDED.search(value)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return found
    day = int(match.group(3)) if match.group(3) else None
    found["founded_year"] = int(match.group(1)) if match.group(1) else None
    found["founded_month"] = int(match.group(2))
    found["founded_day"] = day if day is not None and 1 <= day <= 31 else None
    return found


def _link_name(link: LexborNode) -> str:
    """The name in a card link: its first line, without the "キーマン人数" key-person counter the link also holds."""
    lines = [clean_text(line) for line in (link.text(separator="\n") or "").split("\n")]
    first = next((line for line in lines if line), "")
    return _KEYMAN_NOISE.sub("", first)


def _current_page(tree: LexborHTMLParser) -> int | None:
    for selector in _CURRENT_PAGE:
        for node in tree.css(selector):
            text = _norm(node.text())
            if text.isdigit():
                return int(text)
    return None


def _next_url(tree: LexborHTMLParser, current: int | None) -> str | None:
    """The page's own link to page ``current + 1`` that carries a ``ph`` token (the ``rel=next`` one if unnumbered)."""
    for link in tree.css('a[href*="page="]'):
        href = (link.attributes.get("href") or "").strip()
        query = parse_qs(urlsplit(href).query)
        page, token = query.get("page", [""])[0], query.get("ph", [""])[0]
        if not token:
            continue
        if (current is not None and page == str(current + 1)) or (
            current is None and "next" in (link.attributes.get("rel") or "").split()
        ):
            return href
    return None


def _total_entries(tree: LexborHTMLParser) -> int | None:
    counter = tree.css_first("div.pagination__num")
    match = _TOTAL.search(_norm(counter.text())) if counter is not None else None
    return int(match.group(1).replace(",", "")) if match else None


def refine_fallback(entry: ParsedRfq) -> ParsedRfq:
    """What the directory says of every company that the generic extractor cannot know after a redesign.

    Every company is in Japan, and the name link also carries the key-person counter ("キーマン人数 3人").
    """
    name = _KEYMAN_NOISE.sub("", entry.title) or entry.title
    return replace(entry, title=name, buyer_company=name, country_raw=COUNTRY, country_code=COUNTRY_CODE)


def _norm(text: str | None) -> str:
    # Table values only: NFKC folds full-width digits and signs (１１番５号, －) into ASCII. Names and descriptions
    # keep the characters the company chose (＆, full-width letters).
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def prefecture_listing(code: int, industry_codes: tuple[int, ...] = ()) -> str:
    """The list of one prefecture (JIS code 1-47), optionally filtered by the site's industry codes (``m-inds``)."""
    path = f"/s/prefs/{code:02d}"
    return f"{path}/m-inds/{','.join(str(c) for c in industry_codes)}" if industry_codes else path


SPEC = SourceSpec(
    name="bizmaps",
    kind="loader",
    site_url=SITE_URL,
    # Tokyo. Pages after the first come only from each page's ph-signed link, so the listing has no {page}.
    listings=(prefecture_listing(13),),
    detail_pattern="/item/<10 characters>",
    parse_list=parse_list,
    parse_detail=None,  # company pages were not examined by any source
    cadence="0 4 * * *",
    rate_per_minute=6.0,
    burst=2,
    impersonate="chrome",
    # Undated companies belong to every window, so every crawl reads the same first pages again: keep it short.
    max_pages=5,
    respect_robots=True,
    description="biz-maps.com Japanese company directory (Tokyo): company name, industries, address and postcode, "
    "founding date, representative, capital, business description.",
    page_size=PER_PAGE,
    evidence="second_hand",
    fixtures=(),
    known_gaps=(
        "no posting or update date is shown: companies are undated and belong to every crawl window, so each crawl "
        "re-reads the first pages of the list",
        "values shown as images (blurred for non-members) are missing, never read",
        "the list's order is unknown (not by date): a crawl reads the page cap",
        "pages after the first need the ph token of the previous page's link; a page served for a rejected token "
        "(page 1 again) is caught by the page number its pagination marks; the crawl then stops",
        "whether li.results__item still exists in 2026 is unknown; a link/table pairing reads the 2026 markup",
        "formats of 電話番号 and AIスコア are unknown; 法人番号 is not on the cards",
        "postcodes may not match the address (seen in the 2025 scraped output)",
        "robots.txt and terms were not found; the industry codes of the m-inds filter for beauty trades are unknown",
    ),
    date_sorted=False,
    dated=False,
    refine_fallback=refine_fallback,
    detail_regex=DETAIL_REGEX,
)
