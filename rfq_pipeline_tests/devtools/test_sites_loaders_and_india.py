"""ExportersIndia, Global Sources, openFDA and the Japanese directory over real HTTP on loopback through the crawl."""

from __future__ import annotations

import json
import urllib.robotparser
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest

from rfq_pipeline.devtools.simulator import SimulatorHandle, start_simulator
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient, RetryPolicy
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources import bizmaps, exportersindia, globalsources, us_fda
from rfq_pipeline.sources.crawl import CrawlResult, crawl_window
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.registry import resolve
from rfq_pipeline.sources.spec import SourceSpec

MODULES = {"exportersindia": exportersindia, "globalsources": globalsources, "us_fda": us_fda, "bizmaps": bizmaps}
SOURCES = tuple(MODULES)
WITH_DETAILS = ("exportersindia", "globalsources")
OLDER = 10  # days back: deep enough that every paged listing needs more than its first page


@dataclass
class Sink:
    """Records what the crawl hands over: (page kind, parse status, HTTP status) per fetch."""

    pages: list[tuple[str, str, int | None]] = field(default_factory=list)

    def record(self, *, page_kind: str, response: FetchResponse, parse_status: str, error: str | None) -> int:
        self.pages.append((page_kind, parse_status, response.status))
        return len(self.pages)

    def count(self, page_kind: str) -> int:
        return sum(1 for kind, _, _ in self.pages if kind == page_kind)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    # The real clock: ExportersIndia's "Today"/"Yesterday" are read against the fetch time.
    with start_simulator() as handle:
        yield handle


@pytest.fixture()
def clean_sim(sim: SimulatorHandle) -> Iterator[SimulatorHandle]:
    sim.clear_faults()
    yield sim
    sim.clear_faults()


@pytest.fixture(scope="module")
def client() -> Iterator[HttpClient]:
    http = HttpClient(policy=RetryPolicy(timeouts_s=(10.0,), backoff_s=(0.05,)))
    yield http
    http.close()


def _spec(sim: SimulatorHandle, source: str) -> SourceSpec:
    return resolve(MODULES[source].SPEC, Settings.from_env({"RFQ_SIMULATOR_URL": sim.url}))


def _recent_day(sim: SimulatorHandle, source: str) -> date:
    """Today, or for openFDA (whose export lags) the newest day with products."""
    return next(
        sim.today - timedelta(days=back) for back in range(5) if sim.expected(source, sim.today - timedelta(days=back))
    )


def _crawl(sim: SimulatorHandle, client: HttpClient, source: str, day: date) -> tuple[CrawlResult, Sink]:
    sink = Sink()
    start = datetime.combine(day, time(0), UTC)
    return crawl_window(_spec(sim, source), client, sink, start, start + timedelta(days=1)), sink


def test_every_source_has_records_today_or_on_its_newest_day(clean_sim: SimulatorHandle) -> None:
    for source in SOURCES:
        assert clean_sim.expected(source, _recent_day(clean_sim, source)), source
        if source != "us_fda":
            assert clean_sim.expected(source, clean_sim.today), source
    assert clean_sim.expected("us_fda", clean_sim.today) == []  # openFDA's export is a day behind


@pytest.mark.parametrize("source", SOURCES)
def test_crawl_of_a_recent_and_an_older_day_finds_exactly_the_expected_ids(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    for day in (_recent_day(clean_sim, source), clean_sim.today - timedelta(days=OLDER)):
        expected = clean_sim.expected(source, day)
        assert expected, (source, day)
        result, sink = _crawl(clean_sim, client, source, day)
        assert result.failures == [] and result.unavailable is None, (source, day, result.failures)
        assert sorted(found.rfq.external_id for found in result.found) == sorted(expected), (source, day)
        for found in result.found:
            assert found.rfq.posted_at is not None and found.rfq.posted_at.date() == day
            assert not found.rfq.canonical_url.startswith(clean_sim.url)  # the real site's URL, never ours
            assert found.raw_page_id is not None
        if source in WITH_DETAILS:
            assert sink.count("detail") == len(expected)
            assert all(found.rfq.description and found.rfq.attributes for found in result.found)
        if day != clean_sim.today - timedelta(days=OLDER):
            continue
        listings = len(_spec(clean_sim, source).listings)
        if source == "us_fda":
            assert sink.count("list") == 1  # the date-range query does the filtering
        else:
            assert sink.count("list") > listings, (source, result.stop_reasons)
            assert all(reason.startswith("passed the window start") for reason in result.stop_reasons.values())


@pytest.mark.parametrize("source", SOURCES)
def test_drift_and_truncation_are_recorded_as_parse_failures(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    day = _recent_day(clean_sim, source)
    clean_sim.set_fault(source, "drift")
    drifted, sink = _crawl(clean_sim, client, source, day)
    assert [f.reason for f in drifted.failures] == ["layout_drift"]
    assert drifted.failures[0].page_kind == "list" and sink.pages[0][1] == "failed"
    # A truncated page is fetched once more; truncated twice, it is recorded as such.
    clean_sim.set_fault(source, "truncated", times=2)
    truncated, _ = _crawl(clean_sim, client, source, day)
    assert [f.reason for f in truncated.failures] == ["truncated", "truncated"]
    clean_sim.set_fault(source, "truncated", times=1)
    recovered, _ = _crawl(clean_sim, client, source, day)
    assert recovered.count("truncated") == 1
    assert sorted(f.rfq.external_id for f in recovered.found) == sorted(clean_sim.expected(source, day))


@pytest.mark.parametrize("source", WITH_DETAILS)
def test_detail_page_drift_keeps_the_listing_entry(clean_sim: SimulatorHandle, client: HttpClient, source: str) -> None:
    spec = _spec(clean_sim, source)
    list_page = client.get(spec.list_url(spec.listings[0], 1))
    entry = MODULES[source].parse_list(list_page.text, fetched_at=list_page.fetched_at).entries[0]
    clean_sim.set_fault(source, "drift")
    detail = client.get(spec.absolute(entry.detail_path))
    assert detail.status == 200 and detail.text.rstrip().endswith("</html>")
    with pytest.raises(PageParseError) as error:
        MODULES[source].parse_detail(detail.text, entry)
    assert error.value.kind == "layout_drift"


def test_openfda_empty_window_is_404_not_found_and_an_empty_crawl(
    clean_sim: SimulatorHandle, client: HttpClient
) -> None:
    spec = _spec(clean_sim, "us_fda")
    start = datetime.combine(clean_sim.today, time(0), UTC)
    response = client.get(spec.list_url(spec.listings[0], 1, start, start + timedelta(days=1)))
    assert response.status == 404 and response.outcome == "http_error"
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text) == {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}
    assert us_fda.is_empty_result(response.status or 0, response.text)
    result, sink = _crawl(clean_sim, client, "us_fda", clean_sim.today)
    assert result.found == [] and result.failures == []
    assert sink.pages == [("list", "ok", 404)]
    wrong = client.get(spec.base_url + "/drug/label.jsn")
    assert wrong.status == 404 and not us_fda.is_empty_result(404, wrong.text)


def test_robots_allow_listings_and_details_but_not_accounts(clean_sim: SimulatorHandle, client: HttpClient) -> None:
    cases = {
        "exportersindia": (["/buy-leads/?page=3", "/buy-lead-details/3000001/rose-water.htm"], "/my-account/"),
        "globalsources": (["/sourcing-requests/?pageNum=2", "/rfq/Bath-Bombs-1200000001r.htm"], "/rfq/quote?rfqId=1"),
        "bizmaps": (["/s/industries/beauty-salon/?sort=update&page=2"], "/mypage/"),
    }
    for source, (allowed, denied) in cases.items():
        base = clean_sim.base_url(source)
        robots = urllib.robotparser.RobotFileParser()
        robots.parse(client.get(base + "/robots.txt").text.splitlines())
        for path in allowed:
            assert robots.can_fetch("rfq-pipeline", base + path), (source, path)
        assert not robots.can_fetch("rfq-pipeline", base + denied), source


def test_pages_are_complete_utf8_documents(clean_sim: SimulatorHandle, client: HttpClient) -> None:
    for source in ("exportersindia", "globalsources", "bizmaps"):
        spec = _spec(clean_sim, source)
        response = client.get(spec.list_url(spec.listings[0], 1))
        assert response.ok and response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.text.rstrip().endswith("</html>")
        missing = client.get(spec.base_url + "/no/such/page.htm")
        assert missing.status == 404 and missing.text.rstrip().endswith("</html>")
    japanese = client.get(_spec(clean_sim, "bizmaps").list_url(bizmaps.SPEC.listings[0], 1))
    assert "の企業一覧" in japanese.text and "更新日" in japanese.text
