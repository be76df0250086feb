"""Every simulated site, crawled over real HTTP on loopback with the production crawler and HTTP client.

The same promises for each: a recent and an older day hold exactly the ids the simulator shows for them, whatever
the listing's order; a truncated page is fetched once more and then recorded; a redesign is read by the fallback
extractor or recorded as drift; robots.txt allows the listings; unknown paths are complete 404 documents; the same
day always gives the same records, none posted after "now". (Through the Dagster assets, ``test_every_source.py``
covers storage, checks and faults.)
"""

from __future__ import annotations

import json
import urllib.robotparser
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import SimulatorHandle, start_simulator
from rfq_pipeline.devtools.simulator.site import SITE_MODULES
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient, RetryPolicy
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources import us_fda
from rfq_pipeline.sources.crawl import CrawlResult, crawl_window
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec

CRAWLED = tuple(sorted(name for name, spec in SOURCES.items() if spec.enabled and spec.listings))
CORPUS = Path(rfq_pipeline.devtools.__file__).parent / "corpus"
OLDER = 10  # days back


@dataclass
class Sink:
    """Records what the crawl hands over: (page kind, parse status, error) per fetch."""

    pages: list[tuple[str, str, str]] = field(default_factory=list)

    def record(self, *, page_kind: str, response: FetchResponse, parse_status: str, error: str | None) -> int:
        self.pages.append((page_kind, parse_status, error or ""))
        return len(self.pages)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    # The real clock: relative posting times ("3 hours ago", "Today") are read against the fetch time.
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
    return resolve(SOURCES[source], Settings.from_env({"RFQ_SIMULATOR_URL": sim.url}))


def _day_with_rows(sim: SimulatorHandle, source: str, back: int) -> date:
    for offset in range(back, back + 30):
        day = sim.today - timedelta(days=offset)
        if sim.expected(source, day):
            return day
    raise AssertionError(f"{source}: no rows in the 30 days from {back} days back")


def _crawl(sim: SimulatorHandle, client: HttpClient, source: str, day: date) -> tuple[CrawlResult, Sink]:
    sink = Sink()
    start = datetime.combine(day, time(0), UTC)
    return crawl_window(_spec(sim, source), client, sink, start, start + timedelta(days=1)), sink


@pytest.mark.parametrize("source", CRAWLED)
def test_a_recent_and_an_older_day_hold_exactly_the_expected_ids(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    spec = _spec(clean_sim, source)
    for day in (_day_with_rows(clean_sim, source, 0), _day_with_rows(clean_sim, source, OLDER)):
        expected = clean_sim.expected(source, day)
        result, _ = _crawl(clean_sim, client, source, day)
        assert result.failures == [] and result.unavailable is None, (source, day, result.failures)
        assert sorted(found.rfq.external_id for found in result.found) == sorted(expected), (source, day)
        for found in result.found:
            if found.rfq.posted_at is not None:
                assert found.rfq.posted_at.date() == day
            assert not found.rfq.canonical_url.startswith(clean_sim.url)  # the real site's URL, never ours
        assert set(result.pages_read) == set(spec.listings)
        if not spec.date_sorted:
            # A list in no date order is read to its end: no "passed the window start" shortcut.
            assert all(
                reason.startswith(("last page", "reached the page cap")) for reason in result.stop_reasons.values()
            )


@pytest.mark.parametrize("source", CRAWLED)
def test_a_truncated_page_is_fetched_again_then_recorded(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    day = _day_with_rows(clean_sim, source, 0)
    clean_sim.set_fault(source, "truncated", times=2)
    truncated, _ = _crawl(clean_sim, client, source, day)
    assert [f.reason for f in truncated.failures] == ["truncated", "truncated"]
    clean_sim.set_fault(source, "truncated", times=1)
    recovered, _ = _crawl(clean_sim, client, source, day)
    assert recovered.count("truncated") == 1
    assert sorted(f.rfq.external_id for f in recovered.found) == sorted(clean_sim.expected(source, day))


@pytest.mark.parametrize("source", CRAWLED)
def test_a_redesign_is_read_by_the_fallback_or_recorded_as_drift(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    day = _day_with_rows(clean_sim, source, 0)
    clean_sim.set_fault(source, "drift", times=1)
    result, sink = _crawl(clean_sim, client, source, day)
    first = sink.pages[0]
    assert first[0] == "list" and "layout_drift" in first[2]
    if SOURCES[source].detail_regex:
        assert first[1] == "ok" and len(result.fallback_pages) == 1 and not result.failures
        assert sorted(f.rfq.external_id for f in result.found) == sorted(clean_sim.expected(source, day))
    else:
        assert first[1] == "failed" and [f.reason for f in result.failures] == ["layout_drift"]


@pytest.mark.parametrize("source", CRAWLED)
def test_robots_allow_the_listings_and_unknown_paths_are_whole_404_pages(
    clean_sim: SimulatorHandle, client: HttpClient, source: str
) -> None:
    spec = _spec(clean_sim, source)
    robots = client.get(spec.base_url + "/robots.txt")
    assert robots.ok
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots.text.splitlines())
    if spec.respect_robots:  # an API (openFDA) publishes no policy for its paths and is not held to one
        for listing in spec.listings:
            assert parser.can_fetch("rfq-pipeline", spec.list_url(listing, 1)), (source, listing)
        disallowed = [line for line in robots.text.splitlines() if line.startswith("Disallow")]
        assert all(line.startswith(f"Disallow: /{source}/") for line in disallowed), disallowed
    missing = client.get(spec.base_url + "/no/such/page.html")
    assert missing.status == 404 and missing.text.rstrip().endswith(("</html>", "}"))


@pytest.mark.parametrize("source", sorted(SITE_MODULES))
def test_sites_are_deterministic_and_post_nothing_after_now(source: str) -> None:
    import importlib

    today, now = date(2026, 8, 27), datetime(2026, 8, 27, 9, 45, tzinfo=UTC)
    site_class = type(importlib.import_module(SITE_MODULES[source]).SITE)
    first, second = site_class(), site_class()
    first.build(today, now)
    second.build(today, now)
    days = [today - timedelta(days=back) for back in range(41)]
    assert [first.expected(day) for day in days] == [second.expected(day) for day in days]
    assert sum(len(first.expected(day)) for day in days) > 0
    if SOURCES[source].dated:  # an undated directory's companies belong to every day, tomorrow's too
        assert first.expected(today + timedelta(days=1)) == []


def test_cross_posts_are_one_buyer_on_two_sites() -> None:
    posts: dict[str, set[str]] = {}
    for seed in sorted(CORPUS.glob("*/*seed*.json*")):
        text = seed.read_text(encoding="utf-8")
        rows = json.loads(text) if seed.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line]
        for row in rows if isinstance(rows, list) else rows.get("rows", []):
            if isinstance(row, dict) and row.get("xpost"):
                posts.setdefault(row["xpost"], set()).add(seed.parent.name)
    assert posts and all(len(sites) == 2 for sites in posts.values()), posts


def test_openfda_empty_window_is_404_not_found_and_an_empty_crawl(
    clean_sim: SimulatorHandle, client: HttpClient
) -> None:
    spec = _spec(clean_sim, "us_fda")
    start = datetime.combine(clean_sim.today, time(0), UTC)
    response = client.get(spec.list_url(spec.listings[0], 1, start, start + timedelta(days=1)))
    assert response.status == 404 and response.outcome == "http_error"
    assert json.loads(response.text) == {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}
    assert us_fda.is_empty_result(response.status or 0, response.text)
    result, sink = _crawl(clean_sim, client, "us_fda", clean_sim.today)
    assert result.found == [] and result.failures == [] and sink.pages == [("list", "ok", "")]
