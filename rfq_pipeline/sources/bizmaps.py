"""Loader for a Japanese company directory (biz-maps style): beauty-related companies, most recently updated first.

Each lead is a company (cosmetics wholesaler or retailer, drugstore, salon, importer) whose directory entry was newly
listed or updated, identified by its 法人番号 (13-digit corporate number). The listing URL, the card structure
(``div.company-card`` with a 法人番号 / 所在地 / 業種 / 資本金 / 従業員数 / 設立 table, ``事業内容`` summary and
``更新日``) and the empty-result message were designed for the simulator; the real site's structure must be checked
before production use.

Japanese notations handled: update dates as "2025年07月13日" or "2025/07/13" (also unpadded and full-width
digits, normalised with NFKC), foundation dates in the Japanese era ("平成27年4月", "令和元年10月"), capital in
万円/億円 ("1億5,000万円"), and 非公開 for undisclosed values. The update date is Japan's calendar day, kept as that
day at midnight UTC so that the partition is the day the directory shows.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.sources.html import checked_tree
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "bizmaps"
SITE_URL = "https://biz-maps.com"
COUNTRY = "Japan"
LISTED_INDUSTRIES = ("cosmetics-wholesale", "cosmetics-retail", "beauty-salon", "import-trading")

_COMPANY_PATH = re.compile(r"/comp/(\d{13})\b")
_DATE = re.compile(r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|/(\d{1,2})/(\d{1,2})|-(\d{1,2})-(\d{1,2}))")
_ERA = re.compile(r"(令和|平成|昭和|大正|明治)\s*(元|\d{1,2})\s*年(?:\s*(\d{1,2})\s*月)?")
_GREGORIAN_YEAR_MONTH = re.compile(r"(\d{4})\s*年(?:\s*(\d{1,2})\s*月)?")
_ERA_OFFSETS = {"令和": 2018, "平成": 1988, "昭和": 1925, "大正": 1911, "明治": 1867}
_CAPITAL = re.compile(r"(?:(\d[\d,]*)\s*億)?\s*(?:(\d[\d,]*)\s*万)?\s*(?:(\d[\d,]*))?\s*円")
_COUNT = re.compile(r"(\d[\d,]*)\s*(?:名|人)")
_PREFECTURE = re.compile(r"^(東京都|北海道|(?:京都|大阪)府|[^\d\s]{2,3}?県)")
_EMPTY_STATE = re.compile(r"(?:企業|会社|結果)(?:は|が)?見つかりませんでした|該当する企業(?:は|が)?ありません")
_PAGE_PARAM = re.compile(r"[?&](?:amp;)?page=(\d+)")
_LABELS = {
    "法人番号": "corporate_number",
    "所在地": "address",
    "本社所在地": "address",
    "業種": "industry",
    "資本金": "capital",
    "従業員数": "employees",
    "設立": "established",
    "設立年月": "established",
}
_UNDISCLOSED = {"", "非公開", "-", "―", "ー", "未登録"}


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one industry listing page into company entries (newest update first) and the paging state.

    ``fetched_at`` is unused (cards carry absolute dates) but kept for a uniform parser signature. Raises
    :class:`PageParseError` (``truncated``, ``challenge``, ``layout_drift``); a page without companies that says
    「条件に一致する企業は見つかりませんでした」 is a valid empty result.
    """
    del fetched_at
    tree = checked_tree(html, what="company list")
    cards = tree.css("div.company-card")
    if not cards:
        if _EMPTY_STATE.search(_normalise(tree.body.text() if tree.body else "")):
            return ListPage(entries=[], has_next=False, total_pages=_total_pages(tree))
        raise PageParseError("layout_drift", "no div.company-card entries and no 「見つかりませんでした」 message")
    entries = [_card_to_rfq(card, index) for index, card in enumerate(cards)]
    has_next = tree.css_first("div.pagination a.pagination__next[href]") is not None
    return ListPage(entries=entries, has_next=has_next, total_pages=_total_pages(tree))


def parse_japanese_date(text: str) -> date | None:
    """The first date in ``text``: "2025年07月13日", "2025年7月3日", "2025/07/13", "2025-07-13", full-width too."""
    match = _DATE.search(_normalise(text))
    if match is None:
        return None
    year = int(match.group(1))
    month, day = next((int(m), int(d)) for m, d in (match.group(2, 3), match.group(4, 5), match.group(6, 7)) if m)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_year_month(text: str) -> tuple[int, int | None] | None:
    """A foundation date as (year, month or None): Japanese era ("平成27年4月", "令和元年") or "2015年4月"."""
    normalised = _normalise(text)
    era = _ERA.search(normalised)
    if era is not None:
        number = 1 if era.group(2) == "元" else int(era.group(2))
        year, month = _ERA_OFFSETS[era.group(1)] + number, era.group(3)
    else:
        gregorian = _GREGORIAN_YEAR_MONTH.search(normalised)
        if gregorian is None:
            return None
        year, month = int(gregorian.group(1)), gregorian.group(2)
    month_no = int(month) if month else None
    if month_no is not None and not 1 <= month_no <= 12:
        return None
    return year, month_no


def parse_capital_yen(text: str) -> int | None:
    """Capital in yen from "1,000万円", "1億円", "1億5,000万円" or "3,000,000円"; None for 非公開 or no amount."""
    match = _CAPITAL.search(_normalise(text))
    if match is None or not any(match.groups()):
        return None
    oku, man, yen = (int(group.replace(",", "")) if group else 0 for group in match.groups())
    return oku * 100_000_000 + man * 10_000 + yen


def corporate_number_is_valid(number: str) -> bool:
    """Whether a 13-digit 法人番号's leading check digit matches its 12-digit base."""
    number = _normalise(number).strip()
    if len(number) != 13 or not number.isdigit():
        return False
    base = number[1:]
    total = sum(int(digit) * (2 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(base), 1))
    return int(number[0]) == 9 - total % 9


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and punctuation (２０２５／０７／１３) into their ASCII forms.
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def _card_fields(card: LexborNode) -> dict[str, str]:
    fields: dict[str, str] = {}
    for row in card.css("table.company-card__table tr"):
        label, value = row.css_first("th"), row.css_first("td")
        if label is None or value is None:
            continue
        key = _LABELS.get(_normalise(label.text()).replace(" ", ""))
        if key:
            fields[key] = " ".join((value.text() or "").split())
    return fields


def _card_to_rfq(card: LexborNode, index: int) -> ParsedRfq:
    link = card.css_first("h2.company-card__name a[href]")
    if link is None:
        raise PageParseError("layout_drift", f"company card {index} lacks h2.company-card__name a")
    name = " ".join((link.text() or "").split())
    fields = _card_fields(card)
    path_match = _COMPANY_PATH.search(link.attributes.get("href") or "")
    number = _normalise(fields.get("corporate_number", "")).replace(" ", "") or (
        path_match.group(1) if path_match else ""
    )
    if not name or not re.fullmatch(r"\d{13}", number):
        raise PageParseError("layout_drift", f"company card {index} lacks a name or a 13-digit 法人番号")
    industry = fields.get("industry", "")
    date_node = card.css_first("p.company-card__date")
    date_text = " ".join((date_node.text() or "").split()) if date_node is not None else ""
    # The card labels its date 「更新日：」; only the date itself is kept as the posted text.
    posted_text = re.sub(r"^[^0-9０-９]*", "", date_text)
    updated = parse_japanese_date(date_text)
    summary_node = card.css_first("p.company-card__summary")
    summary = " ".join((summary_node.text() or "").split()) if summary_node is not None else ""
    summary = re.sub(r"^事業内容\s*[:：]\s*", "", summary)
    address = fields.get("address", "")
    prefecture = _PREFECTURE.match(address)
    capital = fields.get("capital", "")
    employees = fields.get("employees", "")
    employee_count = _COUNT.search(_normalise(employees))
    established = parse_year_month(fields.get("established", ""))
    badge = card.css_first(".company-card__badge")
    attributes: dict[str, Any] = {
        "corporate_number_valid": corporate_number_is_valid(number),
        "industry": industry,
        "prefecture": prefecture.group(1) if prefecture else "",
        "address": address,
        "capital_text": capital,
        "capital_yen": None if capital in _UNDISCLOSED else parse_capital_yen(capital),
        "employees_text": employees,
        "employees": int(employee_count.group(1).replace(",", "")) if employee_count else None,
        "established_text": fields.get("established", ""),
        "established": _iso_year_month(established),
        "is_new": badge is not None and "NEW" in _normalise(badge.text()).upper(),
    }
    return ParsedRfq(
        source=SOURCE,
        external_id=number,
        canonical_url=f"{SITE_URL}/comp/{number}",
        title=f"{name}｜{industry}" if industry else name,
        posted_at=datetime(updated.year, updated.month, updated.day, tzinfo=UTC) if updated else None,
        posted_text=posted_text,
        description=summary,
        buyer_company=name,
        country_raw=COUNTRY,
        attributes=attributes,
    )


def _iso_year_month(value: tuple[int, int | None] | None) -> str:
    """(2015, 4) -> "2015-04"; (2015, None) -> "2015"; None -> ""."""
    if value is None:
        return ""
    year, month = value
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def _total_pages(tree: LexborHTMLParser) -> int | None:
    numbers = [
        int(m.group(1))
        for a in tree.css("div.pagination a[href]")
        if (m := _PAGE_PARAM.search(a.attributes.get("href") or ""))
    ]
    current = tree.css_first("div.pagination .pagination__current")
    if current is not None and _normalise(current.text()).isdigit():
        numbers.append(int(_normalise(current.text())))
    return max(numbers) if numbers else None


SPEC = SourceSpec(
    name="bizmaps",
    kind="loader",
    site_url=SITE_URL,
    # The industries a beauty exporter sells to; each listing is sorted by update date, newest first.
    listings=tuple(f"/s/industries/{industry}/?sort=update&page={{page}}" for industry in LISTED_INDUSTRIES),
    detail_pattern="/comp/<法人番号>",
    parse_list=parse_list,
    parse_detail=None,  # the cards carry what the lead needs; company pages add contact details only
    cadence="0 4 * * *",
    rate_per_minute=8.0,
    burst=2,
    impersonate="chrome",
    max_pages=25,  # 20 companies a page per industry
    respect_robots=True,
    description="Japanese company directory: cosmetics wholesalers and retailers, drugstores, salons and importers "
    "newly listed or updated, with 法人番号, address, capital and employees.",
    page_size=20,
)
