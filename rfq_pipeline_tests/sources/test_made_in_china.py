"""The Made-in-China parsers on the simulated list and request pages (built in the 2014-2018 markup) and the site's
other answers: sign-in wall, challenges, truncation, a redesign, an empty list.

No page served by the site exists in the evidence, so these tests check the parser against the simulator's reading
of the evidence (``EVIDENCE_B.md`` section 3), not against the live site.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import made_in_china as site
from rfq_pipeline.fetch.http_client import FetchResponse
from rfq_pipeline.sources.crawl import crawl_window
from rfq_pipeline.sources.made_in_china import (
    DETAIL_REGEX,
    SPEC,
    keyword_listing,
    parse_detail,
    parse_list,
    parse_posted,
    request_url,
)
from rfq_pipeline.sources.model import ListPage, PageParseError
from rfq_pipeline.sources.reading import lead_record, read_list_page

TODAY = date(2026, 8, 27)
NOW = datetime(2026, 8, 27, 15, 30, 5, tzinfo=UTC)
BASE = "http://127.0.0.1:9/made_in_china"


@pytest.fixture(scope="module")
def simulated() -> site.MadeInChinaSite:
    built = site.MadeInChinaSite()
    built.build(TODAY, NOW)
    return built


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _get(simulated: site.MadeInChinaSite, url: str, style: str = "normal") -> str:
    parts = urlsplit(url)
    reply = simulated.render(parts.path.lstrip("/"), parse_qs(parts.query, keep_blank_values=True), style, NOW)
    assert reply.status == 200, url
    return reply.body.decode("utf-8")


def _pages(simulated: site.MadeInChinaSite, listing: str) -> list[ListPage]:
    """Every page of a listing as the crawler asks for them (page=N), up to the first page without requests."""
    pages = []
    for number in range(1, 60):
        pages.append(parse_list(_get(simulated, SPEC.list_url(listing, number)), fetched_at=NOW))
        if not pages[-1].has_next:
            return pages
    raise AssertionError("the list never ended")


def test_every_list_page_reads_as_the_site_shows_it(simulated: site.MadeInChinaSite) -> None:
    spec = replace(SPEC, base_url=SPEC.site_url)
    requests = simulated.listing()
    pages = _pages(simulated, spec.listings[0])
    assert len(pages) == -(-len(requests) // site.PAGE_SIZE) + 1  # the last one is the empty page after the end
    assert pages[-1].entries == [] and all(page.has_next and page.entries for page in pages[:-1])
    entries = [entry for page in pages for entry in page.entries]
    assert [e.external_id for e in entries] == [r.request_id for r in requests]
    for entry, request in zip(entries, requests, strict=True):
        assert entry.title == request.title
        assert entry.canonical_url == f"https://sourcing.made-in-china.com{request.path}"
        assert entry.detail_path == request.path
        assert entry.posted_at == _midnight(request.posted_at.date())
        assert entry.posted_text == site.day_text(request.posted_at.date())
        assert entry.quantity_text == request.quantity_text
        assert entry.country_raw == request.country
        assert request.description.startswith(entry.description.removesuffix("..."))
        assert entry.attributes["quotes_left"] == request.quotes_left
        assert entry.attributes["valid_to"] == request.valid_to.isoformat()
        assert entry.buyer_company == "" and entry.buyer_name == ""  # the list shows no buyer


def test_fields_as_a_reader_sees_them(simulated: site.MadeInChinaSite) -> None:
    request = next(r for r in simulated.listing() if r.title.startswith("Private Label 15% Vitamin C Serum"))
    page = simulated.listing().index(request) // site.PAGE_SIZE + 1
    entry = next(
        e
        for e in parse_list(_get(simulated, SPEC.list_url(SPEC.listings[0], page)), fetched_at=NOW).entries
        if e.external_id == request.request_id
    )
    record = lead_record(entry)
    assert record["title"] == "Private Label 15% Vitamin C Serum in Amber Dropper Bottles"
    assert record["url"] == request_url(request.request_id, "Private-Label-15-Vitamin-C-Serum-in-Amber-Dropper-Bottles")
    assert record["quantity"] == "5,000 Pieces"  # without the "Purchase Quantity:" label
    assert record["country"] == "United States" and record["country_code"] == "US"
    assert record["posted_at"] == request.posted_at.date().isoformat() + "T00:00:00Z"
    assert record["buyer"] is None


def test_the_list_is_newest_first(simulated: site.MadeInChinaSite) -> None:
    days = [e.posted_at for page in _pages(simulated, SPEC.listings[0]) for e in page.entries]
    assert days == sorted(days, reverse=True) and SPEC.date_sorted is True


def test_a_keyword_list_holds_that_keyword_only(simulated: site.MadeInChinaSite) -> None:
    listing = keyword_listing("serum")
    assert listing == "/sourcingrequest?keyword=serum&sort=post_date_desc&page={page}&type=keyword"
    entries = [e for page in _pages(simulated, listing) for e in page.entries]
    assert entries and len(entries) < len(simulated.listing())
    assert [e.external_id for e in entries] == [r.request_id for r in simulated.listing("serum")]
    assert all("serum" in f"{e.title} {e.description}".lower() for e in entries)


def test_request_pages_read_by_their_labels(simulated: site.MadeInChinaSite) -> None:
    entries = parse_list(_get(simulated, SPEC.list_url(SPEC.listings[0], 1)), fetched_at=NOW).entries
    for entry in entries:
        request = next(r for r in simulated.requests() if r.request_id == entry.external_id)
        detailed = parse_detail(_get(simulated, SPEC.site_url + entry.detail_path), entry)
        assert detailed.description == request.description  # the whole text, not the list's cut
        assert detailed.quantity_text == request.quantity_text
        assert detailed.country_raw == request.country
        assert detailed.posted_at == entry.posted_at
        assert detailed.attributes["date_posted_text"] == site.day_text(request.posted_at.date())
        assert detailed.attributes["valid_to"] == request.valid_to.isoformat()
        assert detailed.attributes["quotes_left"] == request.quotes_left
        assert detailed.attributes["breadcrumb"] == f"Sourcing Requests > {request.category}"


def test_a_restyled_request_page_still_reads_by_its_labels(simulated: site.MadeInChinaSite) -> None:
    entry = parse_list(_get(simulated, SPEC.list_url(SPEC.listings[0], 1)), fetched_at=NOW).entries[0]
    request = next(r for r in simulated.requests() if r.request_id == entry.external_id)
    restyled = parse_detail(_get(simulated, SPEC.site_url + entry.detail_path, style="drift"), entry)
    assert restyled.quantity_text == request.quantity_text and restyled.country_raw == request.country
    assert restyled.attributes["valid_to"] == request.valid_to.isoformat()
    assert restyled.description == entry.description  # the description is found by class: the list's cut is kept
    with pytest.raises(PageParseError) as drift:
        parse_detail(site.render_not_found("/request/x.html"), entry)
    assert drift.value.kind == "layout_drift"


def test_posting_times_in_any_readable_form() -> None:
    assert parse_posted("2026-08-27", NOW) == _midnight(TODAY)
    assert parse_posted("Date Posted: 27 Aug 2026", NOW) == _midnight(TODAY)
    assert parse_posted("Aug 27, 2026", NOW) == _midnight(TODAY)
    assert parse_posted("2026/8/27", NOW) == _midnight(TODAY)
    assert parse_posted("5 hours ago", NOW) == NOW - timedelta(hours=5)
    assert parse_posted("an hour ago", NOW) == NOW - timedelta(hours=1)
    assert parse_posted("3 days ago", NOW) == NOW - timedelta(days=3)
    assert parse_posted("Just now", NOW) == NOW
    assert parse_posted("Today", NOW) == _midnight(TODAY)
    assert parse_posted("Yesterday", NOW) == _midnight(TODAY - timedelta(days=1))
    assert parse_posted("", NOW) is None and parse_posted("soon", NOW) is None


def test_an_empty_list_is_an_empty_result() -> None:
    page = parse_list(site.render_list([], 1), fetched_at=NOW)
    assert page.entries == [] and page.has_next is False


def test_a_redesign_is_read_by_the_fallback(simulated: site.MadeInChinaSite) -> None:
    html = _get(simulated, SPEC.list_url(SPEC.listings[0], 1), style="drift")
    with pytest.raises(PageParseError) as drift:
        parse_list(html, fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    page = read_list_page(SPEC, html, fetched_at=NOW)
    requests = simulated.listing()[: site.PAGE_SIZE]
    assert page.extraction == "fallback"
    assert [e.external_id for e in page.entries] == [r.request_id for r in requests]
    for entry, request in zip(page.entries, requests, strict=True):
        assert entry.title == request.title and entry.extraction == "fallback"
        assert entry.posted_at == _midnight(request.posted_at.date())  # p.date comes before p.date2 in a card
        assert entry.quantity_text == request.quantity_text


def test_truncated_challenge_and_sign_in_pages(simulated: site.MadeInChinaSite) -> None:
    html = _get(simulated, SPEC.list_url(SPEC.listings[0], 1))
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * faults.TRUNCATE_AT)], fetched_at=NOW)
    assert cut.value.kind == "truncated"
    entry = parse_list(html, fetched_at=NOW).entries[0]
    for page in (
        faults.cloudflare_challenge("/x").body.decode(),
        faults.awswaf_challenge("/x").body.decode(),
        faults.login_wall("made_in_china", "/x").body.decode(),
        _get(simulated, SPEC.site_url + "/suppliers.html"),  # the supplier account's sign-in (2026)
    ):
        with pytest.raises(PageParseError) as error:
            parse_list(page, fetched_at=NOW)
        assert error.value.kind == "challenge"
        with pytest.raises(PageParseError) as detail_error:
            parse_detail(page, entry)
        assert detail_error.value.kind == "challenge"


def test_spec_list_urls_and_detail_links() -> None:
    spec = replace(SPEC, base_url=SPEC.site_url)
    assert spec.list_url(spec.listings[0], 3) == (
        "https://sourcing.made-in-china.com/sourcingrequest?keyword=&excat=&region=&pdate=&sort=&page=3"
        "&way=inner&type=lastest"
    )
    assert replace(SPEC, base_url=BASE).list_url(keyword_listing("hair oil"), 2) == (
        f"{BASE}/sourcingrequest?keyword=hair+oil&sort=post_date_desc&page=2&type=keyword"
    )
    for url, request_id in (
        ("https://sourcing.made-in-china.com/request/inItVvTEJKoh/Request-for-Quotation.html", "inItVvTEJKoh"),
        ("https://sourcing.made-in-china.com/request/umgfILojYvbt/Prefab-House.html", "umgfILojYvbt"),
    ):
        match = re.search(DETAIL_REGEX, url)
        assert match is not None and match.group("id") == request_id
    assert SPEC.evidence == "second_hand" and SPEC.fixtures == () and SPEC.mail_domains == ("made-in-china.com",)
    assert any("supplier" in gap for gap in SPEC.known_gaps) and any("date format" in gap for gap in SPEC.known_gaps)


class _SiteFetcher:
    """GETs answered by the simulated site in process (no HTTP), for crawls in unit tests."""

    def __init__(self, simulated: site.MadeInChinaSite) -> None:
        self.simulated = simulated
        self.urls: list[str] = []

    def get(self, url: str) -> FetchResponse:
        self.urls.append(url)
        parts = urlsplit(url[len(BASE) :])
        reply = self.simulated.render(parts.path.lstrip("/"), parse_qs(parts.query), "normal", NOW)
        outcome = "ok" if reply.status == 200 else "http_error"
        return FetchResponse(url=url, outcome=outcome, status=reply.status, body=reply.body, fetched_at=NOW)


class _NoSink:
    def record(self, **_: object) -> None:
        return None


@pytest.mark.parametrize("back", [0, 10])
def test_a_crawl_of_a_day_finds_the_expected_requests_with_their_pages(
    simulated: site.MadeInChinaSite, back: int
) -> None:
    day = TODAY - timedelta(days=back)
    fetcher = _SiteFetcher(simulated)
    result = crawl_window(
        replace(SPEC, base_url=BASE), fetcher, _NoSink(), _midnight(day), _midnight(day + timedelta(days=1))
    )
    expected = simulated.expected(day)
    assert 5 <= len(expected) <= 10 and result.failures == []
    assert [found.rfq.external_id for found in result.found] == expected
    assert all(found.rfq.attributes.get("breadcrumb") for found in result.found)  # the request page was read
    assert result.stop_reasons[SPEC.listings[0]].startswith("passed the window start")


def test_the_site_is_deterministic_and_posts_today_before_now(simulated: site.MadeInChinaSite) -> None:
    again = site.MadeInChinaSite()
    again.build(TODAY, NOW)
    for back in range(41):
        day = TODAY - timedelta(days=back)
        assert again.expected(day) == simulated.expected(day)
        assert 5 <= len(simulated.expected(day)) <= 10
    assert simulated.expected(TODAY + timedelta(days=1)) == []
    assert max(r.posted_at for r in simulated.requests()) < NOW
    assert simulated.expected_total() == len(simulated.requests())
    missing = simulated.render("no/such/page.html", {}, "normal", NOW)
    assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>")
    assert "Disallow" not in simulated.robots_txt
    seed = [json.loads(line) for line in site.SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert {row["xpost"] for row in seed if "xpost" in row} == {"xp-bottles", "xp-serum"}
