"""The Japanese company directory parser: 法人番号, Japanese dates and eras, 万円 amounts, on simulator pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import bizmaps as site_module
from rfq_pipeline.devtools.simulator.sites.bizmaps import BizCompany, BizmapsSite
from rfq_pipeline.sources.bizmaps import (
    LISTED_INDUSTRIES,
    SITE_URL,
    SPEC,
    corporate_number_is_valid,
    parse_capital_yen,
    parse_japanese_date,
    parse_list,
    parse_year_month,
)
from rfq_pipeline.sources.model import PageParseError

TODAY = date(2025, 7, 13)
NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def site() -> BizmapsSite:
    built = BizmapsSite()
    built.build(TODAY, NOW)
    return built


def _listing(site: BizmapsSite, industry: str) -> list[BizCompany]:
    return [c for c in site.companies if c.listing == industry]


def _html(site: BizmapsSite, industry: str, page: int = 1, style: str = "normal") -> str:
    reply = site.render(f"s/industries/{industry}/", {"sort": ["update"], "page": [str(page)]}, style, NOW)
    assert reply.status == 200
    return reply.body.decode("utf-8")


def test_japanese_dates() -> None:
    assert parse_japanese_date("更新日：2025年07月13日") == date(2025, 7, 13)
    assert parse_japanese_date("2025年7月3日") == date(2025, 7, 3)
    assert parse_japanese_date("更新日：2025/07/13") == date(2025, 7, 13)
    assert parse_japanese_date("２０２５／０７／１３") == date(2025, 7, 13)  # full-width digits and slashes
    assert parse_japanese_date("２０２５年１月５日") == date(2025, 1, 5)
    assert parse_japanese_date("2025-07-13") == date(2025, 7, 13)
    assert parse_japanese_date("2025年02月30日") is None
    assert parse_japanese_date("更新日：不明") is None


def test_foundation_dates_in_eras_and_gregorian_years() -> None:
    assert parse_year_month("平成27年4月") == (2015, 4)
    assert parse_year_month("令和元年10月") == (2019, 10)
    assert parse_year_month("令和5年") == (2023, None)
    assert parse_year_month("昭和58年6月") == (1983, 6)
    assert parse_year_month("平成元年2月") == (1989, 2)
    assert parse_year_month("２０１５年４月") == (2015, 4)
    assert parse_year_month("1998年") == (1998, None)
    assert parse_year_month("平成3年13月") is None
    assert parse_year_month("非公開") is None
    # The simulator writes eras the other way round; both must agree on every month they can express.
    for year in range(1927, 2026):
        for month in range(1, 13):
            era = site_module.era_text(year, month)
            if era is not None:
                assert parse_year_month(era) == (year, month), era
    assert site_module.era_text(1989, 1) is None  # January 1989 was 昭和64 and 平成元


def test_capital_amounts() -> None:
    assert parse_capital_yen("1,000万円") == 10_000_000
    assert parse_capital_yen("300万円") == 3_000_000
    assert parse_capital_yen("1億円") == 100_000_000
    assert parse_capital_yen("1億5,000万円") == 150_000_000
    assert parse_capital_yen("3,000,000円") == 3_000_000
    assert parse_capital_yen("１，０００万円") == 10_000_000
    assert parse_capital_yen("非公開") is None


def test_corporate_number_check_digit() -> None:
    # Base 123456789012: weighted digit sum 74, 74 mod 9 = 2, check digit 9 - 2 = 7.
    assert corporate_number_is_valid("7123456789012")
    assert not corporate_number_is_valid("8123456789012")
    assert not corporate_number_is_valid("712345678901")
    assert corporate_number_is_valid("７１２３４５６７８９０１２")
    assert site_module.corporate_number("123456789012") == "7123456789012"


def test_first_page_of_each_industry_matches_the_directory(site: BizmapsSite) -> None:
    for industry in LISTED_INDUSTRIES:
        companies = _listing(site, industry)
        page = parse_list(_html(site, industry), fetched_at=NOW)
        assert page.has_next is True and page.total_pages == -(-len(companies) // 20)
        assert len(page.entries) == 20
        for company, entry in zip(companies, page.entries, strict=False):
            assert entry.source == "bizmaps"
            assert entry.external_id == company.corporate_number
            assert entry.canonical_url == f"{SITE_URL}/comp/{company.corporate_number}"
            assert entry.title == f"{company.name}｜{company.industry}"
            assert entry.buyer_company == company.name
            assert entry.country_raw == "Japan"
            assert entry.posted_at == datetime(
                company.updated_on.year, company.updated_on.month, company.updated_on.day, tzinfo=UTC
            )
            assert entry.description == company.summary
            attributes = entry.attributes
            assert attributes["corporate_number_valid"] is True
            assert attributes["industry"] == company.industry and attributes["prefecture"] == company.prefecture
            assert attributes["address"] == company.address
            expected_capital = None if company.capital_man_yen is None else company.capital_man_yen * 10_000
            assert attributes["capital_yen"] == expected_capital
            assert attributes["employees"] == company.employees
            assert attributes["established"] == f"{company.established[0]}-{company.established[1]:02d}"
            assert attributes["is_new"] is company.is_new


def test_recent_cards_use_slashes_and_older_cards_kanji_dates(site: BizmapsSite) -> None:
    industry = LISTED_INDUSTRIES[0]
    companies = _listing(site, industry)
    last = -(-len(companies) // 20)
    texts = []
    for number in range(1, last + 1):
        for entry in parse_list(_html(site, industry, number), fetched_at=NOW).entries:
            texts.append((entry.posted_at, entry.posted_text))
    assert len(texts) == len(companies)
    recent = [text for posted, text in texts if posted and (TODAY - posted.date()).days < 7]
    older = [text for posted, text in texts if posted and (TODAY - posted.date()).days >= 7]
    assert recent and all("/" in text for text in recent)
    assert older and all(text.endswith("日") and "年" in text for text in older)


def test_full_width_employees_eras_and_undisclosed_values_appear_and_parse(site: BizmapsSite) -> None:
    html = "".join(_html(site, industry, number) for industry in LISTED_INDUSTRIES for number in (1, 2, 3))
    assert "名</td>" in html and any(chr(0xFF10 + d) in html for d in range(10))
    assert "平成" in html and "非公開" in html
    entries = [
        entry
        for industry in LISTED_INDUSTRIES
        for number in (1, 2, 3)
        for entry in parse_list(_html(site, industry, number), fetched_at=NOW).entries
    ]
    full_width = [e for e in entries if any("０" <= ch <= "９" for ch in e.attributes["employees_text"])]
    assert full_width and all(isinstance(e.attributes["employees"], int) for e in full_width)
    hidden = [e for e in entries if e.attributes["capital_text"] == "非公開"]
    assert hidden and all(e.attributes["capital_yen"] is None for e in hidden)


def test_empty_state_drift_truncation_challenge_and_unknown_industry(site: BizmapsSite) -> None:
    industry = LISTED_INDUSTRIES[2]
    last = -(-len(_listing(site, industry)) // 20)
    final = parse_list(_html(site, industry, last), fetched_at=NOW)
    assert final.has_next is False and final.entries
    beyond = parse_list(_html(site, industry, last + 1), fetched_at=NOW)
    assert beyond.entries == [] and beyond.has_next is False
    with pytest.raises(PageParseError) as drift:
        parse_list(_html(site, industry, style="drift"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    reply = site.render(f"s/industries/{industry}/", {"page": ["1"]}, "normal", NOW)
    with pytest.raises(PageParseError) as truncated:
        parse_list(faults.truncate(reply).body.decode("utf-8", errors="replace"), fetched_at=NOW)
    assert truncated.value.kind == "truncated"
    with pytest.raises(PageParseError) as challenge:
        parse_list(faults.cloudflare_challenge("/s/industries/").body.decode(), fetched_at=NOW)
    assert challenge.value.kind == "challenge"
    missing = site.render("s/industries/space-mining/", {}, "normal", NOW)
    assert missing.status == 404 and "ページが見つかりません" in missing.body.decode("utf-8")


def test_companies_mix_beauty_buyers_and_near_misses(site: BizmapsSite) -> None:
    kinds = [c.kind for c in site.companies]
    assert 0.6 <= kinds.count("beauty") / len(kinds) <= 0.9 and kinds.count("hard_negative") >= 30
    assert {c.listing for c in site.companies} == set(LISTED_INDUSTRIES)
    for back in range(41):
        assert 6 <= len(site.expected(TODAY - timedelta(days=back))) <= 15
    assert len({c.corporate_number for c in site.companies}) == len(site.companies)


def test_spec() -> None:
    assert SPEC.name == "bizmaps" and SPEC.kind == "loader"
    assert SPEC.site_url == SITE_URL and SPEC.cadence == "0 4 * * *"
    assert SPEC.respect_robots is True and SPEC.impersonate == "chrome" and SPEC.parse_detail is None
    assert len(SPEC.listings) == len(LISTED_INDUSTRIES) and all("{page}" in listing for listing in SPEC.listings)
    assert 6 <= SPEC.rate_per_minute <= 20
