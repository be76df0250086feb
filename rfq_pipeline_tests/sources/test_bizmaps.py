"""The biz-maps parser on the simulated prefecture lists (built in the markup other people's scrapers record) and on
the site's other answers: ph-token paging and its fall-back to page 1, the 2026 markup without ``li.results__item``,
blurred values, an empty result, a redesign, truncation and challenge pages.

No page served by the site exists in the evidence, so these tests check the parser against the simulator's reading
of the evidence (``EVIDENCE_B.md`` section 4) and against values copied from the 2025 scraped output.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import bizmaps as site
from rfq_pipeline.fetch.http_client import FetchResponse
from rfq_pipeline.sources.bizmaps import (
    DETAIL_REGEX,
    SPEC,
    parse_list,
    prefecture_listing,
)
from rfq_pipeline.sources.crawl import CrawlResult, crawl_window
from rfq_pipeline.sources.model import ListPage, PageParseError
from rfq_pipeline.sources.reading import lead_record, read_list_page

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)
BASE = "http://127.0.0.1:9/bizmaps"
TOKYO = "/s/prefs/13"


@pytest.fixture(scope="module")
def simulated() -> site.BizmapsSite:
    built = site.BizmapsSite()
    built.build(TODAY, NOW)
    return built


def _get(simulated: site.BizmapsSite, url: str, style: str = "normal") -> str:
    parts = urlsplit(url)
    reply = simulated.render(parts.path.lstrip("/"), parse_qs(parts.query), style, NOW)
    assert reply.status == 200, url
    return reply.body.decode("utf-8")


def _walk(simulated: site.BizmapsSite, path: str = TOKYO) -> list[ListPage]:
    """Every page of a list, each reached by the previous page's own ph-signed link."""
    url = site.HOST + path
    pages: list[ListPage] = []
    while True:
        page = parse_list(_get(simulated, url), fetched_at=NOW)
        pages.append(page)
        if not page.has_next:
            return pages
        assert page.next_url is not None
        url = page.next_url


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_following_the_ph_links_reads_the_whole_list_in_order(simulated: site.BizmapsSite) -> None:
    companies = simulated.listing("13")
    pages = _walk(simulated)
    assert len(pages) == -(-len(companies) // site.PAGE_SIZE) == 7
    assert [e.external_id for page in pages for e in page.entries] == [c.item_id for c in companies]
    for number, page in enumerate(pages, start=1):
        assert page.page_number == number and page.total_entries == len(companies) and page.total_pages == 7
        if page.has_next:
            query = parse_qs(urlsplit(page.next_url or "").query)
            assert page.next_url.startswith("https://biz-maps.com/s/prefs/13?ph=%242y%2405%24")  # type: ignore[union-attr]
            assert query["page"] == [str(number + 1)] and query["ph"][0].startswith("$2y$05$")


def test_fields_as_a_reader_sees_them(simulated: site.BizmapsSite) -> None:
    companies = {c.item_id: c for c in simulated.listing("13")}
    entries = [e for page in _walk(simulated) for e in page.entries]
    for entry in entries:
        company = companies[entry.external_id]
        assert entry.title == entry.buyer_company == company.name
        assert entry.canonical_url == f"https://biz-maps.com/item/{company.item_id}"
        assert entry.posted_at is None and entry.posted_text == ""  # the list shows no date
        assert entry.description == company.description and entry.buyer_name == company.representative
        assert (entry.country_raw, entry.country_code) == ("Japan", "JP")
        attributes = entry.attributes
        assert attributes["industries"] == list(company.industries)  # split and deduplicated
        assert attributes["address"] == _nfkc(company.address) and attributes["postcode"] == company.postcode
        assert attributes["prefecture"] == "東京都"
        year, month, day = company.founded
        assert (attributes["founded_year"], attributes["founded_month"], attributes["founded_day"]) == (
            year,
            month,
            day,
        )
        assert attributes["capital_yen"] == company.capital_yen and attributes["capital_text"] == company.capital_text
        assert attributes["keyman_count"] == company.keyman
        assert attributes["blurred"] == ["電話番号", "AIスコア"]
        assert "phone" not in attributes and "ai_score" not in attributes  # blurred values are missing, never text
    shown = [companies[e.external_id] for e in entries]
    assert any(c.founded[0] is None for c in shown)  # "/4/1", "/3": the year is hidden
    assert any(c.capital_text == "-" for c in shown)
    assert any(c.industry_text.count(",") == 3 for c in shown)  # "A, A, B, B"
    assert any(re.search(r"[０-９]", c.address) for c in shown)


def test_values_as_the_2025_output_prints_them() -> None:
    """A card written with values copied from the 2025 scraped output (sfix-fybe/tasks bizmap_companies.csv)."""
    rows = (
        ("業種", "運輸・物流業界, 運輸・物流業界, 一般貨物輸送, 一般貨物輸送"),
        ("住所", "〒 456-0051 東京都墨田区横川１丁目１１番５号"),
        ("設立年度", "/4/1"),
        ("代表者名", "川村 悦久"),
        ("資本金等", "-"),
        ("電話番号", '<img src="/x.png">'),
        ("AIスコア", "72"),
    )
    table = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    html = (
        '<!DOCTYPE html><html><body><div class="results"><ul><li class="results__item">'
        '<a href="/item/yP10EQgvlM"><p class="results__name">グローバルトランスポート株式会社</p></a>'
        f'<table class="results__table">{table}</table>'
        '<table class="results__table"><tr><th>オリジナルタグ</th><td>運送業</td></tr></table>'
        "</li></ul></div></body></html>"
    )
    page = parse_list(html, fetched_at=NOW)
    assert page.has_next is False and page.next_url is None  # no ph-signed link: never a made-up ?page=2
    entry = page.entries[0]
    assert entry.external_id == "yP10EQgvlM" and entry.title == "グローバルトランスポート株式会社"
    assert entry.attributes == {
        "industries": ["運輸・物流業界", "一般貨物輸送"],
        "address": "東京都墨田区横川1丁目11番5号",
        "postcode": "456-0051",
        "prefecture": "東京都",
        "founded_text": "/4/1",
        "founded_year": None,
        "founded_month": 4,
        "founded_day": 1,
        "capital_text": "-",
        "capital_yen": None,
        "ai_score": "72",
        "blurred": ["電話番号"],
    }
    assert entry.buyer_name == "川村 悦久"
    year_month = html.replace("/4/1", "1950/8").replace("-</td>", "1,735,000,000円</td>")
    attributes = parse_list(year_month, fetched_at=NOW).entries[0].attributes
    assert (attributes["founded_year"], attributes["founded_month"], attributes["founded_day"]) == (1950, 8, None)
    assert attributes["capital_yen"] == 1_735_000_000


def test_without_the_right_ph_token_the_server_answers_page_one(simulated: site.BizmapsSite) -> None:
    first = parse_list(_get(simulated, site.HOST + TOKYO), fetched_at=NOW)
    third_url = site.page_url(TOKYO, 3)
    third = parse_list(_get(simulated, third_url), fetched_at=NOW)
    assert third.page_number == 3
    token_of_page_2 = parse_qs(urlsplit(site.page_url(TOKYO, 2)).query)["ph"][0]
    for query in ("?page=3", f"?ph={token_of_page_2}&page=3", "?ph=%242y%2405%24bad&page=3"):
        answered = parse_list(_get(simulated, site.HOST + TOKYO + query), fetched_at=NOW)
        assert answered.page_number == 1 and answered.entries == first.entries


class _SiteFetcher:
    """GETs answered by the simulated site in process (no HTTP); ``break_page`` gets its token replaced."""

    def __init__(self, simulated: site.BizmapsSite, break_page: int | None = None) -> None:
        self.simulated = simulated
        self.break_page = break_page
        self.urls: list[str] = []

    def get(self, url: str) -> FetchResponse:
        self.urls.append(url)
        parts = urlsplit(url[len(BASE) :])
        query = parse_qs(parts.query)
        if self.break_page is not None and query.get("page") == [str(self.break_page)]:
            query["ph"] = ["$2y$05$expired"]
        reply = self.simulated.render(parts.path.lstrip("/"), query, "normal", NOW)
        outcome = "ok" if reply.status == 200 else "http_error"
        return FetchResponse(url=url, outcome=outcome, status=reply.status, body=reply.body, fetched_at=NOW)


class _NoSink:
    def record(self, **_: object) -> None:
        return None


def _crawl(simulated: site.BizmapsSite, day: date, break_page: int | None = None) -> tuple[CrawlResult, _SiteFetcher]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    fetcher = _SiteFetcher(simulated, break_page)
    result = crawl_window(replace(SPEC, base_url=BASE), fetcher, _NoSink(), start, start + timedelta(days=1))
    return result, fetcher


@pytest.mark.parametrize("back", [0, 30])
def test_a_crawl_of_any_day_reads_the_page_cap_and_finds_every_company(simulated: site.BizmapsSite, back: int) -> None:
    result, fetcher = _crawl(simulated, TODAY - timedelta(days=back))
    assert result.failures == []
    assert [found.rfq.external_id for found in result.found] == simulated.expected(TODAY - timedelta(days=back))
    assert len(result.found) == SPEC.max_pages * site.PAGE_SIZE == simulated.expected_total()
    assert result.pages_read == {TOKYO: SPEC.max_pages} and "page cap" in result.stop_reasons[TOKYO]
    assert fetcher.urls[0] == BASE + TOKYO and all("ph=" in url for url in fetcher.urls[1:])


def test_a_broken_token_chain_ends_the_crawl_instead_of_walking_page_one_again(simulated: site.BizmapsSite) -> None:
    result, fetcher = _crawl(simulated, TODAY, break_page=3)
    assert len(fetcher.urls) == 3
    # Page 1 came back for page 3: the crawl stops there, whatever links that page carries.
    assert result.stop_reasons[TOKYO] == "the site answered page 1 for page 3"
    assert len(result.found) == 2 * site.PAGE_SIZE  # nothing twice


def test_the_2026_markup_is_read_by_pairing_links_with_tables(simulated: site.BizmapsSite) -> None:
    html = _get(simulated, site.HOST + TOKYO)
    expected = parse_list(html, fetched_at=NOW)
    paired = parse_list(html.replace(' class="results__item"', ""), fetched_at=NOW)
    assert [e.external_id for e in paired.entries] == [e.external_id for e in expected.entries]
    assert [e.title for e in paired.entries] == [e.title for e in expected.entries]  # the link text, noise dropped
    for got, want in zip(paired.entries, expected.entries, strict=True):
        assert {k: v for k, v in got.attributes.items() if k != "keyman_count"} == {
            k: v for k, v in want.attributes.items() if k != "keyman_count"
        }
    assert paired.next_url == expected.next_url


def test_an_empty_result(simulated: site.BizmapsSite) -> None:
    for path in (prefecture_listing(27, (999,)), prefecture_listing(1)):
        page = parse_list(_get(simulated, site.HOST + path), fetched_at=NOW)
        assert page.entries == [] and page.has_next is False


def test_a_redesign_is_read_by_the_fallback_and_stays_undated(simulated: site.BizmapsSite) -> None:
    html = faults.redesigned(_get(simulated, site.HOST + TOKYO))
    page = read_list_page(SPEC, html, fetched_at=NOW)
    companies = simulated.listing("13")[: site.PAGE_SIZE]
    assert page.extraction == "fallback" and page.drift.startswith("layout_drift")
    assert [e.external_id for e in page.entries] == [c.item_id for c in companies]
    # Founding dates ("2011/2/3") are on the cards; none may become a posting day.
    assert any(c.founded[0] is not None and c.founded[2] is not None for c in companies)
    assert all(e.posted_at is None and e.extraction == "fallback" for e in page.entries)
    assert [lead_record(e)["title"] for e in page.entries] == [c.name for c in companies]
    assert page.next_url == site.page_url(TOKYO, 2)  # the rel=next link survives the redesign


def test_truncated_and_challenge_pages(simulated: site.BizmapsSite) -> None:
    html = _get(simulated, site.HOST + TOKYO)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * faults.TRUNCATE_AT)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    for page in (
        faults.cloudflare_challenge("/x").body.decode(),
        faults.awswaf_challenge("/x").body.decode(),
        faults.login_wall("bizmaps", "/x").body.decode(),
    ):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"
    with pytest.raises(PageParseError) as drift:
        parse_list(site.render_not_found("/s/prefs/99"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"


def test_spec_list_urls_never_make_up_a_page_number() -> None:
    spec = replace(SPEC, base_url=SPEC.site_url)
    assert spec.listings == (TOKYO,)
    assert spec.list_url(spec.listings[0], 1) == spec.list_url(spec.listings[0], 4) == "https://biz-maps.com/s/prefs/13"
    assert prefecture_listing(13, (162, 197, 237)) == "/s/prefs/13/m-inds/162,197,237"
    assert prefecture_listing(1) == "/s/prefs/01"
    match = re.search(DETAIL_REGEX, "https://biz-maps.com/item/yP10EQgvlM")
    assert match is not None and match.group("id") == "yP10EQgvlM"
    assert re.search(DETAIL_REGEX, "https://biz-maps.com/item/yP10EQgvlMx") is None
    assert (SPEC.kind, SPEC.evidence, SPEC.fixtures, SPEC.date_sorted) == ("loader", "second_hand", (), False)
    assert SPEC.parse_detail is None and any("undated" in gap for gap in SPEC.known_gaps)


def test_the_site_shows_the_same_companies_whatever_the_day(simulated: site.BizmapsSite) -> None:
    reached = simulated.expected(TODAY)
    assert reached == simulated.expected(TODAY - timedelta(days=30)) == simulated.expected(TODAY + timedelta(days=1))
    assert reached == [c.item_id for c in simulated.listing("13")[: SPEC.max_pages * site.PAGE_SIZE]]
    again = site.BizmapsSite()
    again.build(TODAY - timedelta(days=3), NOW)
    assert again.expected(TODAY) == reached
    assert len(simulated.listing("13")) > len(reached)  # the page cap leaves the rest of the list unread
    missing = simulated.render("no/such/page.html", {}, "normal", NOW)
    assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>")
    assert "Disallow" not in simulated.robots_txt
