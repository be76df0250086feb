"""TradeKey, EC21, Made-in-China and TradeIndia in the simulator, crawled over real HTTP on loopback.

Each source's registered spec is resolved against the simulator and crawled with the production crawler and HTTP
client: today's and an older day's partitions must hold exactly the ids the simulator shows for them, and layout
drift and truncation must surface as the right parse failures.
"""

from __future__ import annotations

import json
import time
import urllib.robotparser
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import SimulatorHandle, start_simulator
from rfq_pipeline.devtools.simulator.sites import ec21, made_in_china, tradeindia, tradekey
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.crawl import CrawlResult, crawl_window
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec

SOURCE_NAMES = ("tradekey", "ec21", "made_in_china", "tradeindia")
SITE_CLASSES: dict[str, Any] = {
    "tradekey": tradekey.TradeKeySite,
    "ec21": ec21.Ec21Site,
    "made_in_china": made_in_china.MadeInChinaSite,
    "tradeindia": tradeindia.TradeIndiaSite,
}
CORPUS = Path(rfq_pipeline.devtools.__file__).parent / "corpus"
OLDER_DAY = 10


class RecordingSink:
    """Counts the pages the crawler hands over, by kind and parse status."""

    def __init__(self) -> None:
        self.pages: list[tuple[str, str, str]] = []

    def record(self, *, page_kind: str, response: FetchResponse, parse_status: str, error: str | None) -> int | None:
        self.pages.append((page_kind, parse_status, response.url))
        return len(self.pages)

    def count(self, page_kind: str, parse_status: str = "ok") -> int:
        return sum(1 for kind, status, _ in self.pages if kind == page_kind and status == parse_status)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    # Relative posting times are read against the real clock: keep the simulated day and the crawl on one UTC day.
    now = datetime.now(UTC)
    to_midnight = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC) - now).total_seconds()
    if to_midnight < 60:
        time.sleep(to_midnight + 1)
    with start_simulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def client() -> Iterator[HttpClient]:
    http = HttpClient()
    yield http
    http.close()


@pytest.fixture()
def clean_sim(sim: SimulatorHandle) -> Iterator[SimulatorHandle]:
    sim.clear_faults()
    yield sim
    sim.clear_faults()


def _spec(sim: SimulatorHandle, name: str) -> SourceSpec:
    return resolve(SOURCES[name], Settings.from_env({"RFQ_SIMULATOR_URL": sim.url}))


def _crawl(sim: SimulatorHandle, client: HttpClient, name: str, day: date) -> tuple[CrawlResult, RecordingSink]:
    start = datetime.combine(day, datetime.min.time(), UTC)
    sink = RecordingSink()
    return crawl_window(_spec(sim, name), client, sink, start, start + timedelta(days=1)), sink


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_crawl_finds_exactly_todays_records(clean_sim: SimulatorHandle, client: HttpClient, name: str) -> None:
    expected = clean_sim.expected(name, clean_sim.today)
    assert expected, f"{name} shows nothing today"
    result, sink = _crawl(clean_sim, client, name, clean_sim.today)
    assert result.failures == []
    found = [found.rfq.external_id for found in result.found]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found))
    assert all(
        found.rfq.posted_at is not None and found.rfq.posted_at.date() == clean_sim.today for found in result.found
    )
    assert all(not found.rfq.canonical_url.startswith(clean_sim.url) for found in result.found)
    if _spec(clean_sim, name).parse_detail is not None:
        assert sink.count("detail") == len(expected)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_crawl_of_an_older_day_pages_deeper(clean_sim: SimulatorHandle, client: HttpClient, name: str) -> None:
    day = clean_sim.today - timedelta(days=OLDER_DAY)
    expected = clean_sim.expected(name, day)
    assert expected
    result, sink = _crawl(clean_sim, client, name, day)
    assert result.failures == []
    assert sorted(found.rfq.external_id for found in result.found) == sorted(expected)
    spec = _spec(clean_sim, name)
    # At least one listing needed a second page: the day is not on the first page.
    assert sink.count("list") > len(spec.listings)
    assert any(not reason.endswith("on page 1") for reason in result.stop_reasons.values())


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_drift_is_a_layout_drift_failure(clean_sim: SimulatorHandle, client: HttpClient, name: str) -> None:
    clean_sim.set_fault(name, "drift")
    result, sink = _crawl(clean_sim, client, name, clean_sim.today)
    assert [(f.page_kind, f.reason) for f in result.failures] == [("list", "layout_drift")]
    assert sink.count("list", "failed") == 1


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_truncation_is_a_truncated_failure(clean_sim: SimulatorHandle, client: HttpClient, name: str) -> None:
    clean_sim.set_fault(name, "truncated", times=2)  # the crawler fetches a cut-off page once more
    result, _ = _crawl(clean_sim, client, name, clean_sim.today)
    assert [(f.page_kind, f.reason) for f in result.failures] == [("list", "truncated"), ("list", "truncated")]


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_robots_and_unknown_paths(clean_sim: SimulatorHandle, client: HttpClient, name: str) -> None:
    spec = _spec(clean_sim, name)
    robots = client.get(spec.base_url + "/robots.txt")
    assert robots.ok
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots.text.splitlines())
    assert parser.can_fetch("*", spec.list_url(spec.listings[0], 2))
    assert all(line.startswith(f"Disallow: /{name}/") for line in robots.text.splitlines() if "Disallow" in line)
    missing = client.get(spec.base_url + "/no/such/page.html")
    assert missing.status == 404 and missing.text.rstrip().endswith("</html>")


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_sites_are_deterministic_and_post_today_before_now(name: str) -> None:
    today, now = date(2025, 7, 13), datetime(2025, 7, 13, 9, 45, tzinfo=UTC)
    first, second = SITE_CLASSES[name](), SITE_CLASSES[name]()
    first.build(today, now)
    second.build(today, now)
    for back in range(41):
        day = today - timedelta(days=back)
        ids = first.expected(day)
        assert ids == second.expected(day)
        assert 5 <= len(ids) <= 20, (name, day)
    assert first.expected(today + timedelta(days=1)) == []
    page = first.render("no/such/page", {}, "normal", now)
    assert page.status == 404


def test_todays_records_are_posted_before_now() -> None:
    today, now = date(2025, 7, 13), datetime(2025, 7, 13, 0, 5, tzinfo=UTC)
    for site_class, records in (
        (ec21.Ec21Site, "leads"),
        (made_in_china.MadeInChinaSite, "requests"),
        (tradeindia.TradeIndiaSite, "requirements"),
    ):
        simulated = site_class()
        simulated.build(today, now)
        posted = [record.posted_at for record in getattr(simulated, records)()]
        assert max(posted) < now and max(posted).date() == today


def test_cross_posts_are_one_buyer_on_two_sites() -> None:
    buyers: dict[str, list[tuple[str, str]]] = {}
    for name, file, buyer_field in (
        ("ec21", "buy_leads_seed.jsonl", "company"),
        ("made_in_china", "sourcing_requests_seed.jsonl", "company"),
        ("tradeindia", "buy_requirements_seed.jsonl", "buyer"),
    ):
        for line in (CORPUS / name / file).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "xpost" in row:
                buyers.setdefault(row["xpost"], []).append((name, row[buyer_field]))
    assert set(buyers) == {"xp-serum", "xp-barber", "xp-bottles"}
    for posts in buyers.values():
        assert len({site for site, _ in posts}) == 2 and len({buyer for _, buyer in posts}) == 1
