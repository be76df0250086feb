"""The shared rate limit: "20 requests at once, 10 per window, none lost, none early", in one process and in two."""

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime

import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.db.repository import upsert_source
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy
from rfq_pipeline.fetch.rate_limit import RateLimit, SharedRateLimiter

WINDOW = 2.0
SOURCE = "alibaba_rfq"


@pytest.fixture()
def db(clean_db: str):
    with Database(clean_db, max_size=24) as database:
        with database.connection() as conn:
            upsert_source(conn, name=SOURCE, kind="marketplace", base_url="x", cadence="0 * * * *", enabled=True)
        yield database


def _fire(db: Database, url: str, n: int, results: list[int]) -> None:
    limiter = SharedRateLimiter(db, SOURCE, RateLimit(capacity=10, window_s=WINDOW))
    client = HttpClient(policy=RetryPolicy(timeouts_s=(10.0,)))

    def one(i: int) -> None:
        # A distinct URL per request, so a retry under load is told apart from another request.
        results.append(client.get(f"{url}&req={i}", before_attempt=limiter.acquire).status or 0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _served_after(simulator, since: datetime, marker: str) -> list[float]:
    """When each distinct request (first attempt) reached the marketplace, in seconds after ``since``."""
    first: dict[str, float] = {}
    for entry in simulator.request_log:
        if entry.source == SOURCE and entry.timestamp >= since and marker in entry.path:
            first.setdefault(entry.path, (entry.timestamp - since).total_seconds())
    return sorted(first.values())


def _assert_two_windows(offsets: list[float]) -> None:
    assert len(offsets) == 20, "a request was lost"
    first = [o for o in offsets if o < WINDOW]
    assert len(first) == 10, offsets  # never more than the limit in the first window
    assert all(WINDOW <= o < 2 * WINDOW for o in offsets[10:]), offsets  # none early, and all served


def test_twenty_at_once_ten_per_window(db: Database, simulator) -> None:
    simulator.clear_faults()
    url = simulator.base_url(SOURCE) + "/rfq/rfq_search_list.htm?country=AE&recently=Y&page=1"
    results: list[int] = []
    since = datetime.now(UTC)
    _fire(db, url, 20, results)
    assert results == [200] * 20
    _assert_two_windows(_served_after(simulator, since, "page=1&"))


_CHILD = textwrap.dedent(
    """
    import sys
    from rfq_pipeline.db.database import Database
    from rfq_pipeline_tests.fetch.test_rate_limit import _fire
    results = []
    with Database(sys.argv[1], max_size=12) as db:
        _fire(db, sys.argv[2], 10, results)
    print(",".join(map(str, results)))
    """
)


def test_two_processes_share_the_bucket(db: Database, simulator, clean_db: str) -> None:
    simulator.clear_faults()
    url = simulator.base_url(SOURCE) + "/rfq/rfq_search_list.htm?country=AE&recently=Y&page=2"
    since = datetime.now(UTC)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, clean_db, url + "&proc=child"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(_repo_root()),
    )
    results: list[int] = []
    _fire(db, url + "&proc=parent", 10, results)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    assert results + [int(x) for x in out.strip().split(",")] == [200] * 20
    _assert_two_windows(_served_after(simulator, since, "page=2&"))


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_a_429_pauses_and_slows_the_bucket(db: Database) -> None:
    limiter = SharedRateLimiter(db, SOURCE, RateLimit(capacity=2, window_s=1.0))
    assert limiter.reserve() == 0.0
    limiter.slow_down(3.0)
    wait = limiter.reserve()
    assert 2.5 < wait <= 3.05  # nothing before Retry-After
    # The window is doubled while slowed: the third slot is two (not one) windows after the first.
    third = limiter.reserve()
    assert third >= wait - 0.05
    fourth = limiter.reserve()
    assert fourth - wait >= 1.9


def test_limits_from_a_spec() -> None:
    limit = RateLimit.per_minute(12.0, 3)
    assert (limit.capacity, limit.window_s) == (3, 15.0)
    with pytest.raises(ValueError):
        RateLimit.per_minute(0, 3)


def test_waits_are_measured_not_just_reserved(db: Database) -> None:
    sleeps: list[float] = []
    limiter = SharedRateLimiter(db, SOURCE, RateLimit(capacity=1, window_s=0.5), sleep=sleeps.append)
    started = time.perf_counter()
    for _ in range(3):
        limiter.acquire()
    assert time.perf_counter() - started < 0.5  # the fake sleep did not sleep
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0.3
    assert limiter.waited_s == pytest.approx(sum(sleeps))
