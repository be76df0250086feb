import threading
import time

import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.db.repository import upsert_source
from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient, RetryPolicy
from rfq_pipeline.fetch.polite import PoliteFetcher, SourceUnavailable, counts_against_breaker
from rfq_pipeline.fetch.robots import RobotsPolicy, robots_url_for

SOURCE = "go4worldbusiness"


@pytest.fixture()
def db(clean_db: str):
    with Database(clean_db, max_size=12) as database:
        with database.connection() as conn:
            upsert_source(conn, name=SOURCE, kind="marketplace", base_url="x", cadence="0 * * * *", enabled=True)
        yield database


def test_opens_after_five_failures_and_recovers_after_the_cooldown(db: Database) -> None:
    breaker = CircuitBreaker(db, SOURCE, threshold=5, cooldown_s=1.0)
    for i in range(4):
        assert breaker.admit().allowed
        assert breaker.record_failure(f"HTTP 503 #{i}") == "closed"
    assert breaker.record_failure("HTTP 503 #5") == "open"
    refused = breaker.admit()
    assert not refused.allowed and "open until" in (refused.reason or "") and "HTTP 503 #5" in (refused.reason or "")
    time.sleep(1.05)
    probe = breaker.admit()
    assert probe.allowed and probe.probe
    assert not breaker.admit().allowed  # one probe only while it is in flight
    breaker.record_success()
    status = breaker.status()
    assert (status.state, status.consecutive_failures, status.opened_count) == ("closed", 0, 1)
    assert breaker.admit().allowed


def test_a_failed_probe_reopens(db: Database) -> None:
    breaker = CircuitBreaker(db, SOURCE, threshold=2, cooldown_s=0.5)
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    time.sleep(0.55)
    assert breaker.admit().probe
    assert breaker.record_failure("timeout again") == "open"
    assert not breaker.admit().allowed
    assert breaker.status().opened_count == 2


def test_a_success_resets_the_count(db: Database) -> None:
    breaker = CircuitBreaker(db, SOURCE, threshold=3)
    breaker.record_failure("x")
    breaker.record_failure("x")
    breaker.record_success()
    breaker.record_failure("x")
    breaker.record_failure("x")
    assert breaker.status().state == "closed"


def test_concurrent_callers_get_exactly_one_probe(db: Database) -> None:
    breaker = CircuitBreaker(db, SOURCE, threshold=1, cooldown_s=0.3)
    breaker.record_failure("down")
    time.sleep(0.35)
    admissions = []
    threads = [threading.Thread(target=lambda: admissions.append(breaker.admit())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a.probe for a in admissions) == 1


def test_reset_by_hand(db: Database) -> None:
    breaker = CircuitBreaker(db, SOURCE, threshold=1)
    breaker.record_failure("down")
    breaker.reset()
    assert breaker.admit().allowed


def test_polite_fetcher_opens_the_breaker_on_a_5xx_burst(db: Database, simulator) -> None:
    simulator.clear_faults()
    simulator.set_fault(SOURCE, "503", times=40, retry_after=0)
    client = HttpClient(policy=RetryPolicy(timeouts_s=(5.0,), backoff_s=(0.01,)))
    fetcher = PoliteFetcher(
        SOURCE,
        simulator.base_url(SOURCE),
        client,
        limiter=None,
        breaker=CircuitBreaker(db, SOURCE, threshold=5, cooldown_s=60),
        respect_robots=True,
    )
    url = simulator.base_url(SOURCE) + "/buyers/food-flavors.html"
    for _ in range(5):
        assert fetcher.get(url).status == 503
    before = len(simulator.request_log)
    with pytest.raises(SourceUnavailable, match="circuit breaker open"):
        fetcher.get(url)
    assert len(simulator.request_log) == before  # nothing was sent
    simulator.clear_faults()


def test_robots_txt_is_honoured(db: Database, simulator) -> None:
    simulator.clear_faults()
    fetcher = PoliteFetcher(
        SOURCE, simulator.base_url(SOURCE), HttpClient(), limiter=None, breaker=None, respect_robots=True
    )
    blocked = fetcher.get(simulator.base_url(SOURCE) + "/admin/export")
    assert blocked.outcome == "robots_disallowed" and blocked.status is None
    assert fetcher.get(simulator.base_url(SOURCE) + "/buyers/food-flavors.html").ok
    assert fetcher.stats.robots_blocked == 1
    # robots.txt was fetched once for both requests
    assert sum(1 for e in simulator.request_log if e.path.endswith("/robots.txt")) >= 1


@pytest.mark.parametrize(
    ("status", "outcome", "allowed"),
    [(404, "http_error", True), (410, "http_error", True), (503, "http_error", False), (None, "timeout", False)],
)
def test_unreadable_robots_policy(status: int | None, outcome: str, allowed: bool) -> None:
    policy = RobotsPolicy.from_response(FetchResponse(url="http://x/robots.txt", outcome=outcome, status=status))  # type: ignore[arg-type]
    assert policy.allows("http://x/anything") is allowed


def test_robots_url_for_prefixed_and_root_sites() -> None:
    assert robots_url_for("https://www.go4worldbusiness.com") == "https://www.go4worldbusiness.com/robots.txt"
    assert robots_url_for("http://127.0.0.1:8765/tradekey") == "http://127.0.0.1:8765/tradekey/robots.txt"


@pytest.mark.parametrize(
    ("outcome", "status", "counts"),
    [
        ("timeout", None, True),
        ("challenge", 403, True),
        ("http_error", 503, True),
        ("http_error", 429, True),
        ("http_error", 404, False),
        ("ok", 200, False),
        ("robots_disallowed", None, False),
    ],
)
def test_what_counts_against_the_breaker(outcome: str, status: int | None, counts: bool) -> None:
    assert counts_against_breaker(FetchResponse(url="u", outcome=outcome, status=status)) is counts  # type: ignore[arg-type]
