"""The simulated Japanese company directory (biz-maps style): per-industry company lists, most recently updated first.

No saved page of the real site is available, so the Japanese list page is a plausible design for such a directory
(see :mod:`rfq_pipeline.sources.bizmaps`). Companies are generated from the hand-written seed in ``corpus/bizmaps``:
fictional names built from name stems, business words and legal forms, in the industries a beauty exporter sells to
(cosmetics wholesale and retail, drugstores, salons, importers) plus near misses listed under the same industries
(detergent wholesalers, dispensing pharmacies, barbers, machine-part importers). A day's companies depend only on its
date. The update date is a calendar day (shown in Japan, day precision); the simulator treats it as that UTC day.

The page mixes the notations real Japanese directories mix: update dates as "2025/07/13" on cards updated in the
last week and "2025年07月13日" on older ones, foundation dates partly in the Japanese era ("平成27年4月", "令和元年"),
employee counts sometimes in full-width digits, capital in 万円/億円.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from html import escape
from typing import Any

from rfq_pipeline.devtools.simulator.catalog import CORPUS, hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply

NAME = "bizmaps"
SEED = CORPUS / NAME / "companies_seed.json"
HISTORY_DAYS = 50
MIN_PER_DAY, MAX_PER_DAY = 6, 15
PAGE_SIZE = 20
NEW_SHARE = 0.35  # newly listed companies (NEW badge) among the updated ones
SLASH_DATE_DAYS = 7  # cards updated this recently show "2025/07/13"; older cards "2025年07月13日"
ERA_SHARE = 0.4  # foundation dates shown in the Japanese era
FULL_WIDTH_SHARE = 0.2  # employee counts typed in full-width digits
UNDISCLOSED_SHARE = 0.1  # capital or employees shown as 非公開
# (era name, first Gregorian year, month the era began), newest first.
ERAS = (("令和", 2019, 5), ("平成", 1989, 1), ("昭和", 1926, 12))
# 平成 began on 8 January 1989 and 昭和 on 25 December 1926: those months belong to two eras.
AMBIGUOUS_ERA_MONTHS = frozenset({(1989, 1), (1926, 12)})


@dataclass(frozen=True)
class BizCompany:
    """One company entry of the simulated directory."""

    corporate_number: str  # 法人番号: check digit + 12-digit base
    updated_on: date
    name: str
    listing: str  # URL slug of the industry listing the company appears under
    industry: str  # 業種 as shown
    kind: str  # beauty / other / hard_negative, from the seed (for tests of the mix, never rendered)
    prefecture: str
    address: str
    capital_man_yen: int | None  # in 万円 (10,000 yen); None when undisclosed
    employees: int | None
    established: tuple[int, int]  # (year, month)
    summary: str
    is_new: bool

    @property
    def path(self) -> str:
        """Site path of the company's page."""
        return f"/comp/{self.corporate_number}"


def corporate_number(base: str) -> str:
    """The 13-digit 法人番号 for a 12-digit base: its check digit (9 - weighted digit sum mod 9) in front."""
    total = sum(int(digit) * (2 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(base), 1))
    return f"{9 - total % 9}{base}"


@cache
def _seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))


def _pick(options: list[Any], key: str) -> Any:
    return options[int(hash_fraction(key) * len(options))]


def _weighted(industries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    total = sum(industry["weight"] for industry in industries)
    point = hash_fraction(key) * total
    for industry in industries:
        point -= industry["weight"]
        if point < 0:
            return industry
    return industries[-1]


def _nice(value: float) -> int:
    """Two significant figures (300, 1,200, 35,000), as capital amounts are registered."""
    if value < 100:
        return max(1, round(value / 10) * 10)
    magnitude = 10 ** (len(str(int(value))) - 2)
    return int(round(value / magnitude) * magnitude)


def day_companies(day: date) -> list[BizCompany]:
    """The companies whose entries were updated on ``day``, in the directory's order for that day."""
    seed = _seed()
    count = MIN_PER_DAY + int(hash_fraction(f"{NAME}/{day}/count") * (MAX_PER_DAY - MIN_PER_DAY + 1))
    companies = [_make_company(seed, f"{NAME}/{day}/{index}", day) for index in range(count)]
    # Within a day the directory orders by its own update time, which the page does not show.
    companies.sort(key=lambda c: hash_fraction(f"{NAME}/order/{c.corporate_number}"))
    return companies


def _make_company(seed: dict[str, Any], key: str, day: date) -> BizCompany:
    industry = _weighted(seed["industries"], key + "/industry")
    stem = _pick(seed["name_stems"], key + "/stem")
    word = _pick(industry["words"], key + "/word")
    form = _pick(seed["legal_forms"], key + "/form")
    # 前株 / 後株: the legal form goes before or after the name; 有限会社 nearly always before.
    before = form == "有限会社" or hash_fraction(key + "/form-position") < 0.6
    name = f"{form}{stem}{word}" if before else f"{stem}{word}{form}"
    place = _pick(seed["places"], key + "/place")
    town = _pick(place["towns"], key + "/town")
    chome, ban, go = (
        1 + int(hash_fraction(f"{key}/{part}") * size) for part, size in (("chome", 5), ("ban", 30), ("go", 20))
    )
    address = f"{place['prefecture']}{place['city']}{town}{chome}-{ban}-{go}"
    low, high = industry["capital"]
    capital = _nice(low + hash_fraction(key + "/capital") * (high - low))
    staff_low, staff_high = industry["employees"]
    employees = staff_low + int(hash_fraction(key + "/employees") * (staff_high - staff_low))
    age = 1 + int(hash_fraction(key + "/age") * 40)
    established = (day.year - age, 1 + int(hash_fraction(key + "/month") * 12))
    base = f"{int(hash_fraction(key + '/number') * 10**12):012d}"
    return BizCompany(
        corporate_number=corporate_number(base),
        updated_on=day,
        name=name,
        listing=industry["listing"],
        industry=industry["label"],
        kind=industry["kind"],
        prefecture=place["prefecture"],
        address=address,
        capital_man_yen=None if hash_fraction(key + "/capital-hidden") < UNDISCLOSED_SHARE else capital,
        employees=None if hash_fraction(key + "/employees-hidden") < UNDISCLOSED_SHARE else employees,
        established=established,
        summary=_pick(industry["summaries"], key + "/summary"),
        is_new=hash_fraction(key + "/new") < NEW_SHARE,
    )


def capital_text(man_yen: int | None) -> str:
    """Capital as directories print it: "300万円", "1,000万円", "1億円", "1億5,000万円", or 非公開."""
    if man_yen is None:
        return "非公開"
    oku, rest = divmod(man_yen, 10_000)
    if oku and rest:
        return f"{oku}億{rest:,}万円"
    if oku:
        return f"{oku}億円"
    return f"{rest:,}万円"


def era_text(year: int, month: int) -> str | None:
    """A year and month in the Japanese era ("平成27年4月", "令和元年10月"); None where month precision is ambiguous."""
    if (year, month) in AMBIGUOUS_ERA_MONTHS:
        return None
    for era, first_year, first_month in ERAS:
        if (year, month) >= (first_year, first_month):
            number = year - first_year + 1
            return f"{era}{'元' if number == 1 else number}年{month}月"
    return None


def established_text(company: BizCompany) -> str:
    """The foundation date as the card shows it: Gregorian "2015年4月" or, for some companies, the Japanese era."""
    year, month = company.established
    if hash_fraction(f"{NAME}/era/{company.corporate_number}") < ERA_SHARE:
        era = era_text(year, month)
        if era is not None:
            return era
    return f"{year}年{month}月"


def employees_text(company: BizCompany) -> str:
    """The employee count ("25名"), in full-width digits for some companies, or 非公開."""
    if company.employees is None:
        return "非公開"
    text = f"{company.employees}名"
    if hash_fraction(f"{NAME}/fullwidth/{company.corporate_number}") < FULL_WIDTH_SHARE:
        text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)
    return text


def updated_text(updated_on: date, today: date) -> str:
    """The update date: "2025/07/13" for the last week's updates, "2025年07月13日" before that."""
    if (today - updated_on).days < SLASH_DATE_DAYS:
        return updated_on.strftime("%Y/%m/%d")
    return f"{updated_on.year}年{updated_on.month:02d}月{updated_on.day:02d}日"


def _document(title: str, body: str, canonical: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="canonical" href="https://biz-maps.com{escape(canonical)}">
<link rel="stylesheet" href="/assets/css/app.css">
</head>
<body>
<header class="l-header">
 <a class="l-header__logo" href="/">BIZMAPS</a>
 <nav class="l-header__nav">
  <a href="/s/industries/">業種から探す</a>
  <a href="/s/prefs/">地域から探す</a>
  <a href="/login">ログイン</a>
  <a href="/signup" class="btn btn--primary">無料会員登録</a>
 </nav>
</header>
<main class="l-main">
{body}
</main>
<footer class="l-footer"><p>&copy; BIZMAPS</p></footer>
<script src="/assets/js/app.js" defer></script>
</body>
</html>
"""


def _card(company: BizCompany, today: date) -> str:
    badge = '<span class="company-card__badge">NEW</span>\n    ' if company.is_new else ""
    rows = (
        ("法人番号", company.corporate_number),
        ("所在地", company.address),
        ("業種", company.industry),
        ("資本金", capital_text(company.capital_man_yen)),
        ("従業員数", employees_text(company)),
        ("設立", established_text(company)),
    )
    table = "\n".join(f"     <tr><th>{label}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    return f"""  <div class="company-card" data-corporate-number="{company.corporate_number}">
   <div class="company-card__header">
    {badge}<h2 class="company-card__name"><a href="{company.path}">{escape(company.name)}</a></h2>
   </div>
   <table class="company-card__table">
{table}
   </table>
   <p class="company-card__summary">事業内容：{escape(company.summary)}</p>
   <p class="company-card__date">更新日：{updated_text(company.updated_on, today)}</p>
  </div>"""


def _pagination(base: str, page: int, total_pages: int) -> str:
    if total_pages <= 1 and page <= 1:
        return ""
    links = []
    if page > 1:
        links.append(f'<a class="pagination__prev" rel="prev" href="{base}?sort=update&amp;page={page - 1}">‹ 前へ</a>')
    for number in range(max(1, page - 3), min(total_pages, page + 3) + 1):
        if number == page:
            links.append(f'<span class="pagination__current">{number}</span>')
        else:
            links.append(f'<a class="pagination__page" href="{base}?sort=update&amp;page={number}">{number}</a>')
    if page < total_pages:
        links.append(f'<a class="pagination__next" rel="next" href="{base}?sort=update&amp;page={page + 1}">次へ ›</a>')
        links.append(f'<a class="pagination__last" href="{base}?sort=update&amp;page={total_pages}">最後 »</a>')
    return '<div class="pagination">\n  ' + "\n  ".join(links) + "\n </div>"


def render_list(companies: list[BizCompany], listing: str, page: int, today: date) -> str:
    """Page ``page`` of one industry listing, most recently updated first."""
    heading = _seed()["listings"][listing]
    base = f"/s/industries/{listing}/"
    total_pages = -(-len(companies) // PAGE_SIZE)
    chunk = companies[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        results = '<div class="company-list">\n' + "\n".join(_card(c, today) for c in chunk) + "\n </div>"
    else:
        results = '<p class="search-result__empty">条件に一致する企業は見つかりませんでした。</p>'
    body = f""" <nav class="breadcrumb"><a href="/">トップ</a> &gt; <a href="/s/industries/">業種一覧</a> &gt;
  {escape(heading)}</nav>
 <h1 class="search-result__title">{escape(heading)}の企業一覧</h1>
 <p class="search-result__count">該当件数：<strong>{len(companies):,}</strong>件（更新日の新しい順）</p>
 {results}
 {_pagination(base, page, total_pages)}"""
    return _document(f"{heading}の企業一覧（更新順）｜BIZMAPS", body, base)


def render_list_drift(companies: list[BizCompany], listing: str, page: int) -> str:
    """The listing after a hypothetical redesign: ``article.corp-item`` entries with definition lists, ISO dates."""
    chunk = companies[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    items = "\n".join(
        f"""<article class="corp-item">
 <h3 class="corp-item__name"><a href="{c.path}">{escape(c.name)}</a></h3>
 <dl class="corp-item__facts"><dt>所在地</dt><dd>{escape(c.address)}</dd><dt>業種</dt><dd>{escape(c.industry)}</dd></dl>
 <time datetime="{c.updated_on.isoformat()}">{c.updated_on.isoformat()}</time>
</article>"""
        for c in chunk
    )
    body = f"""<section class="corp-results">
 <h1>{escape(_seed()["listings"][listing])}</h1>
{items}
 <button class="corp-results__more" data-page="{page + 1}">もっと見る</button>
</section>"""
    return _document(f"{_seed()['listings'][listing]}｜BIZMAPS", body, f"/s/industries/{listing}/")


def render_not_found(path: str) -> str:
    """The directory's 404 page."""
    body = f""" <div class="error-page">
  <h1>ページが見つかりません</h1>
  <p>お探しのページ（{escape(path)}）は削除されたか、URLが変更された可能性があります。</p>
  <p><a href="/">トップページへ戻る</a></p>
 </div>"""
    return _document("ページが見つかりません｜BIZMAPS", body, path)


class BizmapsSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of the Japanese company directory."""

    name = NAME
    server_header = "nginx"
    robots_txt = """User-agent: *
Disallow: /{p}/login
Disallow: /{p}/signup
Disallow: /{p}/mypage/
Disallow: /{p}/download/
Allow: /{p}/s/
Allow: /{p}/comp/

Sitemap: https://biz-maps.com/sitemap.xml
"""

    def __init__(self) -> None:
        self.companies: list[BizCompany] = []
        self.today = date.min

    def build(self, today: date, now: datetime) -> None:
        """Generate the companies updated today and in the ``HISTORY_DAYS - 1`` days before, newest first."""
        del now  # update dates are calendar days
        self.today = today
        self.companies = [
            company for back in range(HISTORY_DAYS) for company in day_companies(today - timedelta(days=back))
        ]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """An industry listing (``s/industries/<slug>/?sort=update&page=N``) or a 404 page."""
        parts = [part for part in rest.split("/") if part]
        listings = _seed()["listings"]
        if len(parts) == 3 and parts[:2] == ["s", "industries"] and parts[2] in listings:
            page = _page_number(query)
            chosen = [c for c in self.companies if c.listing == parts[2]]
            if style == "drift":
                return Reply(200, render_list_drift(chosen, parts[2], page).encode())
            return Reply(200, render_list(chosen, parts[2], page, self.today).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """法人番号 of the companies updated on ``day``, in the directory's order."""
        return [c.corporate_number for c in self.companies if c.updated_on == day]

    def expected_total(self) -> int:
        """How many companies the industry listings show together."""
        return len(self.companies)


def _page_number(query: dict[str, list[str]]) -> int:
    try:
        return max(1, int(unicodedata.normalize("NFKC", query.get("page", ["1"])[0])))
    except ValueError:
        return 1


SITE = BizmapsSite()
