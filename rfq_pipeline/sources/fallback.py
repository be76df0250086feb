"""The generic extractor that runs when a source's own selectors find nothing on a page that should have leads.

Sites redesign without notice. When the parser of a source reports layout drift on a page that is whole, not a
challenge and not an empty result, this module still reads what any list of leads must carry: a link to each
lead's detail page. It looks in three places, most reliable first:

1. JSON-LD ``ItemList`` entries (``url`` and ``name``), which sites keep for search engines through redesigns;
2. microdata (``itemscope`` blocks with ``itemprop="url"`` / ``itemprop="name"``);
3. repeated blocks that link to the source's detail-URL pattern: each lead's block is the largest ancestor of its
   link that holds no other lead's link.

From each block it takes the title and URL, and by pattern the posting day, the country (a flag class or image, or
a country name) and the quantity where it can. Everything it returns is marked ``extraction="fallback"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.normalize.rfqs import country_code, country_name
from rfq_pipeline.sources.dates import find_day
from rfq_pipeline.sources.html import clean_text
from rfq_pipeline.sources.model import ListPage, ParsedRfq

# Flag markup of the sites we know and the common icon sets: EC21 "cfImg11_kr", TradeKey "f_ae",
# go4WorldBusiness "famfamfam-flag-us", "flag-icon-de", "flag-fr", and images named after the code.
_FLAG_CLASS = re.compile(r"^(?:cfImg\d*_|f_|famfamfam-flag-|flag-icon-|flag[-_]|fi-)([a-z]{2})$", re.I)
_FLAG_SRC = re.compile(
    r"/(?:flags?|countries?-flags?|flag_?icons?)/(?:\d+x\d+/)?([a-z]{2})\.(?:gif|png|jpe?g|svg|webp)", re.I
)
_COUNTRY_LABEL = re.compile(
    r"(?:buyer\s+from|country(?:\s*/\s*region)?|location|destination|request\s+from|made\s+in)\s*:?\s*"
    r"([A-Z][A-Za-z .'&()-]{1,40}?)(?=\s*(?:$|\n|\||,|;|\s{2}|Quantity|Posted|Date))",
    re.I,
)
_QUANTITY = re.compile(
    r"(?:quantity(?:\s+required)?|purchase\s+quantity|qty|order\s+quantity|required\s+quantity)\s*:?\s*"
    r"(\d[\d,.]*\s*[A-Za-z][A-Za-z0-9 ./()-]{0,30}?)(?=\s*(?:$|\n|\||;|\s{2}|[A-Z][a-z]+\s*:))",
    re.I,
)
_NEXT_TEXT = re.compile(r"^(?:next(?:\s+page)?\s*(?:>|›|»|>>)?|›|»|>|>>)$", re.I)  # "Next >" on TradeKey
_BLOCK_TAGS = {
    "li",
    "article",
    "div",
    "tr",
    "section",
    "dd",
    "td",
    "p",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}
_MAX_CARD_TEXT = 6000  # a lead alone on a page must not take the whole page as its block


@dataclass
class _Lead:
    external_id: str
    url: str
    title: str = ""
    link: LexborNode | None = None  # the first link to the lead's detail page
    card: LexborNode | None = None  # the block around it that belongs to this lead alone


def extract(html: str, *, source: str, detail_regex: str, site_url: str, drift: str = "") -> ListPage:
    """Leads found on ``html`` without the source's selectors (possibly none), marked ``extraction="fallback"``.

    ``detail_regex`` must have an ``id`` group; relative links are resolved against the page's ``<base href>`` or
    ``site_url``. ``drift`` says why the selectors failed and is carried on the returned page.
    """
    pattern = re.compile(detail_regex)
    tree = LexborHTMLParser(html)
    base = _base_url(tree, site_url)
    leads: dict[str, _Lead] = {}
    for url, name in _jsonld_items(tree):
        _merge(leads, pattern, urljoin(base, url), title=name)
    for url, name in _microdata_items(tree, base):
        _merge(leads, pattern, url, title=name)
    for link, url in _detail_links(tree, pattern, base):
        lead = _merge(leads, pattern, url, title="")
        if lead is not None and lead.link is None:
            lead.link = link
    _place_cards(leads)
    entries = [_to_rfq(lead, source) for lead in leads.values()]
    has_next, next_url = _next_link(tree)
    return ListPage(
        entries=entries, has_next=has_next, next_url=next_url, extraction="fallback", drift=drift or "layout drift"
    )


def _base_url(tree: LexborHTMLParser, site_url: str) -> str:
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    base = href if href.startswith(("http://", "https://")) else site_url
    return base.rstrip("/") + "/"


def _merge(leads: dict[str, _Lead], pattern: re.Pattern[str], url: str, *, title: str) -> _Lead | None:
    url = url.strip()
    match = pattern.search(url)
    if match is None:
        return None
    external_id = match.group("id")
    lead = leads.get(external_id)
    if lead is None:
        lead = leads[external_id] = _Lead(external_id, url)
    if title and not lead.title:
        lead.title = clean_text(title)
    return lead


def _jsonld_items(tree: LexborHTMLParser) -> Iterator[tuple[str, str]]:
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text() or "")
        except ValueError:
            continue
        for item_list in _walk_item_lists(data):
            for element in item_list.get("itemListElement") or []:
                if not isinstance(element, dict):
                    continue
                item = element.get("item") if isinstance(element.get("item"), dict) else element
                url = item.get("url") or element.get("url") or (item.get("@id") if isinstance(item, dict) else None)
                name = item.get("name") or element.get("name") or ""
                if isinstance(url, str):
                    yield url, str(name)


def _walk_item_lists(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for value in data:
            yield from _walk_item_lists(value)
    elif isinstance(data, dict):
        kind = data.get("@type")
        if kind == "ItemList" or (isinstance(kind, list) and "ItemList" in kind):
            yield data
        for key in ("@graph", "mainEntity"):
            if key in data:
                yield from _walk_item_lists(data[key])


def _microdata_items(tree: LexborHTMLParser, base: str) -> Iterator[tuple[str, str]]:
    for scope in tree.css("[itemscope]"):
        url_node = scope.css_first('[itemprop="url"]')
        if url_node is None:
            continue
        url = url_node.attributes.get("href") or url_node.attributes.get("content") or ""
        name_node = scope.css_first('[itemprop="name"]')
        name = ""
        if name_node is not None:
            name = name_node.attributes.get("content") or name_node.text() or ""
        if url:
            yield urljoin(base, url.strip()), name


def _detail_links(tree: LexborHTMLParser, pattern: re.Pattern[str], base: str) -> Iterator[tuple[LexborNode, str]]:
    if tree.body is None:
        return
    for link in tree.body.css("a[href]"):
        href = (link.attributes.get("href") or "").strip()
        if href and not href.startswith(("javascript:", "#", "mailto:")):
            url = urljoin(base, href)
            if pattern.search(url):
                yield link, url


def _place_cards(leads: dict[str, _Lead]) -> None:
    """Find each lead's block: the largest ancestor of its link that holds no other lead's link."""
    owner: dict[int, set[str]] = {}
    for lead in leads.values():
        node = lead.link
        while node is not None:
            owner.setdefault(node.mem_id, set()).add(lead.external_id)
            node = node.parent
    for lead in leads.values():
        node = lead.link
        if node is None:
            continue
        card = node
        parent = node.parent
        while (
            parent is not None
            and parent.tag not in ("body", "html")
            and owner.get(parent.mem_id) == {lead.external_id}
            and len(parent.text() or "") <= _MAX_CARD_TEXT
        ):
            card = parent
            parent = parent.parent
        lead.card = card


def _to_rfq(lead: _Lead, source: str) -> ParsedRfq:
    title = lead.title
    if not title and lead.link is not None:
        title = clean_text(lead.link.attributes.get("title")) or clean_text(lead.link.text(separator=" "))
    if not title and lead.card is not None:
        heading = next((h for h in lead.card.css("h1, h2, h3, h4, h5, h6") if clean_text(h.text())), None)
        title = clean_text(heading.text(separator=" ")) if heading is not None else ""
    posted_at, posted_text, code, country, quantity, description = None, "", "", "", "", ""
    if lead.card is not None:
        text = _card_text(lead.card)
        found = find_day(text)
        if found is not None:
            posted_at, posted_text = found
        code, country = _country(lead.card, text)
        quantity_match = _QUANTITY.search(text)
        quantity = clean_text(quantity_match.group(1)) if quantity_match else ""
        description = _description(lead.card, title)
    return ParsedRfq(
        source=source,
        external_id=lead.external_id,
        canonical_url=lead.url,
        title=title or lead.url,
        posted_at=posted_at,
        posted_text=posted_text,
        description=description,
        quantity_text=quantity,
        country_raw=country,
        country_code=code,
        extraction="fallback",
    )


def _card_text(node: LexborNode) -> str:
    """The block's text with one line per element boundary, so patterns do not run across fields."""
    return "\n".join(line for line in (clean_text(t) for t in (node.text(separator="\n") or "").split("\n")) if line)


def _country(node: LexborNode, text: str) -> tuple[str, str]:
    for element in node.traverse():
        for token in (element.attributes.get("class") or "").split():
            match = _FLAG_CLASS.match(token)
            if match and country_name(match.group(1).upper()):
                code = match.group(1).upper()
                named = clean_text(element.attributes.get("title") or element.attributes.get("alt") or "")
                return code, _strip_made_in(named) or _name_near(element) or country_name(code) or ""
        if element.tag == "img":
            match = _FLAG_SRC.search(element.attributes.get("src") or "")
            if match and country_name(match.group(1).upper()):
                code = match.group(1).upper()
                named = clean_text(element.attributes.get("title") or element.attributes.get("alt") or "")
                return code, _strip_made_in(named) or country_name(code) or ""
    label = _COUNTRY_LABEL.search(text)
    if label and (code := country_code(label.group(1))):
        return code, clean_text(label.group(1))
    for line in text.split("\n"):
        if 2 <= len(line) <= 40 and (code := country_code(line)):
            return code, line
    return "", ""


def _strip_made_in(text: str) -> str:
    return re.sub(r"^made\s+in\s+", "", text, flags=re.I)


def _name_near(element: LexborNode) -> str:
    parent = element.parent
    text = clean_text(parent.text()) if parent is not None else ""
    return text if text and country_code(text) else ""


def _description(node: LexborNode, title: str) -> str:
    """The longest text of the block that is not the title: on a lead card, the request itself."""
    best = ""
    for element in node.traverse():
        if element.tag in ("script", "style", "a", "h1", "h2", "h3", "h4", "h5", "h6"):
            continue
        text = clean_text(element.text(deep=True))
        if (
            len(text) > len(best)
            and text != title
            and not any(child.tag in _BLOCK_TAGS for child in element.iter() if child.tag != "-text")
        ):
            best = text
    return best


def _next_link(tree: LexborHTMLParser) -> tuple[bool, str | None]:
    for selector in ('link[rel="next"]', 'a[rel~="next"]'):
        node = tree.css_first(selector)
        if node is not None and node.attributes.get("href"):
            return True, (node.attributes.get("href") or "").strip()
    for link in tree.css("a[href]"):
        classes = (link.attributes.get("class") or "").lower().split()
        label = clean_text(link.text()) or clean_text(link.attributes.get("aria-label") or "")
        if any(c in ("next", "bt_nx", "pagination__next") or c.endswith("-next") for c in classes) or (
            label and _NEXT_TEXT.match(label)
        ):
            href = (link.attributes.get("href") or "").strip()
            if href and not href.startswith(("javascript:", "#")):
                return True, href
    return False, None
