"""The marketplace simulator over real HTTP on loopback: paging, the per-day record sets, faults and determinism."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from rfq_pipeline.devtools.simulator import FAULT_KINDS, SimulatorHandle, start_simulator
from rfq_pipeline.fetch.challenge import detect_challenge
from rfq_pipeline.sources import alibaba_rfq, go4worldbusiness
from rfq_pipeline.sources.crawl import next_page_url
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq

NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)
ALIBABA_LIST = "/rfq/rfq_search_list.htm?country=AE&recently=Y&page={page}"
GO4W_LIST = "/buyers/food-flavors.html?region=worldwide&pg_buyers={page}"  # the paging block's form
GO4W_WATCHED = go4worldbusiness.SPEC.listings  # "/buyers/<keyword>.html": page 2 on is reached by the next link
PARSERS = {"alibaba_rfq": alibaba_rfq.parse_list, "go4worldbusiness": go4worldbusiness.parse_list}
LISTINGS = {"alibaba_rfq": ALIBABA_LIST, "go4worldbusiness": GO4W_LIST}


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _request(url: str, *, method: str = "GET", data: dict | None = None, timeout: float = 10.0) -> Response:
    payload = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=payload, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator(now=NOW) as handle:
        yield handle


@pytest.fixture()
def clean_sim(sim: SimulatorHandle) -> Iterator[SimulatorHandle]:
    sim.clear_faults()
    yield sim
    sim.clear_faults()


def _page(sim: SimulatorHandle, source: str, page: int = 1) -> Response:
    return _request(sim.base_url(source) + LISTINGS[source].format(page=page))


def _crawl(sim: SimulatorHandle, source: str, listing: str, fetched_at: datetime) -> tuple[list[ListPage], int]:
    pages: list[ListPage] = []
    number = 1
    while True:
        response = _request(sim.base_url(source) + listing.format(page=number))
        assert response.status == 200
        pages.append(PARSERS[source](response.text, fetched_at=fetched_at))
        if not pages[-1].has_next:
            return pages, number
        number += 1
        assert number <= 200, "pagination never ends"


def _follow(sim: SimulatorHandle, listing: str, fetched_at: datetime) -> list[ListPage]:
    """Every page of a go4WorldBusiness list, from its first page on by each page's next link (as the crawler goes)."""
    spec = replace(go4worldbusiness.SPEC, base_url=sim.base_url("go4worldbusiness"))
    url, pages = spec.list_url(listing, 1), []
    while True:
        response = _request(url)
        assert response.status == 200, url
        pages.append(go4worldbusiness.parse_list(response.text, fetched_at=fetched_at))
        if not pages[-1].has_next:
            return pages
        assert len(pages) < spec.max_pages, f"{listing} runs past the page cap"
        url = next_page_url(spec, listing, url, pages[-1], len(pages), fetched_at, fetched_at)


def test_alibaba_paging_reaches_the_end_and_each_day_matches_expected(clean_sim: SimulatorHandle) -> None:
    source = "alibaba_rfq"
    pages, last = _crawl(clean_sim, source, LISTINGS[source], clean_sim.now)
    entries = [entry for page in pages for entry in page.entries]
    assert pages[0].total_pages == last
    assert len(entries) == clean_sim.expected_total(source)
    assert len({e.external_id for e in entries}) == len(entries)
    assert clean_sim.expected(source, clean_sim.today), "today's partition must never be empty"
    days = {e.posted_at.date() for e in entries if e.posted_at is not None}
    assert len(days) >= 14
    for day in days:
        parsed = [e.external_id for e in entries if e.posted_at is not None and e.posted_at.date() == day]
        assert parsed == clean_sim.expected(source, day), day
    # Past the last page: a valid empty result, not layout drift.
    beyond = PARSERS[source](_page(clean_sim, source, last + 1).text, fetched_at=clean_sim.now)
    assert beyond.entries == [] and beyond.has_next is False


def test_go4w_watched_lists_read_to_their_end_give_each_day_expected(clean_sim: SimulatorHandle) -> None:
    # The lists run by relevance, not by date, and overlap: a crawl reads every watched list to its end.
    found: dict[str, ParsedRfq] = {}
    for listing in GO4W_WATCHED:
        pages = _follow(clean_sim, listing, clean_sim.now)
        assert pages[0].entries, listing
        if len(pages) > 1:
            assert pages[0].total_pages == len(pages)
        found.update((e.external_id, e) for page in pages for e in page.entries)
    assert len(found) == clean_sim.expected_total("go4worldbusiness")
    assert clean_sim.expected("go4worldbusiness", clean_sim.today), "today's partition must never be empty"
    days = {e.posted_at.date() for e in found.values() if e.posted_at is not None}
    assert len(days) >= 14
    for day in days:
        expected = clean_sim.expected("go4worldbusiness", day)
        assert {i for i, e in found.items() if e.posted_at and e.posted_at.date() == day} == set(expected), day
        assert len(expected) == len(set(expected))
    # Past the last page: a valid empty result, not layout drift.
    last = _follow(clean_sim, "/buyers/food-flavors.html", clean_sim.now)
    beyond = go4worldbusiness.parse_list(_page(clean_sim, "go4worldbusiness", len(last) + 1).text, fetched_at=NOW)
    assert beyond.entries == [] and beyond.has_next is False


def test_alibaba_records_look_like_the_board(clean_sim: SimulatorHandle) -> None:
    first = alibaba_rfq.parse_list(_page(clean_sim, "alibaba_rfq").text, fetched_at=NOW)
    assert len(first.entries) == 20 and first.total_pages == 100
    texts = {e.posted_text for e in first.entries}
    assert all(t == "Just now" or t.endswith(("minutes before", "hours before")) for t in texts)
    real = [e for e in first.entries if e.description]  # the saved page's requests keep their descriptions
    assert real and all(e.country_code == "AE" for e in first.entries)
    assert "1844538814" in clean_sim.expected("alibaba_rfq", NOW.date())
    # Rows from 29-06-2025 (14 days before the CSV's scrape) are 14 days old.
    oldest = alibaba_rfq.parse_list(_page(clean_sim, "alibaba_rfq", 100).text, fetched_at=NOW).entries[-1]
    assert oldest.posted_text == "14 days ago"
    assert oldest.posted_at is not None and oldest.posted_at.date() == NOW.date() - timedelta(days=14)


def test_other_country_is_an_empty_board(clean_sim: SimulatorHandle) -> None:
    url = clean_sim.base_url("alibaba_rfq") + "/rfq/rfq_search_list.htm?country=ZZ&recently=Y&page=1"
    page = alibaba_rfq.parse_list(_request(url).text, fetched_at=NOW)
    assert page.entries == [] and page.has_next is False


def test_go4w_reposted_lead_is_many_leads_with_one_text(clean_sim: SimulatorHandle) -> None:
    entries = [e for page in _follow(clean_sim, "/buyers/coconut-milk.html", NOW) for e in page.entries]
    reposts = [e for e in entries if e.buyer_name == "Contact-e0512b02"]
    assert len(reposts) == 20 and len({e.external_id for e in reposts}) == 20
    assert {e.title for e in reposts} == {"Coconut Milk"}
    assert {e.description for e in reposts} == {reposts[0].description}
    dates = {e.posted_at for e in reposts}
    assert len(dates) > 10 and max(dates) == datetime(2025, 7, 13, tzinfo=UTC)  # type: ignore[type-var]


def test_go4w_unknown_keyword_says_no_buyers_found(clean_sim: SimulatorHandle) -> None:
    for path in ("/buyers/quantum-widgets.html", "/buyers/Quantum-Widgets?region=worldwide&pg_buyers=1"):
        response = _request(clean_sim.base_url("go4worldbusiness") + path)
        assert response.status == 200 and "No buyers found" in response.text
        page = go4worldbusiness.parse_list(response.text, fetched_at=NOW)
        assert page.entries == [] and page.has_next is False


def test_go4w_lead_page_and_unknown_lead(clean_sim: SimulatorHandle) -> None:
    # The crawler reads leads from the lists; a lead's own page still answers, with the lead's card.
    entry = _follow(clean_sim, "/buyers/coconut-milk.html", NOW)[0].entries[0]
    response = _request(clean_sim.base_url("go4worldbusiness") + urlsplit(entry.canonical_url).path)
    assert response.status == 200
    [card] = go4worldbusiness.parse_list(response.text, fetched_at=NOW).entries
    assert card.external_id == entry.external_id and card.description == entry.description
    assert card.quantity_text == entry.quantity_text and card.attributes == entry.attributes
    missing = _request(clean_sim.base_url("go4worldbusiness") + "/buylead/view/999999999/wanted-:-nothing.html")
    assert missing.status == 404 and missing.text.rstrip().endswith("</html>")


def test_every_page_is_a_complete_document_with_a_date_header(clean_sim: SimulatorHandle) -> None:
    for source in ("alibaba_rfq", "go4worldbusiness"):
        response = _page(clean_sim, source)
        assert response.headers.get("date")
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.rstrip().endswith("</html>")
        assert detect_challenge(response.status, response.headers, response.text) is None


def test_robots_allows_listings_and_details_but_not_admin(clean_sim: SimulatorHandle) -> None:
    clean_sim.set_fault("go4worldbusiness", "500")  # robots.txt must not consume it
    for source, allowed, denied in (
        (
            "go4worldbusiness",
            [
                "/buyers/food-flavors.html?pg_buyers=2",
                "/find?searchText=peppermint-oil&BuyersOrSuppliers=buyers&pg_buyers=2",
                "/buylead/view/640170/x.html",
            ],
            "/admin/users",
        ),
        ("alibaba_rfq", [ALIBABA_LIST.format(page=3)], "/rfq/manage/list.htm"),
    ):
        response = _request(clean_sim.base_url(source) + "/robots.txt")
        assert response.status == 200
        robots = urllib.robotparser.RobotFileParser()
        robots.parse(response.text.splitlines())
        for path in allowed:
            assert robots.can_fetch("rfq-pipeline", clean_sim.base_url(source) + path), path
        assert not robots.can_fetch("rfq-pipeline", clean_sim.base_url(source) + denied)
    assert _page(clean_sim, "go4worldbusiness").status == 500


def test_rate_limit_and_server_errors(clean_sim: SimulatorHandle) -> None:
    clean_sim.set_fault("alibaba_rfq", "429", times=1, retry_after=7)
    limited = _page(clean_sim, "alibaba_rfq")
    assert limited.status == 429 and limited.headers["retry-after"] == "7"
    clean_sim.set_fault("go4worldbusiness", "500")
    assert _page(clean_sim, "go4worldbusiness").status == 500
    clean_sim.set_fault("go4worldbusiness", "503", retry_after=3)
    unavailable = _page(clean_sim, "go4worldbusiness")
    assert unavailable.status == 503 and unavailable.headers["retry-after"] == "3"
    assert _page(clean_sim, "go4worldbusiness").status == 200


def test_faults_apply_to_their_source_for_exactly_times_requests(clean_sim: SimulatorHandle) -> None:
    clean_sim.set_fault("alibaba_rfq", "500", times=2)
    assert _page(clean_sim, "go4worldbusiness").status == 200  # the other source is untouched
    assert [_page(clean_sim, "alibaba_rfq").status for _ in range(3)] == [500, 500, 200]
    clean_sim.set_fault("alibaba_rfq", "503", times=5)
    clean_sim.clear_faults()
    assert _page(clean_sim, "alibaba_rfq").status == 200


def test_timeout_fault_delays_the_answer(clean_sim: SimulatorHandle) -> None:
    clean_sim.set_fault("go4worldbusiness", "timeout", delay=1.0)
    url = clean_sim.base_url("go4worldbusiness") + GO4W_LIST.format(page=1)
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        _request(url, timeout=0.3)
    assert time.monotonic() - started < 0.9
    started = time.monotonic()
    assert _request(url).status == 200  # the fault was used up
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("kind", "status", "challenge"),
    [
        ("challenge_cloudflare", 403, "cloudflare"),
        ("challenge_awswaf", 202, "aws_waf"),
        ("captcha_alibaba", 200, "captcha"),
        ("login", 200, "login"),
    ],
)
@pytest.mark.parametrize("source", ["alibaba_rfq", "go4worldbusiness"])
def test_anti_bot_pages_are_detected(
    clean_sim: SimulatorHandle, source: str, kind: str, status: int, challenge: str
) -> None:
    clean_sim.set_fault(source, kind)
    response = _page(clean_sim, source)
    assert response.status == status
    assert response.headers.get("date")
    assert detect_challenge(response.status, response.headers, response.text) == challenge
    with pytest.raises(PageParseError) as error:
        PARSERS[source](response.text, fetched_at=NOW)
    assert error.value.kind == "challenge"
    if kind == "challenge_cloudflare":
        assert response.headers["cf-mitigated"] == "challenge" and "Just a moment..." in response.text
    if kind == "challenge_awswaf":
        assert "challenge.js" in response.text and "AwsWafIntegration" in response.text


@pytest.mark.parametrize("source", ["alibaba_rfq", "go4worldbusiness"])
@pytest.mark.parametrize(("kind", "error_kind"), [("truncated", "truncated"), ("drift", "layout_drift")])
def test_broken_pages_raise_the_right_parse_error(
    clean_sim: SimulatorHandle, source: str, kind: str, error_kind: str
) -> None:
    normal = _page(clean_sim, source)
    clean_sim.set_fault(source, kind)
    broken = _page(clean_sim, source)
    assert broken.status == 200
    assert detect_challenge(broken.status, broken.headers, broken.text) is None
    if kind == "truncated":
        assert len(broken.body) == int(len(normal.body) * 0.6)
        assert normal.body.startswith(broken.body)
    with pytest.raises(PageParseError) as error:
        PARSERS[source](broken.text, fetched_at=NOW)
    assert error.value.kind == error_kind


def test_go4w_lead_page_drift(clean_sim: SimulatorHandle) -> None:
    entry = go4worldbusiness.parse_list(_page(clean_sim, "go4worldbusiness").text, fetched_at=NOW).entries[3]
    clean_sim.set_fault("go4worldbusiness", "drift")
    response = _request(clean_sim.base_url("go4worldbusiness") + urlsplit(entry.canonical_url).path)
    assert response.status == 200
    with pytest.raises(PageParseError) as error:
        go4worldbusiness.parse_list(response.text, fetched_at=NOW)
    assert error.value.kind == "layout_drift"


def test_admin_endpoints_drive_faults_from_outside(clean_sim: SimulatorHandle) -> None:
    admin = clean_sim.url + "/_sim"
    health = json.loads(_request(admin + "/health").body)
    assert health["status"] == "ok" and health["today"] == "2025-07-13"
    armed = _request(admin + "/faults", method="POST", data={"source": "alibaba_rfq", "kind": "503", "times": 2})
    assert armed.status == 201
    assert _request(admin + "/faults", method="POST", data={"source": "alibaba_rfq", "kind": "meteor"}).status == 400
    assert _request(admin + "/faults", method="POST", data={"source": "ebay", "kind": "500"}).status == 400
    before = json.loads(_request(admin + "/stats").body)["requests"].get("alibaba_rfq", 0)
    assert _page(clean_sim, "alibaba_rfq").status == 503
    assert _request(admin + "/faults", method="DELETE").status == 200
    assert _page(clean_sim, "alibaba_rfq").status == 200
    stats = json.loads(_request(admin + "/stats").body)
    assert stats["requests"]["alibaba_rfq"] == before + 2 and stats["faults_pending"] == []
    expected = json.loads(_request(admin + "/expected?source=go4worldbusiness&day=2025-07-13").body)
    assert expected["ids"] == clean_sim.expected("go4worldbusiness", date(2025, 7, 13))


def test_request_log_records_each_answer(clean_sim: SimulatorHandle) -> None:
    before = len(clean_sim.request_log)
    clean_sim.set_fault("go4worldbusiness", "429")
    _page(clean_sim, "go4worldbusiness", 2)
    _page(clean_sim, "go4worldbusiness", 2)
    log = clean_sim.request_log[before:]
    assert [(source, status) for source, _, status, _ in log] == [("go4worldbusiness", 429), ("go4worldbusiness", 200)]
    assert log[0].path == "/go4worldbusiness" + GO4W_LIST.format(page=2)
    assert log[0].timestamp.tzinfo is not None


def test_invalid_faults_are_refused(sim: SimulatorHandle) -> None:
    with pytest.raises(ValueError):
        sim.set_fault("alibaba_rfq", "earthquake")
    with pytest.raises(ValueError):
        sim.set_fault("no_such_marketplace", "500")
    with pytest.raises(ValueError):
        sim.set_fault("alibaba_rfq", "500", times=0)
    assert set(FAULT_KINDS) >= {"429", "500", "503", "timeout", "truncated", "drift", "login"}


def test_same_day_same_records_across_instances() -> None:
    morning = datetime(2025, 7, 13, 9, 0, tzinfo=UTC)
    evening = datetime(2025, 7, 13, 21, 45, tzinfo=UTC)
    with start_simulator(now=morning) as first, start_simulator(today=date(2025, 7, 13), now=evening) as second:
        for source in ("alibaba_rfq", "go4worldbusiness"):
            assert first.expected_total(source) == second.expected_total(source)
            for back in range(0, 20):
                day = date(2025, 7, 13) - timedelta(days=back)
                assert first.expected(source, day) == second.expected(source, day), (source, day)
            ids_first = [
                e.external_id for e in PARSERS[source](_page(first, source, 3).text, fetched_at=morning).entries
            ]
            ids_second = [
                e.external_id for e in PARSERS[source](_page(second, source, 3).text, fetched_at=evening).entries
            ]
            assert ids_first == ids_second
    with start_simulator(now=datetime(2025, 7, 14, 9, 0, tzinfo=UTC)) as next_day:
        # A day later the same CSV rows are a day younger: yesterday's set moved to today.
        assert next_day.expected("alibaba_rfq", date(2025, 7, 14)) != []
        assert set(next_day.expected("alibaba_rfq", date(2025, 7, 13))) == set(
            first.state.expected("alibaba_rfq", date(2025, 7, 12))
        )


def test_default_day_is_today_and_parses_with_the_real_clock() -> None:
    with start_simulator() as handle:
        today = datetime.now(UTC).date()
        assert handle.today == today and handle.url.startswith("http://127.0.0.1:")
        expected_today = handle.expected("alibaba_rfq", today)
        assert expected_today
        entries = alibaba_rfq.parse_list(_page(handle, "alibaba_rfq").text, fetched_at=datetime.now(UTC)).entries
        todays = [e.external_id for e in entries if e.posted_at is not None and e.posted_at.date() == today]
        assert todays == expected_today[: len(todays)] and todays
        # go4WorldBusiness lists are not by date: today's leads are wherever relevance puts them on the lists.
        expected_today = handle.expected("go4worldbusiness", today)
        assert expected_today
        found = {
            e.external_id
            for listing in GO4W_WATCHED
            for page in _follow(handle, listing, datetime.now(UTC))
            for e in page.entries
            if e.posted_at is not None and e.posted_at.date() == today
        }
        assert found == set(expected_today)
