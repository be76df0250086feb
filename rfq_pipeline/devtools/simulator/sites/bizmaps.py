"""The simulated biz-maps.com prefecture lists, in the markup the evidence records (no served page was seen).

What is rendered as evidenced (``EVIDENCE_B.md`` section 4, see :mod:`rfq_pipeline.sources.bizmaps`):

- lists at ``/s/prefs/<code>`` and ``/s/prefs/<code>/m-inds/<codes>``, 20 companies a page, in ``div.results``;
- each company an ``li.results__item`` whose first link ``/item/<10 characters>`` holds ``.results__name`` and the
  "キーマン人数" counter ``.results_keyman_number--num`` (the noise the 2026 crawler strips from link texts), the
  description ``.results__text p``, a seven-row ``table.results__table`` of ``th.results__table--ttl`` /
  ``td.results__table--txt`` (業種, 住所, 設立年度, 代表者名, 資本金等, 電話番号, AIスコア) and a separate one-row
  オリジナルタグ table with ``.results__table--TagTxt``; the link repeats once per card;
- values in the formats of the 2025 scraped output: "〒 150-0001 東京都渋谷区神宮前１丁目１１番５号" (full-width
  digits), 設立年度 "2011/2/3", "1950/8" or without year "/4/1", "/3", 資本金等 "10,000,000円" or "-", 業種
  comma-joined with repeats ("卸売業界, 卸売業界, 化粧品卸売, 化粧品卸売");
- paging: ``ul.pagination`` with ``li.page-item.current.active`` for the current page, ``li.page-item.link > a``
  numbered links, ``li.page-item.prev > a`` "‹", and the counter ``div.pagination__wrap > div.pagination__num``
  ("21 ~ 40件 / 130件"); every link carries a ``ph`` token bound to its page (``?ph=%242y%2405%24…&page=N``), and a
  request for page N > 1 without the right token is answered with page 1, as the real server does.

Guessed or placeholder (not in the evidence): the next button ``li.page-item.next > a.page-link[rel=next]`` "›"
(``a.page-link[rel=next]`` is from the 2025 scraper, the ``li`` and the sign are by symmetry with "‹"); the token
itself (bcrypt-looking, fixed per list and page; real tokens may be salted per render); which numbers the pager
shows; 電話番号 and AIスコア always shown as images (blurred: their text formats are unknown, and the 2025 output has
no phone column although its scraper skipped image cells); the image's URL; the empty result (an empty
``div.results``); page ``<title>``s, robots.txt (none found; this one allows everything) and the 404 page. The list's
order is a fixed hash order: the real one is unknown, and no date is shown.

The companies come from a hand-written seed (``corpus/bizmaps/companies_seed.json``): invented names (stem, business
word, legal form), invented representatives, real ward and town names with postcodes written for the simulator.
They do not depend on the day: an undated directory entry belongs to every crawl window, so :meth:`expected` is
every company a crawl of the registered listings reaches (its first ``max_pages`` pages), whatever the day.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from html import escape
from typing import Any
from urllib.parse import quote

from rfq_pipeline.devtools.simulator.catalog import CORPUS, hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.bizmaps import SPEC

NAME = "bizmaps"
SEED = CORPUS / NAME / "companies_seed.json"
HOST = "https://biz-maps.com"
PAGE_SIZE = 20
PAGER_SPAN = 2  # numbered links either side of the current page
BLURRED = ("電話番号", "AIスコア")
BLUR_IMAGE = "/img/common/blur.png"
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_BCRYPT_CHARS = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LIST_PATH = re.compile(r"^s/prefs/(?P<pref>\d{2})(?:/m-inds/(?P<inds>\d+(?:,\d+)*))?/?$")
_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@dataclass(frozen=True)
class Company:
    """One company of the simulated directory, with its values as the list shows them."""

    item_id: str
    pref_code: str
    industry_code: int
    kind: str  # beauty / other / hard_negative, from the seed (for tests of the mix, never rendered)
    name: str
    industry_text: str  # 業種, comma-joined, repeats included
    industries: tuple[str, ...]  # what a reader keeps: the distinct industries in order
    postcode: str
    address: str  # after the postcode, as shown (full-width digits)
    founded_text: str  # 設立年度 as shown
    founded: tuple[int | None, int, int | None]  # (year or None, month, day or None)
    representative: str
    capital_text: str  # "10,000,000円" or "-"
    description: str
    keyman: int
    tags: str  # オリジナルタグ as shown ("-" when none)

    @property
    def path(self) -> str:
        """Site path of the company's page."""
        return f"/item/{self.item_id}"

    @property
    def capital_yen(self) -> int | None:
        """The capital in yen, None for "-"."""
        return None if self.capital_text == "-" else int(self.capital_text.removesuffix("円").replace(",", ""))


@cache
def _seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))


def _pick(options: list[Any], key: str) -> Any:
    return options[int(hash_fraction(key) * len(options))]


def _weighted(industries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    point = hash_fraction(key) * sum(industry["weight"] for industry in industries)
    for industry in industries:
        point -= industry["weight"]
        if point < 0:
            return industry
    return industries[-1]


def item_id(key: str) -> str:
    """A 10-character id like ``yP10EQgvlM``."""
    digest = hashlib.sha256(f"{NAME}-item-{key}".encode()).digest()
    return "".join(_ID_CHARS[byte % len(_ID_CHARS)] for byte in digest[:10])


def ph_token(path: str, page: int) -> str:
    """The paging token of ``path``'s page ``page``: bcrypt-looking (``$2y$05$`` + 53 characters), fixed per page."""
    digest = hashlib.sha512(f"{NAME}-ph-{path}-{page}".encode()).digest()
    return "$2y$05$" + "".join(_BCRYPT_CHARS[byte % len(_BCRYPT_CHARS)] for byte in digest[:53])


def page_url(path: str, page: int) -> str:
    """A pager link as the site writes it: absolute, ``ph`` (percent-encoded) before ``page``."""
    return f"{HOST}{path}?ph={quote(ph_token(path, page), safe='')}&page={page}"


def _registered(man_yen: float) -> int:
    """Two significant figures (300, 1,200, 35,000 万円), as capital amounts are usually registered."""
    if man_yen < 100:
        return max(1, round(man_yen / 10) * 10)
    magnitude = 10 ** (len(str(int(man_yen))) - 2)
    return int(round(man_yen / magnitude) * magnitude)


def _founded(key: str) -> tuple[str, tuple[int | None, int, int | None]]:
    year = 1950 + int(hash_fraction(key + "/year") * 75)
    month = 1 + int(hash_fraction(key + "/month") * 12)
    day = 1 + int(hash_fraction(key + "/day") * 28)
    form = hash_fraction(key + "/form")
    if form < 0.08:  # the year hidden: "/3" or "/4/1", as about 10% of the 2025 rows
        return (f"/{month}", (None, month, None)) if form < 0.03 else (f"/{month}/{day}", (None, month, day))
    if form < 0.45:
        return f"{year}/{month}", (year, month, None)
    return f"{year}/{month}/{day}", (year, month, day)


def _company(seed: dict[str, Any], pref_code: str, index: int) -> Company:
    key = f"{NAME}/{pref_code}/{index}"
    industry = _weighted(seed["industries"], key + "/industry")
    stem = _pick(seed["name_stems"], key + "/stem")
    word = _pick(industry["words"], key + "/word")
    form = _pick(seed["legal_forms"], key + "/form")
    # 前株 / 後株: the legal form before or after the name; 有限会社 nearly always before.
    before = form == "有限会社" or hash_fraction(key + "/form-position") < 0.6
    name = f"{form}{stem}{word}" if before else f"{stem}{word}{form}"
    places = [place for place in seed["places"] if place["pref_code"] == pref_code]
    place = _pick(places, key + "/place")
    town, postcode = _pick(place["towns"], key + "/town")
    chome, ban, go = (1 + int(hash_fraction(f"{key}/{part}") * size) for part, size in (("c", 5), ("b", 30), ("g", 20)))
    # Both numbering styles of the 2025 output: "１丁目１１番５号" and "１丁目４－５".
    street = f"{chome}丁目{ban}番{go}号" if hash_fraction(key + "/address-form") < 0.7 else f"{chome}丁目{ban}-{go}"
    building = _pick(seed["buildings"], key + "/building") if hash_fraction(key + "/has-building") < 0.3 else ""
    address = (
        f"{_seed()['prefectures'][pref_code]['name']}{place['city']}{town}{street.translate(_FULL_WIDTH)}{building}"
    )
    sector, label = industry["sector"], industry["label"]
    repeats = hash_fraction(key + "/repeats") < 0.2  # the 2025 output repeats industries ("A, A, B, B")
    shown = [sector, sector, label, label] if repeats else [sector, label]
    low, high = industry["capital_man_yen"]
    capital = (
        None
        if hash_fraction(key + "/capital-none") < 0.1
        else 10_000 * _registered(low + hash_fraction(key + "/capital") * (high - low))
    )
    founded_text, founded = _founded(key)
    tag_count = int(hash_fraction(key + "/tags") * 3)
    tags = [_pick(seed["tags"], f"{key}/tag/{n}") for n in range(tag_count)]
    return Company(
        item_id=item_id(key),
        pref_code=pref_code,
        industry_code=int(industry["code"]),
        kind=str(industry["kind"]),
        name=name,
        industry_text=", ".join(shown),
        industries=(sector, label),
        postcode=postcode,
        address=address,
        founded_text=founded_text,
        founded=founded,
        representative=f"{_pick(seed['family_names'], key + '/family')} {_pick(seed['given_names'], key + '/given')}",
        capital_text="-" if capital is None else f"{capital:,}円",
        description=f"{name}は、{_pick(industry['summaries'], key + '/summary')}を行う会社である。",
        keyman=0 if hash_fraction(key + "/keyman") < 0.85 else 1 + int(hash_fraction(key + "/keymen") * 60),
        tags=", ".join(dict.fromkeys(tags)) if tags else "-",
    )


def build_companies() -> list[Company]:
    """Every company of the seed's prefectures, in each list's order."""
    seed = _seed()
    companies = [
        _company(seed, code, index)
        for code, prefecture in seed["prefectures"].items()
        for index in range(prefecture["companies"])
    ]
    if len({company.item_id for company in companies}) != len(companies):
        raise ValueError("two simulated biz-maps companies got the same id")
    return sorted(companies, key=lambda company: (company.pref_code, hash_fraction(f"{NAME}/order/{company.item_id}")))


def _document(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="UTF-8">
<title>{escape(title)}</title>
</head>
<body>
{body}
</body>
</html>
"""


def _cell(label: str, value: str) -> str:
    shown = f'<img src="{BLUR_IMAGE}" alt="">' if label in BLURRED else escape(value)
    return f'<tr><th class="results__table--ttl">{label}</th><td class="results__table--txt">{shown}</td></tr>'


def _card(company: Company) -> str:
    rows = "\n".join(
        _cell(label, value)
        for label, value in (
            ("業種", company.industry_text),
            ("住所", f"〒 {company.postcode} {company.address}"),
            ("設立年度", company.founded_text),
            ("代表者名", company.representative),
            ("資本金等", company.capital_text),
            ("電話番号", ""),
            ("AIスコア", ""),
        )
    )
    return f"""<li class="results__item">
<a href="{company.path}">
<p class="results__name">{escape(company.name)}</p>
<p>キーマン人数 <span class="results_keyman_number--num">{company.keyman}</span>人</p>
</a>
<a href="{company.path}"><div class="results__text"><p>{escape(company.description)}</p></div></a>
<table class="results__table">
{rows}
</table>
<table class="results__table">
<tr><th class="results__table--ttl">オリジナルタグ</th><td class="results__table--txt">\
<span class="results__table--TagTxt">{escape(company.tags)}</span></td></tr>
</table>
</li>"""


def _pager(path: str, page: int, total_pages: int) -> str:
    items = []
    if page > 1:
        items.append(f'<li class="page-item prev"><a href="{page_url(path, page - 1)}">‹</a></li>')
    for number in sorted({1, *range(max(1, page - PAGER_SPAN), min(total_pages, page + PAGER_SPAN) + 1)}):
        if number == page:
            items.append(f'<li class="page-item current active">{number}</li>')
        else:
            items.append(f'<li class="page-item link"><a href="{page_url(path, number)}">{number}</a></li>')
    if page < total_pages:
        next_href = page_url(path, page + 1)
        items.append(f'<li class="page-item next"><a class="page-link" rel="next" href="{next_href}">›</a></li>')
    return '<ul class="pagination">\n' + "\n".join(items) + "\n</ul>"


def render_list(companies: list[Company], path: str, page: int, heading: str) -> str:
    """Page ``page`` of the list at ``path`` (companies already filtered, in the list's order)."""
    total = len(companies)
    total_pages = max(1, -(-total // PAGE_SIZE))
    chunk = companies[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(_card(company) for company in chunk)
    paging = ""
    if chunk:
        first = (page - 1) * PAGE_SIZE + 1
        counter = f"{first} ~ {first + len(chunk) - 1}件 / {total}件"
        paging = f"""<div class="pagination__wrap"><div class="pagination__num">{counter}</div></div>
{_pager(path, page, total_pages)}"""
    body = f"""<h1>{escape(heading)}の企業一覧</h1>
<div class="results">
<ul>
{cards}
</ul>
</div>
{paging}"""
    return _document(f"{heading}の企業一覧 | BIZMAPS", body)


def render_not_found(path: str) -> str:
    """A 404 page (placeholder markup)."""
    body = f"<h1>ページが見つかりません</h1>\n<p>{escape(path)} は存在しないか、削除されました。</p>"
    return _document("ページが見つかりません | BIZMAPS", body)


def served_page(query: dict[str, list[str]], path: str) -> int:
    """The page the server answers: the requested one when its ``ph`` token is right, page 1 otherwise."""
    value = query.get("page", ["1"])[0]
    page = int(value) if value.isdigit() and int(value) > 0 else 1
    if page == 1 or query.get("ph", [""])[0] != ph_token(path, page):
        return 1
    return page


class BizmapsSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of biz-maps.com."""

    name = NAME
    server_header = "nginx"
    robots_txt = """# biz-maps' robots.txt was not found in the evidence: this placeholder allows everything.
User-agent: *
Allow: /{p}/
"""

    def __init__(self) -> None:
        self.companies: list[Company] = []

    def build(self, today: date, now: datetime) -> None:
        """Build the directory (it does not depend on the day: nothing on it is dated)."""
        del today, now
        self.companies = build_companies()

    def listing(self, pref_code: str, industry_codes: tuple[int, ...] = ()) -> list[Company]:
        """The companies of one prefecture list (filtered by industry codes if given), in the list's order."""
        return [
            company
            for company in self.companies
            if company.pref_code == pref_code and (not industry_codes or company.industry_code in industry_codes)
        ]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """A prefecture list page (page 1 unless the ``ph`` token fits the requested page), or the 404 page."""
        del now
        match = _LIST_PATH.match(rest)
        if match is None or not 1 <= int(match.group("pref")) <= 47:
            return Reply(404, render_not_found("/" + rest).encode())
        codes = tuple(int(code) for code in match.group("inds").split(",")) if match.group("inds") else ()
        path = "/" + rest.rstrip("/")
        prefecture = _seed()["prefectures"].get(match.group("pref"), {"name": f"都道府県{match.group('pref')}"})
        html = render_list(self.listing(match.group("pref"), codes), path, served_page(query, path), prefecture["name"])
        return Reply(200, (redesigned(html) if style == "drift" else html).encode())

    def reached(self) -> list[Company]:
        """The companies a crawl of the registered listings reaches: each listing's first ``max_pages`` pages."""
        found: dict[str, Company] = {}
        for listing in SPEC.listings:
            match = _LIST_PATH.match(listing.lstrip("/"))
            if match is None:
                raise ValueError(f"bizmaps listing {listing!r} is not a prefecture list")
            codes = tuple(int(code) for code in match.group("inds").split(",")) if match.group("inds") else ()
            for company in self.listing(match.group("pref"), codes)[: SPEC.max_pages * PAGE_SIZE]:
                found.setdefault(company.item_id, company)
        return list(found.values())

    def expected(self, day: date) -> list[str]:
        """Every id a crawl reaches, whatever ``day``: undated companies belong to every window."""
        del day
        return [company.item_id for company in self.reached()]

    def expected_total(self) -> int:
        """How many companies a crawl of the registered listings reaches."""
        return len(self.reached())


SITE = BizmapsSite()
